use std::path::PathBuf;

use thiserror::Error;

/// Errors of the record readers; each names the file and where in it the problem is.
#[derive(Debug, Error)]
pub enum RecordsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: `{json_path}`: {message}")]
    Fhir {
        path: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Report { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Omics { path: PathBuf, message: String },
}
