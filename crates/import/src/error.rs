//! One error type for every converter; each variant names the file and, where there is one, the
//! field.

use std::path::PathBuf;

use thiserror::Error;

/// Errors raised while importing a data set.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("output folder {0} is not empty; choose an empty or new folder")]
    NotEmpty(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A value in a source file that is missing or has the wrong type or range.
    #[error("{path}: field `{field}`: {message}")]
    Field {
        path: PathBuf,
        field: String,
        message: String,
    },
    /// A source file that is not in the expected format (archive, array header, CSV, XML).
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error(transparent)]
    Nifti(#[from] oncolens_nifti::NiftiError),
    #[error(transparent)]
    Dicom(#[from] oncolens_dicom::DicomError),
    #[error("{path}: invalid geometry: {message}")]
    Geometry { path: PathBuf, message: String },
}

impl ImportError {
    pub(crate) fn field(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ImportError::Field {
            path: path.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ImportError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub(crate) fn read_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn write_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ImportError> = std::result::Result<T, E>;
