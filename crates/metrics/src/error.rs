//! The one error type and the input checks every metric starts with.
//!
//! Metrics run on predictions from user data (a validation fold, a hospital's cohort), so a bad
//! input is an error that says what is wrong, never a panic or a silent NaN.

use thiserror::Error;

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricsError {
    /// No predictions at all: every metric here is a mean or a rate over cases.
    #[error("no predictions: {metric} needs at least one case")]
    Empty { metric: &'static str },
    /// Scores and labels do not pair up one to one.
    #[error("{scores} scores but {labels} labels: each case needs exactly one score and one label")]
    LengthMismatch { scores: usize, labels: usize },
    /// A score is NaN or infinite (scikit-learn rejects these too).
    #[error("score at index {index} is {value}: scores must be finite numbers")]
    NonFinite { index: usize, value: f64 },
    /// A probability lies outside [0, 1] (scikit-learn rejects these too).
    #[error("probability at index {index} is {value}: probabilities must lie in [0, 1]")]
    NotAProbability { index: usize, value: f64 },
    /// All labels are the same class, so a rate over the other class (ROC, AUC) is 0/0.
    #[error(
        "all {n} cases are {present}: {metric} is undefined without both malignant and benign cases"
    )]
    OneClass {
        metric: &'static str,
        present: &'static str,
        n: usize,
    },
    /// A parameter (threshold, bin count, confidence, ...) is out of its range.
    #[error("{name} = {value} is invalid: {expected}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    /// Too many bootstrap resamples had a single class, so the interval would rest on few draws.
    #[error(
        "bootstrap: only {accepted} of {wanted} resamples had both classes after {attempts} draws; \
         too few cases of one class for a bootstrap interval"
    )]
    BootstrapDegenerate {
        accepted: usize,
        wanted: usize,
        attempts: usize,
    },
    /// No finite positive temperature minimises the loss.
    #[error("temperature scaling has no optimum: {reason}")]
    NoTemperature { reason: &'static str },
}

/// Result with [`MetricsError`].
pub type Result<T> = std::result::Result<T, MetricsError>;

/// Non-empty, equal lengths.
pub(crate) fn check_lengths(metric: &'static str, scores: &[f64], labels: &[bool]) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(MetricsError::LengthMismatch {
            scores: scores.len(),
            labels: labels.len(),
        });
    }
    if scores.is_empty() {
        return Err(MetricsError::Empty { metric });
    }
    Ok(())
}

/// Non-empty, equal lengths, every score finite.
pub(crate) fn check_scores(metric: &'static str, scores: &[f64], labels: &[bool]) -> Result<()> {
    check_lengths(metric, scores, labels)?;
    match scores.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(MetricsError::NonFinite {
            index,
            value: scores[index],
        }),
        None => Ok(()),
    }
}

/// Non-empty, equal lengths, every value a probability in [0, 1].
pub(crate) fn check_probs(metric: &'static str, probs: &[f64], labels: &[bool]) -> Result<()> {
    check_scores(metric, probs, labels)?;
    match probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(index) => Err(MetricsError::NotAProbability {
            index,
            value: probs[index],
        }),
        None => Ok(()),
    }
}

/// Both classes present; returns (positives, negatives).
pub(crate) fn check_both_classes(metric: &'static str, labels: &[bool]) -> Result<(usize, usize)> {
    let n_pos = labels.iter().filter(|&&y| y).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(MetricsError::OneClass {
            metric,
            present: if n_pos == 0 {
                "negative (benign)"
            } else {
                "positive (malignant)"
            },
            n: labels.len(),
        });
    }
    Ok((n_pos, n_neg))
}
