//! Errors and warnings of the series reader.
//!
//! Every error names the file (or files) involved and, where it applies, the DICOM attribute, so
//! that a user with a folder of hundreds of files can find the culprit without a debugger.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

use crate::read::SeriesSummary;

/// Why a DICOM file or series could not be read.
#[derive(Debug, Error)]
pub enum DicomError {
    /// The path could not be read from disk.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not DICOM, or is truncated/corrupt so that the data set cannot be parsed.
    #[error("cannot parse DICOM file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A required attribute is absent.
    #[error("{path}: missing required attribute {tag}")]
    MissingTag { path: PathBuf, tag: &'static str },
    /// An attribute is present but its value cannot be used.
    #[error("{path}: invalid value of {tag}: {message}")]
    InvalidTag {
        path: PathBuf,
        tag: &'static str,
        message: String,
    },
    /// The file holds no Pixel Data (7FE0,0010), e.g. an RT Plan or a structured report.
    #[error("{path}: no Pixel Data (7FE0,0010); not an image")]
    NoPixelData { path: PathBuf },
    /// The pixel data is compressed with a transfer syntax that has no pure-Rust decoder.
    #[error("{path}: unsupported transfer syntax {uid} ({name}): pixel data cannot be decoded")]
    UnsupportedTransferSyntax {
        path: PathBuf,
        uid: String,
        name: String,
    },
    /// The pixel data could not be decoded (corrupt stream, truncated data, ...).
    #[error("{path}: cannot decode pixel data: {message}")]
    PixelDecode { path: PathBuf, message: String },
    /// The pixel layout is not a single-sample grey image of 8, 16 or 32 bits.
    #[error("{path}: unsupported pixel format: {message}")]
    UnsupportedPixelFormat { path: PathBuf, message: String },
    /// No readable DICOM image was found under the path.
    #[error("no DICOM series found under {path} ({} file(s) skipped{})", skipped.len(), first_skip(skipped))]
    NoSeries {
        path: PathBuf,
        skipped: Vec<(PathBuf, String)>,
    },
    /// Several series are present and none was chosen.
    #[error("{path} holds {} series; choose one by SeriesInstanceUID:\n{}", series.len(), list_series(series))]
    MultipleSeries {
        path: PathBuf,
        series: Vec<SeriesSummary>,
    },
    /// The requested series is not in the folder.
    #[error(
        "series {uid} not found under {path}; available:\n{}",
        list_series(available)
    )]
    SeriesNotFound {
        path: PathBuf,
        uid: String,
        available: Vec<SeriesSummary>,
    },
    /// Two slices sit at the same position along the slice normal.
    #[error("duplicate slice position {position_mm:.4} mm: {first} and {second}")]
    DuplicatePosition {
        first: PathBuf,
        second: PathBuf,
        position_mm: f64,
    },
    /// Slices do not share one ImageOrientationPatient.
    #[error("mixed orientations: {first} has {first_iop:?}, {other} has {other_iop:?}")]
    MixedOrientation {
        first: PathBuf,
        other: PathBuf,
        first_iop: Box<[f64; 6]>,
        other_iop: Box<[f64; 6]>,
    },
    /// Slices do not share one size or pixel spacing.
    #[error("mixed slice grids: {first} is {first_desc}, {other} is {other_desc}")]
    MixedGrid {
        first: PathBuf,
        other: PathBuf,
        first_desc: String,
        other_desc: String,
    },
    /// Missing slices between two files (GapPolicy::Error).
    #[error(
        "slice gap between {after_file} and {before_file}: {found_mm:.4} mm, expected {expected_mm:.4} mm (missing slices?)"
    )]
    SliceGap {
        after_file: PathBuf,
        before_file: PathBuf,
        expected_mm: f64,
        found_mm: f64,
    },
    /// Uneven (but not missing-slice) spacing between two files (GapPolicy::Error).
    #[error(
        "uneven slice spacing between {after_file} and {before_file}: {found_mm:.4} mm, expected {expected_mm:.4} mm"
    )]
    UnevenSpacing {
        after_file: PathBuf,
        before_file: PathBuf,
        expected_mm: f64,
        found_mm: f64,
    },
    /// The assembled geometry is invalid (zero spacing, non-orthonormal orientation).
    #[error("{path}: invalid geometry: {message}")]
    Geometry { path: PathBuf, message: String },
}

fn first_skip(skipped: &[(PathBuf, String)]) -> String {
    match skipped.first() {
        Some((p, why)) => format!("; first: {}: {why}", p.display()),
        None => String::new(),
    }
}

fn list_series(series: &[SeriesSummary]) -> String {
    series
        .iter()
        .map(|s| {
            format!(
                "  {}  {}  {} file(s){}",
                s.series_instance_uid,
                s.modality,
                s.n_files,
                s.description
                    .as_deref()
                    .map(|d| format!("  \"{d}\""))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Something unusual that did not stop the read; shown to the user and kept in reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum SeriesWarning {
    /// Missing slices between two files; the slices were stacked anyway (GapPolicy::Warn).
    SliceGap {
        after_file: PathBuf,
        before_file: PathBuf,
        expected_mm: f64,
        found_mm: f64,
    },
    /// Spacing between two files differs from the series spacing (GapPolicy::Warn).
    UnevenSpacing {
        after_file: PathBuf,
        before_file: PathBuf,
        expected_mm: f64,
        found_mm: f64,
    },
    /// Modality is not CT: values are stored*slope+intercept but are not Hounsfield units.
    NonCtModality(String),
    /// A file in the folder could not be parsed as DICOM and was left out.
    SkippedFile { path: PathBuf, reason: String },
    /// A lone image lacks a geometry attribute; ITK's default was used.
    AssumedDefault { tag: &'static str, value: String },
    /// The slice normal is not along a voxel axis of the stack (gantry tilt / sheared stack).
    ObliqueStack { max_offset_mm: f64 },
}

impl fmt::Display for SeriesWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeriesWarning::SliceGap {
                after_file,
                before_file,
                expected_mm,
                found_mm,
            } => write!(
                f,
                "slice gap between {} and {}: {found_mm:.4} mm, expected {expected_mm:.4} mm (missing slices?)",
                after_file.display(),
                before_file.display()
            ),
            SeriesWarning::UnevenSpacing {
                after_file,
                before_file,
                expected_mm,
                found_mm,
            } => write!(
                f,
                "uneven slice spacing between {} and {}: {found_mm:.4} mm, expected {expected_mm:.4} mm",
                after_file.display(),
                before_file.display()
            ),
            SeriesWarning::NonCtModality(m) => {
                write!(
                    f,
                    "modality is {m}, not CT: values are not Hounsfield units"
                )
            }
            SeriesWarning::SkippedFile { path, reason } => {
                write!(f, "skipped {}: {reason}", path.display())
            }
            SeriesWarning::AssumedDefault { tag, value } => {
                write!(f, "{tag} missing; assumed {value} (ITK default)")
            }
            SeriesWarning::ObliqueStack { max_offset_mm } => write!(
                f,
                "slice origins deviate up to {max_offset_mm:.4} mm from the slice normal (gantry tilt?); geometry assumes an orthogonal stack"
            ),
        }
    }
}
