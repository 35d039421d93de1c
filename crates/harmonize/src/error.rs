//! Error type shared by the ComBat core and the CSV front end.
//!
//! Every variant names the offending site, feature, covariate or table cell,
//! because harmonisation failures are almost always data problems that the
//! user has to fix in their spreadsheet.

use std::path::PathBuf;

/// Everything that can go wrong while fitting or applying ComBat.
#[derive(Debug, thiserror::Error)]
pub enum HarmonizeError {
    /// An input vector does not have one entry per sample.
    #[error("{what} has {len} entries but the data has {samples} samples")]
    LengthMismatch {
        /// Which input (batch, a covariate) is the wrong length.
        what: String,
        /// Number of samples in the data matrix.
        samples: usize,
        /// Length that was supplied.
        len: usize,
    },
    /// Data for `apply` does not have the features the model was fitted on.
    #[error("the model was fitted on {expected} features but the data has {found}")]
    FeatureCountMismatch {
        /// Features at fit time.
        expected: usize,
        /// Features supplied now.
        found: usize,
    },
    /// ComBat needs at least two sites to have anything to harmonise.
    #[error("ComBat needs at least 2 sites, found {found}")]
    TooFewSites {
        /// Number of distinct sites.
        found: usize,
    },
    /// A site with one sample has no within-site variance.
    #[error(
        "site '{site}' has {count} sample(s); ComBat needs at least 2 per site to estimate its scale"
    )]
    TooFewSamples {
        /// Site label.
        site: String,
        /// Samples at that site.
        count: usize,
    },
    /// Empirical Bayes pools information across features, so it needs several.
    #[error(
        "empirical Bayes needs at least 2 non-constant features, found {found}; use eb = false"
    )]
    TooFewFeatures {
        /// Number of features that can be harmonised.
        found: usize,
    },
    /// The requested reference site does not occur in the batch labels.
    #[error("reference site '{site}' does not occur in the site column")]
    UnknownReference {
        /// Requested reference site.
        site: String,
    },
    /// `apply` was given a site the model has no estimates for.
    #[error("site '{site}' was not present when the ComBat model was fitted")]
    UnknownSite {
        /// Offending label.
        site: String,
    },
    /// `apply` was given a categorical level the model has no coefficient for.
    #[error("covariate '{covariate}' has level '{level}' that was not present at fit time")]
    UnknownLevel {
        /// Covariate name.
        covariate: String,
        /// Offending level.
        level: String,
    },
    /// `apply` covariates differ from the ones used at fit time.
    #[error("covariates do not match the fitted model: expected {expected:?}, got {found:?}")]
    CovariateMismatch {
        /// Covariate names at fit time, in order.
        expected: Vec<String>,
        /// Covariate names supplied now.
        found: Vec<String>,
    },
    /// A data value is NaN or infinite.
    #[error("feature '{feature}' has a non-finite value ({value}) in sample {sample}")]
    NonFiniteData {
        /// Feature name.
        feature: String,
        /// Zero-based sample index.
        sample: usize,
        /// The value.
        value: f64,
    },
    /// A continuous covariate value is NaN or infinite.
    #[error("covariate '{covariate}' has a non-finite value ({value}) in sample {sample}")]
    NonFiniteCovariate {
        /// Covariate name.
        covariate: String,
        /// Zero-based sample index.
        sample: usize,
        /// The value.
        value: f64,
    },
    /// The design matrix is rank deficient.
    #[error(
        "design matrix is singular: column '{column}' of covariate '{covariate}' is confounded \
         with site (or with the covariates before it); drop or recode that covariate"
    )]
    ConfoundedCovariate {
        /// Covariate name.
        covariate: String,
        /// Design column (e.g. `sex[M]` or `age`).
        column: String,
    },
    /// Zero residual variance makes standardisation divide by zero.
    #[error(
        "feature '{feature}' has zero residual variance{}; it cannot be standardised",
        .reference.as_ref().map(|r| format!(" within reference site '{r}'")).unwrap_or_default()
    )]
    ZeroVariance {
        /// Feature name.
        feature: String,
        /// Reference site, when the variance was computed on it alone.
        reference: Option<String>,
    },
    /// The parametric EB iteration did not converge.
    #[error(
        "parametric empirical Bayes did not converge for site '{site}' in {iterations} iterations"
    )]
    NoConvergence {
        /// Site label.
        site: String,
        /// Iterations performed.
        iterations: usize,
    },
    /// An estimate came out NaN/infinite (e.g. the non-parametric likelihood underflowed).
    #[error(
        "ComBat produced a non-finite {what} for feature '{feature}' at site '{site}'; \
         try the parametric mode or check the feature's scale"
    )]
    NonFiniteEstimate {
        /// Which estimate.
        what: &'static str,
        /// Feature name.
        feature: String,
        /// Site label.
        site: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot access {path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV is malformed (ragged rows, bad quoting, invalid UTF-8).
    #[error("malformed CSV {path}: {source}")]
    Csv {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: csv::Error,
    },
    /// A named column is absent from the header.
    #[error("column '{column}' ({role}) is not in the CSV header")]
    MissingColumn {
        /// Column name.
        column: String,
        /// What it was asked for (site, covariate, id ...).
        role: &'static str,
    },
    /// The header repeats a column name, so columns cannot be addressed by name.
    #[error("column '{column}' appears more than once in the CSV header")]
    DuplicateColumn {
        /// Column name.
        column: String,
    },
    /// An empty / NA cell in a column ComBat needs.
    #[error("missing value in column '{column}' at line {line}")]
    MissingValue {
        /// Column name.
        column: String,
        /// 1-based line in the file (the header is line 1).
        line: u64,
    },
    /// A cell that must be a finite number is not.
    #[error("column '{column}' at line {line}: '{value}' is not a finite number")]
    NotNumeric {
        /// Column name.
        column: String,
        /// 1-based line in the file.
        line: u64,
        /// Cell text.
        value: String,
    },
    /// A column that is numeric except for some cells: probably a typo in a feature.
    #[error(
        "column '{column}' is numeric except for '{value}' at line {line}; fix the cell, or list \
         the column as a pass-through column if it is not a feature"
    )]
    MixedColumn {
        /// Column name.
        column: String,
        /// 1-based line in the file.
        line: u64,
        /// First non-numeric cell.
        value: String,
    },
    /// The table has no numeric feature columns left to harmonise.
    #[error("no numeric feature columns found besides the site, covariate and id columns")]
    NoFeatures,
}

/// Crate-wide result alias.
pub type Result<T> = std::result::Result<T, HarmonizeError>;
