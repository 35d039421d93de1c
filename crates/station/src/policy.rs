//! The station's policy: which algorithms may run, how small a cohort or a cell may be, how much
//! differential-privacy budget may be spent, which kinds of output may leave, and how large a
//! request may be. Parsed from TOML strictly (unknown fields are errors naming the field).
//!
//! ```toml
//! allowed_algorithms = ["count", "mean", "histogram", "contingency", "kaplan_meier"]
//! allowed_outputs = ["aggregate_statistics", "metrics"]
//! min_cohort_size = 20
//! min_cell_size = 5
//! suppression = "cell"          # or "refuse"
//! max_request_bytes = 65536
//!
//! [privacy]
//! epsilon_budget = 8.0
//! delta = 1e-5
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What kind of result an algorithm returns; the policy lists the kinds that may leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// Counts, sums, histograms, contingency tables, life-table inputs.
    AggregateStatistics,
    /// Model parameters or gradients after local training.
    ModelUpdate,
    /// Evaluation metrics of a model on the station's data.
    Metrics,
}

impl OutputKind {
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::AggregateStatistics => "aggregate_statistics",
            OutputKind::ModelUpdate => "model_update",
            OutputKind::Metrics => "metrics",
        }
    }
}

/// What happens to a cell with `0 < count < min_cell_size`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    /// The cell is returned as `null` with a reason; the other cells are returned.
    #[default]
    Cell,
    /// The whole request is refused.
    Refuse,
}

/// What one differentially private job costs, in the terms an accountant composes: Gaussian
/// noise multiplier (noise std / clipping norm), Poisson sampling rate, and number of steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpCost {
    pub noise_multiplier: f64,
    pub sample_rate: f64,
    pub steps: u64,
}

/// Differential-privacy budget of the station.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyPolicy {
    /// Total epsilon the station will ever spend (over all jobs, as the accountant composes them).
    pub epsilon_budget: f64,
    /// The delta every epsilon is stated at.
    pub delta: f64,
}

fn default_max_request_bytes() -> usize {
    1 << 20
}

/// A station's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Names of the algorithms that may run (see `GET /v1/info` for those installed).
    pub allowed_algorithms: Vec<String>,
    /// A job on fewer rows (after its filter) is refused.
    pub min_cohort_size: usize,
    /// Small-cell threshold k: a reported count `0 < n < k` is suppressed.
    pub min_cell_size: usize,
    /// Suppress small cells one by one, or refuse the request.
    #[serde(default)]
    pub suppression: Suppression,
    /// Kinds of output that may leave the station.
    pub allowed_outputs: Vec<OutputKind>,
    /// Largest request body accepted (bytes); larger ones get HTTP 413.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Differential-privacy budget; without it, jobs that spend epsilon are refused.
    #[serde(default)]
    pub privacy: Option<PrivacyPolicy>,
}

/// Errors reading a policy file; each names the file and, when known, the field.
#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("policy {path}: field `{field}`: {message}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
}

/// Why a request was refused, as a stable machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    UnapprovedAlgorithm,
    CohortTooSmall,
    CellTooSmall,
    BudgetExhausted,
    OutputNotAllowed,
}

/// A policy refusal: a code and a human-readable reason. Reasons are built from policy numbers,
/// algorithm and column names and category labels, never from a patient's row or identifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Error)]
#[error("refused ({code:?}): {reason}")]
pub struct Refusal {
    pub code: RefusalCode,
    pub reason: String,
}

impl Refusal {
    pub fn new(code: RefusalCode, reason: impl Into<String>) -> Self {
        Refusal {
            code,
            reason: reason.into(),
        }
    }
}

/// What [`Policy::check`] looks at before a job runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRequest<'a> {
    pub algorithm: &'a str,
    pub output_kind: OutputKind,
    /// Rows the job would run on.
    pub cohort_size: usize,
    /// Total epsilon after this job as the accountant composes it; `None` when the job spends none.
    pub epsilon_after: Option<f64>,
}

impl Policy {
    /// Reads and validates a policy file.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::from_toml_str(&text, path)
    }

    /// Parses and validates policy text; `source` names the file in errors.
    pub fn from_toml_str(text: &str, source: &Path) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: source.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " | "),
        })?;
        policy.validate(source)?;
        Ok(policy)
    }

    fn validate(&self, path: &Path) -> Result<(), PolicyError> {
        let invalid = |field: &'static str, message: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        };
        if let Some(bad) = self.allowed_algorithms.iter().find(|a| !is_valid_name(a)) {
            return Err(invalid(
                "allowed_algorithms",
                format!("`{bad}` is not a valid algorithm name (1-64 of A-Z a-z 0-9 _ - .)"),
            ));
        }
        if self.min_cell_size == 0 {
            return Err(invalid("min_cell_size", "must be at least 1".into()));
        }
        if self.min_cohort_size < self.min_cell_size {
            return Err(invalid(
                "min_cohort_size",
                format!(
                    "{} is below min_cell_size {}",
                    self.min_cohort_size, self.min_cell_size
                ),
            ));
        }
        if self.max_request_bytes < 64 {
            return Err(invalid("max_request_bytes", "must be at least 64".into()));
        }
        if let Some(p) = &self.privacy {
            if !(p.epsilon_budget.is_finite() && p.epsilon_budget > 0.0) {
                return Err(invalid(
                    "privacy.epsilon_budget",
                    format!("{} is not a positive number", p.epsilon_budget),
                ));
            }
            if !(p.delta > 0.0 && p.delta < 1.0) {
                return Err(invalid(
                    "privacy.delta",
                    format!("{} is not in (0, 1)", p.delta),
                ));
            }
        }
        Ok(())
    }

    /// Whether `algorithm` is approved.
    pub fn allows_algorithm(&self, algorithm: &str) -> bool {
        self.allowed_algorithms.iter().any(|a| a == algorithm)
    }

    /// Checks a job against the policy before it runs (cell sizes are checked on its result).
    pub fn check(&self, request: &PolicyRequest<'_>) -> Result<(), Refusal> {
        if !self.allows_algorithm(request.algorithm) {
            return Err(Refusal::new(
                RefusalCode::UnapprovedAlgorithm,
                format!(
                    "algorithm `{}` is not approved at this station (approved: {})",
                    request.algorithm,
                    self.allowed_algorithms.join(", ")
                ),
            ));
        }
        if !self.allowed_outputs.contains(&request.output_kind) {
            return Err(Refusal::new(
                RefusalCode::OutputNotAllowed,
                format!(
                    "algorithm `{}` returns {} and the policy lets no such output leave",
                    request.algorithm,
                    request.output_kind.name()
                ),
            ));
        }
        if request.cohort_size < self.min_cohort_size {
            return Err(Refusal::new(
                RefusalCode::CohortTooSmall,
                format!(
                    "the job would run on fewer than min_cohort_size = {} cases",
                    self.min_cohort_size
                ),
            ));
        }
        if let Some(eps) = request.epsilon_after {
            match &self.privacy {
                None => {
                    return Err(Refusal::new(
                        RefusalCode::BudgetExhausted,
                        "the job spends differential-privacy budget and the policy sets none",
                    ));
                }
                Some(p) if eps.is_nan() || eps > p.epsilon_budget => {
                    return Err(Refusal::new(
                        RefusalCode::BudgetExhausted,
                        format!(
                            "epsilon after this job would be {eps:.4}, over the budget {} (delta {})",
                            p.epsilon_budget, p.delta
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// A count the small-cell rule suppresses.
    pub fn is_small_cell(&self, count: u64) -> bool {
        count > 0 && count < self.min_cell_size as u64
    }
}

/// Algorithm names and request ids: 1-64 characters of `A-Z a-z 0-9 _ - .`.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
allowed_algorithms = ["count", "mean"]
allowed_outputs = ["aggregate_statistics"]
min_cohort_size = 10
min_cell_size = 5
[privacy]
epsilon_budget = 3.0
delta = 1e-5
"#;

    fn policy() -> Policy {
        Policy::from_toml_str(GOOD, Path::new("p.toml")).unwrap()
    }

    #[test]
    fn parses_with_defaults() {
        let p = policy();
        assert_eq!(p.suppression, Suppression::Cell);
        assert_eq!(p.max_request_bytes, 1 << 20);
        assert_eq!(p.privacy.unwrap().epsilon_budget, 3.0);
    }

    #[test]
    fn unknown_field_is_named_with_the_file() {
        let text = format!("{GOOD}\nepsilon = 2\n");
        let e = Policy::from_toml_str(&text, Path::new("site.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("site.toml") && msg.contains("epsilon"),
            "{msg}"
        );
        let text = GOOD.replace("delta = 1e-5", "delta = 1e-5\nsigma = 1");
        let msg = Policy::from_toml_str(&text, Path::new("site.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("sigma"), "{msg}");
        let text = GOOD.replace("\"aggregate_statistics\"", "\"raw_rows\"");
        let msg = Policy::from_toml_str(&text, Path::new("site.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("raw_rows"), "{msg}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let text = GOOD.replace("min_cell_size = 5", "min_cell_size = 0");
        let msg = Policy::from_toml_str(&text, Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`min_cell_size`"), "{msg}");
        let text = GOOD.replace("delta = 1e-5", "delta = 2.0");
        let msg = Policy::from_toml_str(&text, Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("privacy.delta"), "{msg}");
        let text = GOOD.replace("min_cohort_size = 10", "min_cohort_size = \"ten\"");
        let msg = Policy::from_toml_str(&text, Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("min_cohort_size"), "{msg}");
    }

    #[test]
    fn check_refuses_each_violation() {
        let p = policy();
        let ok = PolicyRequest {
            algorithm: "count",
            output_kind: OutputKind::AggregateStatistics,
            cohort_size: 10,
            epsilon_after: Some(3.0),
        };
        assert_eq!(p.check(&ok), Ok(()));
        let code = |r: PolicyRequest<'_>| p.check(&r).unwrap_err().code;
        assert_eq!(
            code(PolicyRequest {
                algorithm: "train",
                ..ok.clone()
            }),
            RefusalCode::UnapprovedAlgorithm
        );
        assert_eq!(
            code(PolicyRequest {
                output_kind: OutputKind::ModelUpdate,
                ..ok.clone()
            }),
            RefusalCode::OutputNotAllowed
        );
        assert_eq!(
            code(PolicyRequest {
                cohort_size: 9,
                ..ok.clone()
            }),
            RefusalCode::CohortTooSmall
        );
        assert_eq!(
            code(PolicyRequest {
                epsilon_after: Some(3.01),
                ..ok.clone()
            }),
            RefusalCode::BudgetExhausted
        );
        assert_eq!(
            code(PolicyRequest {
                epsilon_after: Some(f64::NAN),
                ..ok
            }),
            RefusalCode::BudgetExhausted
        );
        assert!(p.is_small_cell(4) && !p.is_small_cell(0) && !p.is_small_cell(5));
    }
}
