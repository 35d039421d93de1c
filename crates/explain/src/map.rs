//! From the crop grid back to the patient's scan, and scoring against the lesion mask.

use ndarray::Array3;
use oncolens_core::{Geometry, LabelMap, Volume};
use oncolens_transforms::resample_to_grid;

use crate::{ExplainError, ImageAttribution};

/// The attribution resampled onto `image` (trilinear; zero outside the crop), ready to save as
/// NIfTI on the case's grid.
pub fn to_image_grid(
    attribution: &ImageAttribution,
    crop_grid: &Geometry,
    image: &Geometry,
) -> Result<Volume<f32>, ExplainError> {
    let s = attribution.side;
    if crop_grid.size != [s; 3] {
        return Err(ExplainError::Setting(format!(
            "crop grid {:?} does not match an attribution of side {s}",
            crop_grid.size
        )));
    }
    let data = Array3::from_shape_vec((s, s, s), attribution.values.clone())
        .map_err(|e| ExplainError::Data(e.to_string()))?;
    let crop =
        Volume::new(data, crop_grid.clone()).map_err(|e| ExplainError::Data(e.to_string()))?;
    Ok(resample_to_grid(&crop, image, 0.0)?)
}

/// Share of the positive attribution that falls inside the mask (label > 0), and the share of
/// the attributed region's voxels the mask covers (what a uniform map would score).
pub fn positive_share_in_mask(
    heatmap: &Volume<f32>,
    mask: &LabelMap,
) -> Result<(f64, f64), ExplainError> {
    mask.check_matches(heatmap)
        .map_err(|e| ExplainError::Setting(format!("lesion mask: {e}")))?;
    let (mut inside, mut total) = (0f64, 0f64);
    let (mut support, mut support_in) = (0usize, 0usize);
    for (v, l) in heatmap.data().iter().zip(mask.data().iter()) {
        if *v != 0.0 {
            support += 1;
            if *l != 0 {
                support_in += 1;
            }
        }
        if *v > 0.0 {
            total += f64::from(*v);
            if *l != 0 {
                inside += f64::from(*v);
            }
        }
    }
    if total <= 0.0 {
        return Ok((0.0, support_in as f64 / support.max(1) as f64));
    }
    Ok((inside / total, support_in as f64 / support.max(1) as f64))
}
