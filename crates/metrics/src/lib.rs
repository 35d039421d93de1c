//! `oncolens-metrics`: binary-classification metrics (malignant vs benign) that equal
//! scikit-learn's on the same predictions.
//!
//! Model results are compared with published numbers and with Python baselines, which are
//! almost always computed with scikit-learn; a metric that differs in tie handling, bin edges
//! or clipping would make those comparisons meaningless. Every function here is checked against
//! sklearn outputs stored in `fixtures/metrics/sklearn_reference.json`.
//!
//! Conventions: scores are `f64` (higher = more likely positive), labels are `&[bool]` with
//! `true` = positive (malignant); a case is predicted positive when `score >= threshold`. Bad
//! input (empty, lengths differ, NaN, one class where a metric needs both) is a
//! [`MetricsError`], never a panic. Rates that are 0/0 at a threshold are `NaN` (JSON `null`).

pub mod auc;
pub mod bootstrap;
pub mod calibration;
pub mod error;
pub mod loss;
pub mod report;
pub mod temperature;
pub mod threshold;

pub use auc::{RocCurve, roc_auc, roc_curve};
pub use bootstrap::{
    ShareIntervals, bootstrap_auc_ci, bootstrap_auc_difference_ci, bootstrap_share_intervals,
};
pub use calibration::{CalibrationCurve, calibration_curve, expected_calibration_error};
pub use error::{MetricsError, Result};
pub use loss::{brier_score, log_loss};
pub use report::{BinaryReport, ReportOptions};
pub use temperature::{apply_temperature, fit_temperature, temperature_nll};
pub use threshold::{ConfusionMetrics, youden_threshold};
