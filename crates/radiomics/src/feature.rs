//! One computed feature, named the way IBSI and PyRadiomics users look it up.

use serde::{Deserialize, Serialize};

/// IBSI feature family (chapter 3 of the IBSI 1 reference manual).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Morphology,
    LocalIntensity,
    Statistics,
    IntensityHistogram,
    IntensityVolumeHistogram,
    Glcm,
    Glrlm,
    Glszm,
    Gldzm,
    Ngtdm,
    Ngldm,
}

/// A feature value with its names.
///
/// `name` is the IBSI reference tag (the `tag` column of the IBSI reference-value tables, e.g.
/// `morph_volume`, `cm_joint_max_3D_avg`), so results can be joined with those tables directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    /// The four-character IBSI identifier of the feature (e.g. `RNU0` for mesh volume).
    pub ibsi_code: String,
    /// PyRadiomics' name without the image-type prefix (`glcm_Contrast`), where one exists.
    pub pyradiomics_name: Option<String>,
    pub family: Family,
    /// NaN when the feature is undefined for this ROI; `note` then says why.
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
