//! The public entry point: image + mask + settings → every feature family.

use oncolens_core::{LabelMap, Volume};
use serde::Serialize;

use crate::families::{histogram, ivh, local_intensity, morphology, statistics};
use crate::prepare::{Diagnostics, PreparedRoi, WholeImage, prepare, prepare_with};
use crate::settings::Settings;
use crate::{Feature, RadiomicsError, texture};

/// Features of one ROI with the settings that produced them and the IBSI diagnostics.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSet {
    pub features: Vec<Feature>,
    pub settings: Settings,
    /// The label that was analysed.
    pub label: u16,
    /// IBSI diagnostic values (dimensions, voxel counts, intensities after each step).
    pub diagnostics: Diagnostics,
}

impl FeatureSet {
    /// The feature with IBSI tag `name`, if computed.
    pub fn get(&self, name: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.name == name)
    }

    /// Records the whole image's facts in the diagnostics of a set made by
    /// [`extract_region`] before they were known (given there with NaN statistics): they
    /// feed only the `init_img` and `interp_img` diagnostics, never a feature, so a streaming
    /// reader can compute the features as soon as the region has arrived and finish the rest
    /// of the image meanwhile. `spacing_mm` is the image's voxel spacing.
    pub fn record_whole_image(&mut self, whole: &WholeImage, spacing_mm: [f64; 3]) {
        let stats = (whole.mean, whole.min, whole.max);
        for step in ["init_img", "interp_img"] {
            crate::prepare::diagnostics::record_image_stats(
                &mut self.diagnostics,
                step,
                whole.dims_zyx,
                spacing_mm,
                stats,
            );
        }
    }
}

/// Extracts every feature family of `label` in `mask` over `image`.
///
/// Errors (never panics) when the mask is on another grid, the label is absent, the ROI
/// becomes empty after resampling or re-segmentation, or a setting is invalid. Features that
/// are undefined for a valid ROI (e.g. skewness of a constant) are NaN with a note.
pub fn extract(
    image: &Volume<f32>,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet, RadiomicsError> {
    let roi = prepare(image, mask, label, settings)?;
    features_of(roi, label, settings)
}

/// [`extract`] from a region of the image and the mask ([`crate::prepare::region_for`]) and
/// the whole image's facts ([`crate::prepare::WholeImageStream`]): the same features and
/// diagnostics, without the whole image in memory. A reader can then keep only the region
/// while it streams a large CT (`oncolens radiomics` does).
pub fn extract_region(
    image_region: &Volume<f32>,
    mask_region: &LabelMap,
    label: u16,
    settings: &Settings,
    whole: &WholeImage,
) -> Result<FeatureSet, RadiomicsError> {
    let roi = prepare_with(image_region, mask_region, label, settings, Some(whole))?;
    features_of(roi, label, settings)
}

fn features_of(
    roi: PreparedRoi,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet, RadiomicsError> {
    let morph_input = morphology::MorphologyInput {
        image: &roi.image,
        morph_mask: &roi.morph_mask,
        int_mask: &roi.int_mask,
        spacing_mm: roi.spacing_mm,
        autocorrelation_max_voxels: settings.morphology.autocorrelation_max_voxels,
        pca_population_covariance: settings.morphology.pca_population_covariance,
        mesh: settings.morphology.mesh,
    };
    // Morphology (mesh, hull, autocorrelation) and texture dominate the run time; run them
    // alongside the cheap intensity families.
    let ((morph, (texture, mcc)), (local, rest)) = rayon::join(
        || {
            rayon::join(
                || morphology::compute(&morph_input),
                // With PyRadiomics' maximal correlation coefficient (no IBSI definition),
                // which reads the same co-occurrence matrices as the GLCM family.
                || texture::compute_all_with_mcc(&roi.texture_roi, &settings.texture),
            )
        },
        || {
            rayon::join(
                || {
                    if settings.local_intensity.enabled {
                        local_intensity::compute(
                            &roi.image,
                            &roi.int_mask,
                            roi.spacing_mm,
                            settings.local_intensity.sphere_volume_cm3,
                        )
                    } else {
                        local_intensity::not_computed()
                    }
                },
                || -> Result<Vec<Feature>, RadiomicsError> {
                    let mut out = statistics::compute(&roi.values);
                    let s = roi.spacing_mm;
                    out.extend(statistics::pyradiomics_extras(
                        &roi.values,
                        s[0] * s[1] * s[2],
                    ));
                    out.extend(histogram::compute(
                        &roi.discretised.levels,
                        roi.discretised.n_levels,
                    ));
                    out.extend(ivh::compute(
                        &roi.values,
                        &settings.ivh_discretisation,
                        &settings.resegmentation,
                    )?);
                    Ok(out)
                },
            )
        },
    );
    let rest = rest?;
    let mut features = morph;
    features.extend(local);
    features.extend(rest);
    features.extend(texture);
    // After the IBSI texture features, so that their order is unchanged.
    features.push(mcc);
    Ok(FeatureSet {
        features,
        settings: settings.clone(),
        label,
        diagnostics: roi.diagnostics,
    })
}

/// Morphological features that read intensities, left out by [`extract_shape`].
const INTENSITY_MORPHOLOGY: [&str; 4] = [
    "morph_com",
    "morph_integ_int",
    "morph_moran_i",
    "morph_geary_c",
];

/// Shape (morphology) features of `label` in `mask` alone, for masks without their image
/// (KiTS19 ships segmentations whose CT is not redistributed here). The mask is resampled as
/// `settings` say; re-segmentation and discretisation do not apply; the four morphological
/// features that read intensities are left out.
pub fn extract_shape(
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<FeatureSet, RadiomicsError> {
    // Without resampling nothing outside the label's box (plus a voxel of background) matters:
    // crop first, so a whole-CT-size mask does not cost a whole-CT-size blank image. (With
    // resampling the IBSI grid is centred on the full extent, so the crop would move it.)
    let cropped = match settings.resampling.spacing_mm {
        None => crop_to_label(mask, label),
        Some(_) => None,
    };
    let mask = cropped.as_ref().unwrap_or(mask);
    // A constant image of grey level 1: preparation runs unchanged and nothing reads it.
    let blank = Volume::new(
        ndarray::Array3::<f32>::ones(mask.data().dim()),
        mask.geometry().clone(),
    )
    .map_err(|e| RadiomicsError::InvalidSetting {
        field: "mask",
        reason: format!("the mask's grid cannot hold an image: {e}"),
    })?;
    let shape_settings = Settings {
        resegmentation: Default::default(),
        discretisation: crate::Discretisation::None,
        ivh_discretisation: crate::Discretisation::None,
        ..settings.clone()
    };
    let roi = prepare(&blank, mask, label, &shape_settings)?;
    let features = morphology::compute(&morphology::MorphologyInput {
        image: &roi.image,
        morph_mask: &roi.morph_mask,
        int_mask: &roi.int_mask,
        spacing_mm: roi.spacing_mm,
        autocorrelation_max_voxels: 0,
        pca_population_covariance: settings.morphology.pca_population_covariance,
        mesh: settings.morphology.mesh,
    })
    .into_iter()
    .filter(|f| !INTENSITY_MORPHOLOGY.contains(&f.name.as_str()))
    .collect();
    Ok(FeatureSet {
        features,
        settings: shape_settings,
        label,
        diagnostics: roi.diagnostics,
    })
}

/// `mask` restricted to the bounding box of `label` plus one voxel (where the image has it),
/// on the matching sub-grid; `None` when the label is absent (the caller reports that).
fn crop_to_label(mask: &LabelMap, label: u16) -> Option<LabelMap> {
    let bb = crate::prepare::label_bounding_box(mask.data(), label)?;
    let (nz, ny, nx) = mask.data().dim();
    let n = [nz, ny, nx];
    let ranges = [0, 1, 2].map(|a| bb[a][0].saturating_sub(1)..(bb[a][1] + 2).min(n[a]));
    mask.region(&ranges).ok()
}
