//! One serialisable summary of a binary classifier's predictions: what goes into metrics.json.

use serde::{Deserialize, Serialize};

use crate::auc::roc_auc;
use crate::bootstrap::bootstrap_auc_ci;
use crate::calibration::expected_calibration_error;
use crate::error::{Result, check_both_classes, check_probs};
use crate::loss::{brier_score, log_loss};
use crate::threshold::ConfusionMetrics;

/// How [`BinaryReport::compute`] thresholds, bins and bootstraps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Predict positive (malignant) when `prob >= threshold`.
    pub threshold: f64,
    /// Equal-width calibration bins for the ECE.
    pub n_bins: usize,
    /// Bootstrap resamples for the AUC interval.
    pub n_bootstrap: usize,
    /// Confidence level of the AUC interval, e.g. 0.95.
    pub confidence: f64,
    /// Seed of the bootstrap, so a report is reproducible.
    pub seed: u64,
}

impl Default for ReportOptions {
    /// Threshold 0.5, 10 bins, 2000 resamples, 95 %, seed 0.
    fn default() -> Self {
        ReportOptions {
            threshold: 0.5,
            n_bins: 10,
            n_bootstrap: 2000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// Discrimination, threshold metrics and calibration of predicted probabilities in one struct.
///
/// Undefined threshold rates are NaN and serialise as `null` (see [`ConfusionMetrics`]). The
/// options are echoed (`threshold`, `n_bins`, `n_bootstrap`, `confidence`, `seed`) so a
/// metrics file says how its numbers were computed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinaryReport {
    pub n: usize,
    pub n_positive: usize,
    pub auc: f64,
    /// Percentile bootstrap interval for `auc`, `[lo, hi]`.
    pub auc_ci: [f64; 2],
    pub sensitivity: f64,
    pub specificity: f64,
    pub balanced_accuracy: f64,
    pub accuracy: f64,
    pub ppv: f64,
    pub npv: f64,
    pub f1: f64,
    pub brier: f64,
    pub log_loss: f64,
    /// Expected calibration error on `n_bins` equal-width bins.
    pub ece: f64,
    pub threshold: f64,
    pub n_bins: usize,
    pub n_bootstrap: usize,
    pub confidence: f64,
    pub seed: u64,
}

impl BinaryReport {
    /// All metrics for `probs` (predicted probability of the positive class, in [0, 1]) against
    /// `labels`. Needs both classes (the AUC is undefined otherwise).
    pub fn compute(probs: &[f64], labels: &[bool], options: &ReportOptions) -> Result<Self> {
        check_probs("binary report", probs, labels)?;
        let (n_positive, _) = check_both_classes("binary report", labels)?;
        let auc = roc_auc(probs, labels)?;
        let (lo, hi) = bootstrap_auc_ci(
            probs,
            labels,
            options.n_bootstrap,
            options.confidence,
            options.seed,
        )?;
        let m = ConfusionMetrics::at_threshold(probs, labels, options.threshold)?;
        Ok(BinaryReport {
            n: probs.len(),
            n_positive,
            auc,
            auc_ci: [lo, hi],
            sensitivity: m.sensitivity,
            specificity: m.specificity,
            balanced_accuracy: m.balanced_accuracy,
            accuracy: m.accuracy,
            ppv: m.ppv,
            npv: m.npv,
            f1: m.f1,
            brier: brier_score(probs, labels)?,
            log_loss: log_loss(probs, labels)?,
            ece: expected_calibration_error(probs, labels, options.n_bins)?,
            threshold: options.threshold,
            n_bins: options.n_bins,
            n_bootstrap: options.n_bootstrap,
            confidence: options.confidence,
            seed: options.seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricsError;

    #[test]
    fn report_serialises_with_all_fields() {
        let probs = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.55, 0.4];
        let labels = [true, true, false, true, false, false, false, true];
        let opts = ReportOptions {
            n_bootstrap: 200,
            ..ReportOptions::default()
        };
        let r = BinaryReport::compute(&probs, &labels, &opts).unwrap();
        assert_eq!((r.n, r.n_positive), (8, 4));
        assert!(r.auc_ci[0] <= r.auc && r.auc <= r.auc_ci[1]);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        for key in [
            "n",
            "n_positive",
            "auc",
            "auc_ci",
            "sensitivity",
            "specificity",
            "balanced_accuracy",
            "accuracy",
            "ppv",
            "npv",
            "f1",
            "brier",
            "log_loss",
            "ece",
            "threshold",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
    }

    #[test]
    fn report_needs_both_classes_and_probabilities() {
        let opts = ReportOptions::default();
        assert!(matches!(
            BinaryReport::compute(&[0.2, 0.7], &[true, true], &opts),
            Err(MetricsError::OneClass { .. })
        ));
        assert!(matches!(
            BinaryReport::compute(&[0.2, 1.7], &[true, false], &opts),
            Err(MetricsError::NotAProbability { index: 1, .. })
        ));
    }
}
