//! Metrics at a decision threshold, and choosing that threshold (Youden's J).

use serde::Serialize;

use crate::auc::roc_curve;
use crate::error::{MetricsError, Result, check_scores};

/// The confusion matrix at one threshold and the rates derived from it.
///
/// A rate whose denominator is zero is `NaN` ("undefined": e.g. `ppv` when nothing is predicted
/// positive, `sensitivity` when there are no positives), where scikit-learn returns 0 with a
/// warning by default (`zero_division="warn"`); with `zero_division=np.nan` sklearn gives the
/// same NaN. `NaN` serialises to `null` in JSON. Every defined value equals sklearn's
/// `recall_score` (sensitivity; specificity is recall of the negative class),
/// `precision_score` (ppv; npv is precision of the negative class), `balanced_accuracy_score`,
/// `accuracy_score` and `f1_score`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConfusionMetrics {
    /// Cases with `prob >= threshold` are predicted positive (malignant).
    pub threshold: f64,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    /// tp / (tp + fn): recall, true-positive rate.
    pub sensitivity: f64,
    /// tn / (tn + fp): true-negative rate.
    pub specificity: f64,
    /// (sensitivity + specificity) / 2; NaN when either is undefined (one class only), where
    /// sklearn would silently average the one class it has.
    pub balanced_accuracy: f64,
    /// (tp + tn) / n.
    pub accuracy: f64,
    /// tp / (tp + fp): precision, positive predictive value.
    pub ppv: f64,
    /// tn / (tn + fn): negative predictive value.
    pub npv: f64,
    /// 2 tp / (2 tp + fp + fn), sklearn's formula; it is defined (0) even when ppv is not, and
    /// NaN only with no positives and no positive predictions.
    pub f1: f64,
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

impl ConfusionMetrics {
    /// Confusion metrics predicting positive when `prob >= threshold`, the rule sklearn's
    /// `roc_curve` thresholds use, so a threshold from [`youden_threshold`] reproduces its ROC
    /// point exactly.
    ///
    /// `probs` may be any finite scores (logits too); only the threshold's meaning changes.
    pub fn at_threshold(probs: &[f64], labels: &[bool], threshold: f64) -> Result<Self> {
        check_scores("confusion metrics", probs, labels)?;
        if threshold.is_nan() {
            return Err(MetricsError::InvalidParameter {
                name: "threshold",
                value: "NaN".into(),
                expected: "a number (cases with prob >= threshold are predicted positive)",
            });
        }
        let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
        for (&p, &y) in probs.iter().zip(labels) {
            match (p >= threshold, y) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, false) => tn += 1,
                (false, true) => fn_ += 1,
            }
        }
        let sensitivity = ratio(tp, tp + fn_);
        let specificity = ratio(tn, tn + fp);
        Ok(ConfusionMetrics {
            threshold,
            tp,
            fp,
            tn,
            fn_,
            sensitivity,
            specificity,
            balanced_accuracy: (specificity + sensitivity) / 2.0,
            accuracy: ratio(tp + tn, probs.len()),
            ppv: ratio(tp, tp + fp),
            npv: ratio(tn, tn + fn_),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
        })
    }
}

/// The threshold maximising Youden's J = tpr - fpr (sensitivity + specificity - 1) over the
/// thresholds of [`roc_curve`].
///
/// The leading `+inf` threshold (predict nothing positive, J = 0) is never returned, so the
/// result is always one of the scores. Among equal J the highest threshold wins (the first, as
/// `np.argmax` picks), i.e. the more specific operating point. The points `roc_curve` drops
/// lie on straight segments, where J is linear, so they cannot beat the points kept.
pub fn youden_threshold(scores: &[f64], labels: &[bool]) -> Result<f64> {
    let curve = roc_curve(scores, labels)?;
    let mut best = (f64::NEG_INFINITY, f64::NAN);
    for k in 1..curve.thresholds.len() {
        let j = curve.tpr[k] - curve.fpr[k];
        if j > best.0 {
            best = (j, curve.thresholds[k]);
        }
    }
    Ok(best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_undefined_rates() {
        let m =
            ConfusionMetrics::at_threshold(&[0.2, 0.5, 0.7], &[false, false, false], 0.5).unwrap();
        assert_eq!((m.tp, m.fp, m.tn, m.fn_), (0, 2, 1, 0));
        assert!(m.sensitivity.is_nan() && m.balanced_accuracy.is_nan());
        assert_eq!(m.specificity, 1.0 / 3.0);
        assert_eq!(m.ppv, 0.0);
        assert!(m.npv == 1.0 && m.f1 == 0.0);
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            json.contains("\"fn\":0") && json.contains("\"sensitivity\":null"),
            "{json}"
        );
    }

    #[test]
    fn rejects_nan() {
        assert!(ConfusionMetrics::at_threshold(&[0.1], &[true], f64::NAN).is_err());
        assert!(matches!(
            ConfusionMetrics::at_threshold(&[f64::NAN], &[true], 0.5),
            Err(MetricsError::NonFinite { index: 0, .. })
        ));
        assert!(matches!(
            ConfusionMetrics::at_threshold(&[0.1, 0.2], &[true], 0.5),
            Err(MetricsError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn youden_threshold_reproduces_its_roc_point() {
        let s = [0.1, 0.3, 0.35, 0.4, 0.8, 0.8, 0.9];
        let y = [false, false, true, false, true, false, true];
        let t = youden_threshold(&s, &y).unwrap();
        assert_eq!(t, 0.35);
        let m = ConfusionMetrics::at_threshold(&s, &y, t).unwrap();
        assert_eq!((m.tp, m.fp), (3, 2));
        // All scores equal: the only finite threshold.
        assert_eq!(
            youden_threshold(&[0.5; 4], &[true, false, true, false]).unwrap(),
            0.5
        );
    }
}
