//! DICOM CT series reading (geometry, HU) and writing, built on dicom-rs.
//!
//! [`read_series`] turns a folder of single-frame images (or one enhanced multi-frame file) into
//! a [`Volume<f32>`](oncolens_core::Volume) of Hounsfield units with ITK/SimpleITK geometry, so
//! that numbers can be checked against SimpleITK and pydicom directly.

mod error;
mod read;
pub mod write;

pub use error::{DicomError, SeriesWarning};
pub use read::{
    CtSeries, GapPolicy, ReadOptions, SeriesScan, SeriesSummary, read_series, scan_series,
    scan_series_detailed,
};
