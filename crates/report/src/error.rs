//! The one error type of this crate.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong while rendering pictures or writing a report.
///
/// Every variant carries the numbers a user needs to fix the call (sizes, indices, paths), because
/// a report is usually produced at the end of a long run, where a vague error is expensive.
#[derive(Debug, Error)]
pub enum ReportError {
    /// An overlay (heatmap or contour) does not sit on the image's voxel grid, so drawing it
    /// would put attributions or outlines on the wrong anatomy.
    #[error(
        "{which} grid does not match the image grid: {which} size {other_size:?}, image size \
         {image_size:?} (x,y,z); {detail}"
    )]
    GridMismatch {
        /// Which overlay: "heatmap", "contour" or "second contour".
        which: &'static str,
        image_size: [usize; 3],
        other_size: [usize; 3],
        /// How the grids differ (size, spacing, origin or direction).
        detail: String,
    },
    /// The requested slice or centre voxel lies outside the volume.
    #[error("{what} index {index} is out of range: the volume has {len} along that axis")]
    IndexOutOfRange {
        what: String,
        index: usize,
        len: usize,
    },
    /// The image has no voxels along some axis.
    #[error("image has size {0:?} (x,y,z): nothing to draw")]
    EmptyImage([usize; 3]),
    /// A rendering option is outside the values that make sense (e.g. a window width of 0).
    #[error("invalid option {name} = {value}: {reason}")]
    InvalidOption {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// The picture would be larger than [`crate::overlay::MAX_SIDE_PX`] on a side; usually a
    /// tiny `pixel_size_mm` or a corrupt spacing.
    #[error("picture would be {width}x{height} pixels, more than {max} on a side")]
    TooLarge {
        width: usize,
        height: usize,
        max: usize,
    },
    /// Pixel buffer and dimensions disagree.
    #[error("pixel buffer holds {got} bytes, {width}x{height} RGB needs {want}")]
    PixelCount {
        width: usize,
        height: usize,
        got: usize,
        want: usize,
    },
    /// The PNG encoder refused the picture.
    #[error("PNG encoding failed: {0}")]
    Png(String),
    /// A graph handed to [`crate::graph::layout`] is malformed for the requested layout: two
    /// nodes share an id, an edge names a node that does not exist, or a tree node has two
    /// parents.
    #[error("graph cannot be laid out: {0}")]
    InvalidGraph(String),
    /// The graph has a directed cycle, so it is neither a tree nor a DAG; `node` lies on it.
    #[error("graph has a directed cycle through node {node:?}; only trees and DAGs can be drawn")]
    GraphCycle { node: String },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Result with [`ReportError`].
pub type Result<T> = std::result::Result<T, ReportError>;
