use thiserror::Error;

/// Errors raised when constructing or combining core types.
#[derive(Debug, Error, PartialEq)]
pub enum CoreError {
    /// The voxel array does not have the number of elements the geometry asks for.
    #[error("voxel array has shape {array:?} (z,y,x) but geometry size is {size:?} (x,y,z)")]
    ShapeMismatch { array: [usize; 3], size: [usize; 3] },
    /// A spacing was zero, negative or not finite.
    #[error("invalid spacing {0:?} mm: every spacing must be finite and > 0")]
    InvalidSpacing([f64; 3]),
    /// The direction matrix is not orthonormal.
    #[error("direction matrix {0:?} is not orthonormal")]
    InvalidDirection([f64; 9]),
    /// A region's index ranges (`[z, y, x]`) are empty or reach outside the grid.
    #[error("region {ranges:?} (z,y,x) is empty or outside a grid of size {size:?} (x,y,z)")]
    RegionOutside {
        ranges: [[usize; 2]; 3],
        size: [usize; 3],
    },
    /// A label map does not share its image's grid.
    #[error("mask grid does not match image grid: {0}")]
    GridMismatch(String),
}
