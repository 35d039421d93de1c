//! ROC AUC and the ROC curve, equal to `sklearn.metrics.roc_auc_score` and `roc_curve`.

use std::cmp::Ordering;

use serde::{Serialize, Serializer};

use crate::error::{Result, check_both_classes, check_scores};

/// Cases sorted by score (ascending) and split into groups of equal score.
///
/// Sorting once lets the bootstrap recompute the AUC of every resample in O(n) with case weights
/// instead of sorting each resample again.
pub(crate) struct Ranked {
    /// Case indices, ascending by score.
    order: Vec<usize>,
    /// Start of each tie group in `order`, then `order.len()`.
    bounds: Vec<usize>,
}

impl Ranked {
    /// Scores must be finite (checked by the caller).
    pub(crate) fn new(scores: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        // partial_cmp, not total_cmp: -0.0 and 0.0 are the same score and must tie.
        order.sort_by(|&a, &b| scores[a].partial_cmp(&scores[b]).unwrap_or(Ordering::Equal));
        let mut bounds = vec![0];
        for k in 1..order.len() {
            if scores[order[k]] != scores[order[k - 1]] {
                bounds.push(k);
            }
        }
        bounds.push(order.len());
        Ranked { order, bounds }
    }

    /// Mann–Whitney AUC with integer case weights (1 for the plain AUC, the number of times a
    /// case was drawn for a bootstrap resample): the probability that a random positive scores
    /// above a random negative, ties counted 1/2. `None` if a class has zero total weight.
    ///
    /// The numerator is summed in integers, so the only rounding is the final division.
    pub(crate) fn weighted_auc(
        &self,
        labels: &[bool],
        weight: impl Fn(usize) -> u64,
    ) -> Option<f64> {
        // Twice the Mann–Whitney U: each group adds pos * (2 * negatives_below + neg_in_group).
        let (mut twice_u, mut neg_below, mut pos_total) = (0u128, 0u128, 0u128);
        for g in self.bounds.windows(2) {
            let (mut pos, mut neg) = (0u128, 0u128);
            for &i in &self.order[g[0]..g[1]] {
                let w = u128::from(weight(i));
                if labels[i] { pos += w } else { neg += w }
            }
            twice_u += pos * (2 * neg_below + neg);
            neg_below += neg;
            pos_total += pos;
        }
        if pos_total == 0 || neg_below == 0 {
            return None;
        }
        Some(twice_u as f64 / (2.0 * pos_total as f64 * neg_below as f64))
    }
}

/// Area under the ROC curve, equal to `sklearn.metrics.roc_auc_score` for binary labels,
/// ties included.
///
/// Computed as the Mann–Whitney statistic (a tied positive/negative pair counts 1/2), which is
/// exactly the trapezoidal area under sklearn's curve, in O(n log n). Errors instead of
/// sklearn's NaN-with-warning when only one class is present, because a NaN AUC in a
/// metrics file is easy to miss.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check_scores("ROC AUC", scores, labels)?;
    check_both_classes("ROC AUC", labels)?;
    Ranked::new(scores)
        .weighted_auc(labels, |_| 1)
        .ok_or(crate::MetricsError::OneClass {
            metric: "ROC AUC",
            present: "one class",
            n: labels.len(),
        })
}

/// An ROC curve as `sklearn.metrics.roc_curve` (default `drop_intermediate=True`) returns it.
///
/// `thresholds` descend; point `k` is the (fpr, tpr) of "predict positive when
/// `score >= thresholds[k]`". The first threshold is `+inf` (nothing predicted positive, the point (0, 0)),
/// as in scikit-learn >= 1.3. JSON has no infinity, so non-finite thresholds serialise as `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocCurve {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    #[serde(serialize_with = "non_finite_as_null")]
    pub thresholds: Vec<f64>,
}

fn non_finite_as_null<S: Serializer>(values: &[f64], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(|v| v.is_finite().then_some(*v)))
}

/// The ROC curve, equal to `sklearn.metrics.roc_curve(labels, scores)`.
///
/// One point per distinct score, minus the points sklearn drops with `drop_intermediate=True`
/// (collinear interior points: they never change the curve, the AUC or the Youden optimum),
/// plus the leading (0, 0) point at threshold `+inf`. Errors when only one class is present,
/// where sklearn returns a NaN axis with a warning.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<RocCurve> {
    check_scores("ROC curve", scores, labels)?;
    let (n_pos, n_neg) = check_both_classes("ROC curve", labels)?;
    let ranked = Ranked::new(scores);

    // Cumulative counts at each distinct score, highest score first.
    let (mut fps, mut tps, mut thresholds) = (Vec::new(), Vec::new(), Vec::new());
    let (mut fp, mut tp) = (0i64, 0i64);
    for g in ranked.bounds.windows(2).rev() {
        for &i in &ranked.order[g[0]..g[1]] {
            if labels[i] { tp += 1 } else { fp += 1 }
        }
        fps.push(fp);
        tps.push(tp);
        thresholds.push(scores[ranked.order[g[0]]]);
    }

    // sklearn keeps the ends and every point where the second difference of fps or tps is
    // non-zero (a corner).
    let keep: Vec<usize> = if fps.len() > 2 {
        let last = fps.len() - 1;
        let corner = |v: &[i64], k: usize| v[k - 1] - 2 * v[k] + v[k + 1] != 0;
        (0..=last)
            .filter(|&k| k == 0 || k == last || corner(&fps, k) || corner(&tps, k))
            .collect()
    } else {
        (0..fps.len()).collect()
    };

    let mut curve = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for k in keep {
        curve.fpr.push(fps[k] as f64 / n_neg as f64);
        curve.tpr.push(tps[k] as f64 / n_pos as f64);
        curve.thresholds.push(thresholds[k]);
    }
    Ok(curve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricsError;

    #[test]
    fn auc_counts_ties_as_half() {
        // Pairs (pos, neg): (0.8 > 0.4) 1, (0.8 > 0.4) 1, (0.4 = 0.4) 1/2, (0.4 vs 0.4) 1/2.
        let auc = roc_auc(&[0.8, 0.4, 0.4, 0.4], &[true, true, false, false]).unwrap();
        assert_eq!(auc, 0.75);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let auc = roc_auc(&[-0.0, 0.0], &[true, false]).unwrap();
        assert_eq!(auc, 0.5);
    }

    #[test]
    fn errors_on_bad_input() {
        assert!(matches!(
            roc_auc(&[0.1, 0.2], &[true, true]),
            Err(MetricsError::OneClass { .. })
        ));
        assert!(matches!(
            roc_auc(&[0.1, f64::NAN], &[true, false]),
            Err(MetricsError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            roc_auc(&[0.1], &[true, false]),
            Err(MetricsError::LengthMismatch {
                scores: 1,
                labels: 2
            })
        ));
        assert!(matches!(roc_auc(&[], &[]), Err(MetricsError::Empty { .. })));
        assert!(matches!(
            roc_curve(&[0.1, 0.2], &[false, false]),
            Err(MetricsError::OneClass { .. })
        ));
    }

    #[test]
    fn roc_thresholds_serialise_inf_as_null() {
        let curve = roc_curve(&[0.9, 0.1], &[true, false]).unwrap();
        assert_eq!(curve.thresholds[0], f64::INFINITY);
        let json = serde_json::to_string(&curve).unwrap();
        assert!(json.contains("\"thresholds\":[null,0.9,0.1]"), "{json}");
    }
}
