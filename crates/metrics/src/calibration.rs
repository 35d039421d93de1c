//! Reliability curve and expected calibration error, equal to
//! `sklearn.calibration.calibration_curve(strategy="uniform")`.

use serde::Serialize;

use crate::error::{MetricsError, Result, check_probs};

/// A reliability curve: per non-empty bin, the observed fraction of positives against the mean
/// predicted probability, and how many cases fell in the bin.
///
/// Empty bins are left out, as sklearn leaves them out, so the vectors can be shorter than
/// `n_bins` and index `k` is not bin `k`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationCurve {
    /// Fraction of positives in each non-empty bin (sklearn's `prob_true`).
    pub prob_true: Vec<f64>,
    /// Mean predicted probability in each non-empty bin (sklearn's `prob_pred`).
    pub prob_pred: Vec<f64>,
    /// Cases in each non-empty bin (sklearn computes these but does not return them).
    pub counts: Vec<usize>,
}

/// The reliability curve with `n_bins` equal-width bins on [0, 1], equal to
/// `sklearn.calibration.calibration_curve(labels, probs, n_bins=n_bins, strategy="uniform")`.
///
/// Binning is sklearn's exactly: the edges are `np.linspace(0, 1, n_bins + 1)` (edge `i` is
/// `i * (1 / n_bins)`, so 3 * 0.1 = 0.30000000000000004) and a probability goes to bin
/// `np.searchsorted(edges[1:-1], p)`, the number of inner edges strictly below it. So a
/// probability exactly on an edge belongs to the bin below it (0.5 is in [0.4, 0.5] with ten
/// bins), 0 to the first bin and 1 to the last.
pub fn calibration_curve(
    probs: &[f64],
    labels: &[bool],
    n_bins: usize,
) -> Result<CalibrationCurve> {
    check_probs("calibration curve", probs, labels)?;
    if n_bins == 0 {
        return Err(MetricsError::InvalidParameter {
            name: "n_bins",
            value: "0".into(),
            expected: "at least 1 bin",
        });
    }
    let width = 1.0 / n_bins as f64;
    let inner: Vec<f64> = (1..n_bins).map(|i| i as f64 * width).collect();
    let (mut sums, mut positives, mut counts) =
        (vec![0.0; n_bins], vec![0.0; n_bins], vec![0usize; n_bins]);
    // Input order, one running sum per bin, as np.bincount accumulates.
    for (&p, &y) in probs.iter().zip(labels) {
        let bin = inner.partition_point(|&edge| edge < p);
        sums[bin] += p;
        positives[bin] += if y { 1.0 } else { 0.0 };
        counts[bin] += 1;
    }
    let mut curve = CalibrationCurve {
        prob_true: Vec::new(),
        prob_pred: Vec::new(),
        counts: Vec::new(),
    };
    for bin in (0..n_bins).filter(|&b| counts[b] > 0) {
        let total = counts[bin] as f64;
        curve.prob_true.push(positives[bin] / total);
        curve.prob_pred.push(sums[bin] / total);
        curve.counts.push(counts[bin]);
    }
    Ok(curve)
}

/// Expected calibration error: `sum over non-empty bins of count / N * |prob_true - prob_pred|`,
/// on exactly the bins of [`calibration_curve`] (equal width, sklearn's edge rule).
///
/// ECE has several definitions in the literature (equal-mass bins, the confidence of the
/// predicted class in [0.5, 1] instead of the positive-class probability, other bin counts);
/// this one is the weighted gap of the reliability diagram oncolens plots, so the number and the
/// figure always agree. It depends on `n_bins` (10 is customary).
pub fn expected_calibration_error(probs: &[f64], labels: &[bool], n_bins: usize) -> Result<f64> {
    let curve = calibration_curve(probs, labels, n_bins)?;
    let n = probs.len() as f64;
    Ok(curve
        .counts
        .iter()
        .zip(curve.prob_true.iter().zip(&curve.prob_pred))
        .map(|(&c, (t, p))| c as f64 / n * (t - p).abs())
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_values_go_to_the_bin_below() {
        // Ten bins: 0.1 -> bin 0, 0.3 (below the 0.30000000000000004 edge) -> bin 2, 1.0 -> 9.
        let c = calibration_curve(&[0.0, 0.1, 0.3, 1.0], &[false, true, false, true], 10).unwrap();
        assert_eq!(c.counts, vec![2, 1, 1]);
        assert_eq!(c.prob_true, vec![0.5, 0.0, 1.0]);
        assert_eq!(c.prob_pred, vec![0.05, 0.3, 1.0]);
    }

    #[test]
    fn ece_is_zero_when_calibrated_per_bin() {
        let probs = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
        let labels = [true, false, false, false, true, true, true, false];
        assert_eq!(
            expected_calibration_error(&probs, &labels, 10).unwrap(),
            0.0
        );
        assert_eq!(
            expected_calibration_error(&[0.9], &[false], 10).unwrap(),
            0.9
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            calibration_curve(&[1.5], &[true], 10),
            Err(MetricsError::NotAProbability { index: 0, .. })
        ));
        assert!(calibration_curve(&[0.5], &[true], 0).is_err());
        assert!(calibration_curve(&[f64::NAN], &[true], 10).is_err());
        assert!(calibration_curve(&[], &[], 10).is_err());
    }
}
