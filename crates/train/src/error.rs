use std::path::PathBuf;

/// Errors of training and evaluation; each names the case, file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Cohort(#[from] oncolens_io::cohort::CohortError),
    #[error("case {case_id}: {message}")]
    Case { case_id: String, message: String },
    #[error(transparent)]
    Transform(#[from] oncolens_transforms::TransformError),
    #[error(transparent)]
    Nn(#[from] oncolens_nn::NnError),
    #[error(transparent)]
    Metrics(#[from] oncolens_metrics::MetricsError),
    #[error("not enough data: {0}")]
    Data(String),
    #[error("cannot read or write {path}: {message}")]
    File { path: PathBuf, message: String },
}
