use thiserror::Error;

/// Why survival data cannot be fitted or scored. Messages name the column and row.
#[derive(Debug, Error)]
pub enum SurvivalError {
    #[error("{what} differ in length: {lengths:?}")]
    Length { what: String, lengths: Vec<usize> },
    #[error("{column}: row {row} is not a finite number")]
    NotFinite { column: String, row: usize },
    #[error("time: row {row} is negative ({value})")]
    NegativeTime { row: usize, value: f64 },
    #[error("no event observed: a Cox model has nothing to fit")]
    NoEvents,
    #[error("no covariate given")]
    NoCovariates,
    #[error("covariate {column} is constant over the patients fitted (no effect can be estimated)")]
    Constant { column: String },
    #[error("covariate {name} is given twice")]
    DuplicateName { name: String },
    #[error("no comparable pair of patients (no event, or nobody outlived one)")]
    NoComparablePairs,
    #[error(
        "the information matrix is singular at iteration {iteration}: covariates are collinear, or one of them separates the events (monotone likelihood)"
    )]
    Singular { iteration: usize },
    #[error(
        "no convergence in {iterations} Newton steps; a covariate may separate the events (monotone likelihood): try --penalizer"
    )]
    NotConverged { iterations: usize },
    #[error(
        "the coefficient of {covariate} diverges: it separates the events (monotone likelihood, no finite estimate); use a penalizer"
    )]
    Separation { covariate: String },
    #[error(transparent)]
    Terms(#[from] oncolens_core::newton::TermsMismatch),
    #[error("{0}")]
    Option(String),
}
