//! Percentile bootstrap confidence intervals for the ROC AUC, for the difference of two AUCs
//! on the same cases, and for shares of a total (modality shares of an explanation).

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

/// Shares of a total with their bootstrap uncertainty: see [`bootstrap_share_intervals`].
#[derive(Debug, Clone, PartialEq)]
pub struct ShareIntervals {
    /// `Σ_cases x[c][k] / Σ_cases Σ_j x[c][j]` on the cases as given.
    pub shares: Vec<f64>,
    /// Percentile interval of each share.
    pub share_ci: Vec<(f64, f64)>,
    /// `difference_ci[a][b]`: percentile interval of `share[a] - share[b]`, from the same
    /// resamples (paired), so what the two columns have in common cancels.
    pub difference_ci: Vec<Vec<(f64, f64)>>,
    /// `order_frequency[a][b]`: fraction of resamples in which `share[a] > share[b]`.
    pub order_frequency: Vec<Vec<f64>>,
}

/// Percentile bootstrap intervals for the shares `Σ_c x[c][k] / Σ_c Σ_j x[c][j]` of a table of
/// non-negative contributions, one row per case (per patient: the `|φ|` of each modality in
/// an explanation), and for the difference of every two shares.
///
/// Why: a ranking of shares estimated on a few dozen patients can swap two columns whose
/// shares differ by less than the sampling spread; the difference intervals say whether the
/// data can tell them apart. Every statistic is computed on the same resamples (cases drawn
/// with replacement, as in [`bootstrap_auc_ci`]); a resample whose total is 0 has no shares and
/// is redrawn. Quantiles and determinism are those of [`bootstrap_auc_ci`].
pub fn bootstrap_share_intervals(
    rows: &[Vec<f64>],
    n_resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<ShareIntervals> {
    let metric = "bootstrap share intervals";
    let Some(width) = rows.first().map(Vec::len) else {
        return Err(MetricsError::Empty { metric });
    };
    if let Some(r) = rows.iter().find(|r| r.len() != width) {
        return Err(MetricsError::LengthMismatch {
            scores: r.len(),
            labels: width,
        });
    }
    for (index, &value) in rows.iter().flatten().enumerate() {
        if !value.is_finite() {
            return Err(MetricsError::NonFinite { index, value });
        }
        if value < 0.0 {
            return Err(MetricsError::InvalidParameter {
                name: "contribution",
                value: value.to_string(),
                expected: "non-negative contributions (pass |φ|, not φ)",
            });
        }
    }
    check_resampling(n_resamples, confidence)?;
    let shares_of = |counts: Option<&[u64]>| -> Option<Vec<f64>> {
        let mut total = vec![0.0; width];
        for (c, row) in rows.iter().enumerate() {
            let w = counts.map_or(1.0, |k| k[c] as f64);
            if w > 0.0 {
                total.iter_mut().zip(row).for_each(|(t, v)| *t += w * v);
            }
        }
        let sum: f64 = total.iter().sum();
        (sum > 0.0).then(|| total.into_iter().map(|t| t / sum).collect())
    };
    let shares = shares_of(None).ok_or(MetricsError::InvalidParameter {
        name: "contributions",
        value: "all 0".into(),
        expected: "at least one positive contribution",
    })?;
    // Statistics per resample: the `width` shares, then `share[a] - share[b]` for every a, b.
    let stats = width + width * width;
    let draws = resample_statistics(rows.len(), n_resamples, seed, stats, |counts, out| {
        let s = shares_of(Some(counts))?;
        out[..width].copy_from_slice(&s);
        for a in 0..width {
            for b in 0..width {
                out[width + a * width + b] = s[a] - s[b];
            }
        }
        Some(())
    })?;
    let alpha = (1.0 - confidence) / 2.0;
    let interval = |k: usize| {
        let mut v: Vec<f64> = draws.iter().map(|d| d[k]).collect();
        v.sort_by(f64::total_cmp);
        (quantile(&v, alpha), quantile(&v, 1.0 - alpha))
    };
    let pair = |a: usize, b: usize| width + a * width + b;
    Ok(ShareIntervals {
        share_ci: (0..width).map(interval).collect(),
        difference_ci: (0..width)
            .map(|a| (0..width).map(|b| interval(pair(a, b))).collect())
            .collect(),
        order_frequency: (0..width)
            .map(|a| {
                (0..width)
                    .map(|b| {
                        draws.iter().filter(|d| d[pair(a, b)] > 0.0).count() as f64
                            / draws.len() as f64
                    })
                    .collect()
            })
            .collect(),
        shares,
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
    let draws = resample_statistics(n, n_resamples, seed, 1, |counts, out| {
        out[0] = statistic(counts)?;
        Some(())
    })?;
    let mut values: Vec<f64> = draws.into_iter().map(|d| d[0]).collect();
    values.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Ok((quantile(&values, alpha), quantile(&values, 1.0 - alpha)))
}

/// `stats` statistics of each of `n_resamples` accepted bootstrap resamples of `n` cases. A
/// resample is given to `statistic` as the number of times every case was drawn; one it
/// rejects (`None`) is redrawn, up to `max(10 * n_resamples, 1000)` draws in all.
fn resample_statistics(
    n: usize,
    n_resamples: usize,
    seed: u64,
    stats: usize,
    statistic: impl Fn(&[u64], &mut [f64]) -> Option<()>,
) -> Result<Vec<Vec<f64>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = vec![0u64; n];
    let mut values = Vec::with_capacity(n_resamples);
    let max_attempts = n_resamples.saturating_mul(10).max(1000);
    let mut attempts = 0;
    let mut out = vec![0.0; stats];
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
        if statistic(&counts, &mut out).is_some() {
            values.push(out.clone());
        }
    }
    Ok(values)
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

    /// Three columns: 0 clearly largest, 1 and 2 drawn from the same distribution.
    fn contributions() -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        (0..60)
            .map(|_| {
                vec![
                    rng.random_range(1.0..3.0),
                    rng.random_range(0.0..1.0),
                    rng.random_range(0.0..1.0),
                ]
            })
            .collect()
    }

    #[test]
    fn share_intervals_contain_the_shares_and_separate_only_what_differs() {
        let rows = contributions();
        let a = bootstrap_share_intervals(&rows, 800, 0.95, 11).unwrap();
        assert_eq!(a, bootstrap_share_intervals(&rows, 800, 0.95, 11).unwrap());
        assert!((a.shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let total: f64 = rows.iter().flatten().sum();
        let first: f64 = rows.iter().map(|r| r[0]).sum();
        assert!((a.shares[0] - first / total).abs() < 1e-12);
        for (s, (lo, hi)) in a.shares.iter().zip(&a.share_ci) {
            assert!(lo < s && s < hi, "{s} not in [{lo}, {hi}]");
        }
        // Column 0 is told apart from both others; 1 and 2 are not told apart.
        assert!(a.difference_ci[0][1].0 > 0.0 && a.difference_ci[0][2].0 > 0.0);
        let (lo, hi) = a.difference_ci[1][2];
        assert!(lo < 0.0 && 0.0 < hi, "[{lo}, {hi}]");
        assert_eq!(a.order_frequency[0][1], 1.0);
        assert!((a.order_frequency[1][2] + a.order_frequency[2][1] - 1.0).abs() < 1e-12);
        assert_eq!(a.difference_ci[1][1], (0.0, 0.0));
        // The difference interval is the mirror image of the reverse difference.
        let (rlo, rhi) = a.difference_ci[2][1];
        assert!((rlo + hi).abs() < 1e-12 && (rhi + lo).abs() < 1e-12);
    }

    #[test]
    fn share_intervals_refuse_bad_tables() {
        let bad = |rows: Vec<Vec<f64>>| bootstrap_share_intervals(&rows, 100, 0.95, 1).is_err();
        assert!(bad(vec![]));
        assert!(bad(vec![vec![1.0, 2.0], vec![1.0]]));
        assert!(bad(vec![vec![1.0, -0.5]]));
        assert!(bad(vec![vec![1.0, f64::NAN]]));
        assert!(bad(vec![vec![0.0, 0.0]]));
        assert!(bootstrap_share_intervals(&contributions(), 0, 0.95, 1).is_err());
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
