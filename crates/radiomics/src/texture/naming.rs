//! Naming of texture features: IBSI tag, IBSI code and PyRadiomics counterpart.

use super::aggregation::Aggregated;
use crate::{Family, Feature};

/// Static description of one feature of a family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeatureDef {
    /// Middle part of the IBSI tag, e.g. `joint_max` in `cm_joint_max_3D_avg`.
    pub stem: &'static str,
    /// IBSI 4-character identifier.
    pub code: &'static str,
    /// PyRadiomics feature name (without class prefix) where the definitions coincide.
    pub pyradiomics: Option<&'static str>,
}

/// Shorthand constructor for the feature tables.
pub(crate) const fn def(
    stem: &'static str,
    code: &'static str,
    pyradiomics: Option<&'static str>,
) -> FeatureDef {
    FeatureDef {
        stem,
        code,
        pyradiomics,
    }
}

/// How a family names its features.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FamilySpec {
    /// IBSI tag prefix, e.g. `cm`.
    pub prefix: &'static str,
    pub family: Family,
    pub defs: &'static [FeatureDef],
    /// PyRadiomics class prefix (`glcm`), and the tag suffix of the one aggregation whose
    /// definition PyRadiomics computes (`3D_avg` for GLCM/GLRLM, `3D` otherwise).
    pub pyradiomics_class: &'static str,
    pub pyradiomics_suffix: &'static str,
    /// Why every value is NaN when all matrices are empty.
    pub empty_note: &'static str,
}

/// Turns aggregated values into named features.
pub(crate) fn emit(spec: &FamilySpec, suffix: &str, agg: &Aggregated) -> Vec<Feature> {
    spec.defs
        .iter()
        .zip(agg.values.iter().chain(std::iter::repeat(&f64::NAN)))
        .map(|(d, &value)| {
            let note = if value.is_nan() {
                Some(if agg.all_empty {
                    spec.empty_note.to_string()
                } else {
                    "undefined for this ROI: a denominator is zero (e.g. a single grey level or \
                     zero variance)"
                        .to_string()
                })
            } else {
                None
            };
            let pyradiomics_name = if suffix == spec.pyradiomics_suffix {
                d.pyradiomics
                    .map(|n| format!("{}_{}", spec.pyradiomics_class, n))
            } else {
                None
            };
            Feature {
                name: format!("{}_{}_{}", spec.prefix, d.stem, suffix),
                ibsi_code: d.code.to_string(),
                pyradiomics_name,
                family: spec.family,
                value,
                note,
            }
        })
        .collect()
}
