//! The discretised region of interest that every texture family reads.

use ndarray::Array3;

/// Grey levels of the intensity ROI after discretisation.
///
/// Arrays are `[z, y, x]` like [`oncolens_core::Volume`]. `levels` holds 0 outside the intensity
/// mask and `1..=n_levels` inside it. `morph_mask` is the morphological mask (before
/// re-segmentation), which IBSI uses for distances to the ROI edge (GLDZM).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscretisedRoi {
    pub levels: Array3<u32>,
    pub n_levels: u32,
    pub morph_mask: Array3<bool>,
    /// Voxel spacing `[x, y, z]` in millimetres.
    pub spacing_mm: [f64; 3],
}
