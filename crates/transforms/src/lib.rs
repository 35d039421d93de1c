//! Image preparation in physical space.
//!
//! Everything here works in millimetres through [`Geometry`], never in voxel indices of one
//! particular scan, so crops from sites with different spacing, field of view or slice
//! orientation land on the same model grid, and a heatmap computed on a crop maps back exactly
//! onto the patient's original image.

pub mod crop;
pub mod intensity;
pub mod resample;

pub use crop::{CropSpec, centroid_mm, crop_around};
pub use intensity::{HuWindow, window_to_unit};
pub use resample::{resample_isotropic, resample_label_map, resample_to_grid, sample_trilinear};

use oncolens_core::Geometry;

/// Errors of the transforms.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("invalid parameter: {0}")]
    Parameter(String),
    #[error(transparent)]
    Core(#[from] oncolens_core::CoreError),
}

/// A grid with the same direction as `reference`, `size` voxels of `spacing_mm`, whose centre
/// voxel sits at `center_mm`.
pub fn grid_centered_at(
    reference: &Geometry,
    center_mm: [f64; 3],
    size: [usize; 3],
    spacing_mm: [f64; 3],
) -> Result<Geometry, TransformError> {
    let d = reference.direction;
    let half: [f64; 3] = std::array::from_fn(|i| (size[i] as f64 - 1.0) / 2.0 * spacing_mm[i]);
    let offset = d.apply(half);
    let origin = std::array::from_fn(|i| center_mm[i] - offset[i]);
    Ok(Geometry::new(size, spacing_mm, origin, d)?)
}
