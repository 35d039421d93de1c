//! One error type for the crate, so callers can match on what was wrong with
//! their table and show the offending column or value to a user.

use thiserror::Error;

/// Everything that can go wrong when fitting or querying an interpretable model.
#[derive(Debug, Error, PartialEq)]
pub enum InterpretError {
    /// A model cannot be fitted to zero rows (or zero columns where columns are needed).
    #[error("empty table: {0}")]
    EmptyTable(String),
    /// Columns must all have the same number of rows.
    #[error("column `{column}` has {got} rows, expected {expected}")]
    RaggedColumn {
        column: String,
        got: usize,
        expected: usize,
    },
    /// NaN or infinite values are rejected instead of silently routed to a branch.
    #[error("column `{column}` row {row}: non-finite value {value}")]
    NonFinite {
        column: String,
        row: usize,
        value: f64,
    },
    /// A categorical code outside the declared levels.
    #[error("column `{column}` row {row}: category code {code} but only {levels} levels")]
    BadCategory {
        column: String,
        row: usize,
        code: f64,
        levels: usize,
    },
    /// The operation needs a two-class target (e.g. ordering categories by target rate).
    #[error("target `{column}` must be binary for {what}, found {classes} classes")]
    NonBinaryTarget {
        column: String,
        classes: usize,
        what: String,
    },
    /// A constant column cannot be discretised into quantile bins.
    #[error("column `{column}` is constant ({value}); cannot discretise")]
    ConstantColumn { column: String, value: f64 },
    /// A hyper-parameter is out of range.
    #[error("invalid parameter `{name}` = {value}: {why}")]
    InvalidParameter {
        name: String,
        value: String,
        why: String,
    },
    /// Unknown column / variable / state name.
    #[error("unknown {kind} `{name}`")]
    Unknown { kind: String, name: String },
    /// A structure with a directed cycle is not a Bayesian network.
    #[error("graph has a cycle through `{0}`")]
    Cycle(String),
    /// Evidence with zero probability under the model.
    #[error("evidence has probability zero: {0}")]
    ImpossibleEvidence(String),
    /// Writing CSV failed.
    #[error("csv: {0}")]
    Csv(String),
}

impl From<csv::Error> for InterpretError {
    fn from(e: csv::Error) -> Self {
        InterpretError::Csv(e.to_string())
    }
}

/// Short alias used throughout the crate.
pub type Result<T> = std::result::Result<T, InterpretError>;

pub(crate) fn invalid(name: &str, value: impl ToString, why: &str) -> InterpretError {
    InterpretError::InvalidParameter {
        name: name.to_string(),
        value: value.to_string(),
        why: why.to_string(),
    }
}
