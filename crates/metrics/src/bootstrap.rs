//! Percentile bootstrap confidence intervals for the ROC AUC and for the difference of two AUCs
//! on the same cases.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::auc::Ranked;
use crate::error::{MetricsError, Result, check_both_classes, check_scores};

/// Percentile bootstrap confidence interval `(lo, hi)` for the ROC AUC.
///
/// Each resample draws `n` cases (patients: pass one score per patient) with replacement from
/// all `n`, not stratified by class, so the interval also reflects how the class balance of a
/// cohort this size varies. A resample with a single class has no AUC; it is discarded and
/// redrawn, so every one of the `n_resamples` AUCs is defined (the interval is conditional on
/// both classes being present). With at least one case of each class a draw has both classes
/// with probability >= 1/2, so the cap of `max(10 * n_resamples, 1000)` draws is a guard, not a
/// limit met in practice; past it the function errors rather than loop.
///
/// The bounds are the `(1 - confidence) / 2` and `(1 + confidence) / 2` quantiles of the
/// resample AUCs with linear interpolation (numpy's default `np.quantile` method).
///
/// Deterministic for a `seed` on every platform (ChaCha8, portable index sampling). The cases
/// are sorted once; each resample's AUC is then the Mann–Whitney statistic with the draw counts
/// as weights, O(n) per resample.
pub fn bootstrap_auc_ci(
    scores: &[f64],
    labels: &[bool],
    n_resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<(f64, f64)> {
    check_scores("bootstrap AUC interval", scores, labels)?;
    check_both_classes("bootstrap AUC interval", labels)?;
    check_resampling(n_resamples, confidence)?;

    let ranked = Ranked::new(scores);
    percentile_interval(scores.len(), n_resamples, confidence, seed, |counts| {
        ranked.weighted_auc(labels, |i| counts[i])
    })
}

/// Paired percentile bootstrap interval `(lo, hi)` for the AUC difference `auc(a) - auc(b)` of
/// two scorers on the same cases (two models scored on the same patients).
///
/// Each resample draws the same patients for both scorers, so what the two have in common (which
/// patients are hard) cancels, and the interval is far narrower than one built from the two
/// unpaired intervals. Resampling, redraws of one-class resamples and quantiles are those of
/// [`bootstrap_auc_ci`].
pub fn bootstrap_auc_difference_ci(
    scores_a: &[f64],
    scores_b: &[f64],
    labels: &[bool],
    n_resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<(f64, f64)> {
    check_scores("paired bootstrap AUC difference", scores_a, labels)?;
    check_scores("paired bootstrap AUC difference", scores_b, labels)?;
    check_both_classes("paired bootstrap AUC difference", labels)?;
    check_resampling(n_resamples, confidence)?;
    let (ra, rb) = (Ranked::new(scores_a), Ranked::new(scores_b));
    percentile_interval(labels.len(), n_resamples, confidence, seed, |counts| {
        Some(ra.weighted_auc(labels, |i| counts[i])? - rb.weighted_auc(labels, |i| counts[i])?)
    })
}

/// The percentile interval of `statistic` over `n_resamples` bootstrap resamples of `n` cases,
/// each resample given as the number of times every case was drawn. A resample whose statistic
/// is undefined (`None`: one class only) is redrawn, up to `max(10 * n_resamples, 1000)` draws.
fn percentile_interval(
    n: usize,
    n_resamples: usize,
    confidence: f64,
    seed: u64,
    statistic: impl Fn(&[u64]) -> Option<f64>,
) -> Result<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = vec![0u64; n];
    let mut values = Vec::with_capacity(n_resamples);
    let max_attempts = n_resamples.saturating_mul(10).max(1000);
    let mut attempts = 0;
    while values.len() < n_resamples {
        if attempts == max_attempts {
            return Err(MetricsError::BootstrapDegenerate {
                accepted: values.len(),
                wanted: n_resamples,
                attempts,
            });
        }
        attempts += 1;
        counts.fill(0);
        for _ in 0..n {
            counts[rng.random_range(0..n)] += 1;
        }
        if let Some(v) = statistic(&counts) {
            values.push(v);
        }
    }
    values.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Ok((quantile(&values, alpha), quantile(&values, 1.0 - alpha)))
}

/// The checks both bootstraps make of their resampling parameters.
fn check_resampling(n_resamples: usize, confidence: f64) -> Result<()> {
    if n_resamples == 0 {
        return Err(MetricsError::InvalidParameter {
            name: "n_resamples",
            value: "0".into(),
            expected: "at least 1 bootstrap resample",
        });
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(MetricsError::InvalidParameter {
            name: "confidence",
            value: confidence.to_string(),
            expected: "a level strictly between 0 and 1, e.g. 0.95",
        });
    }
    Ok(())
}

/// Linear-interpolation quantile of sorted, non-empty values (numpy's default method).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roc_auc;

    fn sample() -> (Vec<f64>, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let labels: Vec<bool> = (0..120).map(|_| rng.random_bool(0.4)).collect();
        let scores = labels
            .iter()
            .map(|&y| {
                let base = if y { 0.6 } else { 0.4 };
                ((base + rng.random_range(-0.35..0.35)) * 10.0_f64).round() / 10.0
            })
            .collect();
        (scores, labels)
    }

    #[test]
    fn deterministic_for_a_seed_and_contains_the_auc() {
        let (s, y) = sample();
        let a = bootstrap_auc_ci(&s, &y, 500, 0.95, 42).unwrap();
        assert_eq!(a, bootstrap_auc_ci(&s, &y, 500, 0.95, 42).unwrap());
        assert_ne!(a, bootstrap_auc_ci(&s, &y, 500, 0.95, 43).unwrap());
        let auc = roc_auc(&s, &y).unwrap();
        assert!(a.0 < auc && auc < a.1, "{a:?} vs {auc}");
        let narrow = bootstrap_auc_ci(&s, &y, 500, 0.5, 42).unwrap();
        assert!(a.0 <= narrow.0 && narrow.1 <= a.1);
    }

    #[test]
    fn weighted_auc_equals_auc_of_the_materialised_resample() {
        let (s, y) = sample();
        let ranked = Ranked::new(&s);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..20 {
            let draws: Vec<usize> = (0..s.len()).map(|_| rng.random_range(0..s.len())).collect();
            let mut counts = vec![0u64; s.len()];
            draws.iter().for_each(|&i| counts[i] += 1);
            let rs: Vec<f64> = draws.iter().map(|&i| s[i]).collect();
            let ry: Vec<bool> = draws.iter().map(|&i| y[i]).collect();
            let w = ranked.weighted_auc(&y, |i| counts[i]).unwrap();
            assert!((w - roc_auc(&rs, &ry).unwrap()).abs() < 1e-15);
        }
    }

    #[test]
    fn one_class_resamples_are_redrawn() {
        // Two cases: half the resamples have one class; all accepted AUCs are 1.
        let ci = bootstrap_auc_ci(&[0.9, 0.1], &[true, false], 100, 0.95, 1).unwrap();
        assert_eq!(ci, (1.0, 1.0));
    }

    #[test]
    fn paired_difference_interval_is_narrower_than_the_unpaired_one() {
        let (s, y) = sample();
        // A second scorer that shares most of the first one's errors.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let t: Vec<f64> = s
            .iter()
            .map(|v| v + rng.random_range(-0.05..0.05))
            .collect();
        let d = roc_auc(&s, &y).unwrap() - roc_auc(&t, &y).unwrap();
        let (lo, hi) = bootstrap_auc_difference_ci(&s, &t, &y, 1000, 0.95, 4).unwrap();
        assert!(lo <= d && d <= hi, "{d} not in [{lo}, {hi}]");
        let (a_lo, a_hi) = bootstrap_auc_ci(&s, &y, 1000, 0.95, 4).unwrap();
        assert!(
            hi - lo < (a_hi - a_lo) / 2.0,
            "[{lo}, {hi}] vs [{a_lo}, {a_hi}]"
        );
        // A scorer against itself differs by exactly zero in every resample.
        assert_eq!(
            bootstrap_auc_difference_ci(&s, &s, &y, 200, 0.95, 4).unwrap(),
            (0.0, 0.0)
        );
        assert!(bootstrap_auc_difference_ci(&s, &t[1..], &y, 10, 0.95, 0).is_err());
        assert!(bootstrap_auc_difference_ci(&s, &t, &y, 0, 0.95, 0).is_err());
    }

    #[test]
    fn rejects_bad_parameters() {
        let (s, y) = sample();
        for c in [0.0, 1.0, f64::NAN] {
            assert!(matches!(
                bootstrap_auc_ci(&s, &y, 10, c, 0),
                Err(MetricsError::InvalidParameter {
                    name: "confidence",
                    ..
                })
            ));
        }
        assert!(bootstrap_auc_ci(&s, &y, 0, 0.95, 0).is_err());
        assert!(bootstrap_auc_ci(&s, &[true; 120], 10, 0.95, 0).is_err());
    }
}
