//! Errors of the radiomics pipeline. Every variant says which input or setting was at fault so
//! a batch run over many cases can report the case and move on instead of panicking.

use thiserror::Error;

/// Why a feature extraction could not run.
#[derive(Debug, Error)]
pub enum RadiomicsError {
    /// The mask does not lie on the image's grid (size, spacing, origin or direction differ).
    #[error("mask and image are on different grids: {0}")]
    GridMismatch(#[source] oncolens_core::CoreError),
    /// The requested label has no voxel in the mask.
    #[error("label {label} has no voxel in the mask (labels present: {present:?})")]
    EmptyMask { label: u16, present: Vec<u16> },
    /// Resampling or re-segmentation left no voxel in the region of interest.
    #[error("the region of interest is empty after {step}")]
    EmptyRoi { step: &'static str },
    /// The image holds NaN or infinite intensities (anywhere: interpolation and the local
    /// intensity sphere read voxels outside the mask too).
    #[error(
        "the image has a non-finite intensity ({value}); radiomics needs finite intensities everywhere"
    )]
    NonFiniteIntensity { value: f32 },
    /// A setting is out of its valid range.
    #[error("invalid setting `{field}`: {reason}")]
    InvalidSetting { field: &'static str, reason: String },
    /// An IBSI configuration letter other than A..=E.
    #[error("unknown IBSI configuration `{0}`: expected one of A, B, C, D, E")]
    UnknownConfig(char),
    /// The settings file is not valid TOML or does not match the settings schema.
    #[error("cannot parse radiomics settings: {0}")]
    SettingsParse(#[from] toml::de::Error),
    /// An intermediate array could not be built (a bug rather than a user error).
    #[error("internal shape error in {context}: {source}")]
    Shape {
        context: &'static str,
        #[source]
        source: ndarray::ShapeError,
    },
}
