//! Empirical Bayes shrinkage of the per-site location (γ) and scale (δ²)
//! estimates, as in Johnson, Li & Rabinovic (2007) and neuroCombat.
//!
//! All functions work on standardised data of one site: features × samples.
//! Formulas, degrees of freedom and the convergence rule are neuroCombat's
//! (`aprior`, `bprior`, `postmean`, `postvar`, `it_sol`, `int_eprior`),
//! including its quirks, because equality with neuroCombat is the contract.

use ndarray::{Array1, ArrayView1, ArrayView2};

/// Mean, as `numpy.mean`.
pub(crate) fn mean(x: ArrayView1<f64>) -> f64 {
    x.sum() / x.len() as f64
}

/// Sample variance with `ddof = 1`, as `numpy.var(x, ddof=1)` (two-pass).
pub(crate) fn var_ddof1(x: ArrayView1<f64>) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() as f64 - 1.0)
}

/// Inverse-gamma prior shape from the method of moments on δ̂² across features.
pub(crate) fn a_prior(delta_hat: ArrayView1<f64>) -> f64 {
    let m = mean(delta_hat);
    let s2 = var_ddof1(delta_hat);
    (2.0 * s2 + m * m) / s2
}

/// Inverse-gamma prior scale from the method of moments on δ̂² across features.
pub(crate) fn b_prior(delta_hat: ArrayView1<f64>) -> f64 {
    let m = mean(delta_hat);
    let s2 = var_ddof1(delta_hat);
    (m * s2 + m * m * m) / s2
}

/// Posterior mean of γ under the normal prior N(γ̄, τ²).
pub(crate) fn postmean(g_hat: f64, g_bar: f64, n: f64, d_star: f64, t2: f64) -> f64 {
    (t2 * n * g_hat + d_star * g_bar) / (t2 * n + d_star)
}

/// Posterior mode of δ² under the inverse-gamma prior IG(a, b).
fn postvar(sum2: f64, n: f64, a: f64, b: f64) -> f64 {
    (0.5 * sum2 + b) / (n / 2.0 + a - 1.0)
}

/// neuroCombat's convergence threshold for the parametric iteration.
const CONV: f64 = 1e-4;

/// Safety net: neuroCombat loops forever if the iteration never settles.
pub(crate) const MAX_ITER: usize = 100_000;

/// `max` over a slice with numpy's NaN propagation.
fn nan_max(x: impl Iterator<Item = f64>) -> f64 {
    let mut best = f64::NEG_INFINITY;
    for v in x {
        if v.is_nan() {
            return f64::NAN;
        }
        if v > best {
            best = v;
        }
    }
    best
}

/// Parametric EB: alternate the posterior mean of γ and mode of δ² until the
/// largest relative change is at most 1e-4 (neuroCombat's `it_sol`).
///
/// The relative change is `|new − old| / old` without an absolute value in the
/// denominator, and a NaN change stops the loop, exactly as in neuroCombat
/// (and R's `sva::ComBat`).  Returns `(γ*, δ*², iterations)` or `None` after
/// [`MAX_ITER`] iterations.
pub(crate) fn it_sol(
    sdat: ArrayView2<f64>,
    g_hat: ArrayView1<f64>,
    d_hat: ArrayView1<f64>,
    g_bar: f64,
    t2: f64,
    a: f64,
    b: f64,
) -> Option<(Array1<f64>, Array1<f64>, usize)> {
    let n = sdat.ncols() as f64;
    let mut g_old = g_hat.to_owned();
    let mut d_old = d_hat.to_owned();
    let mut count = 0;
    loop {
        let g_new: Array1<f64> = g_hat
            .iter()
            .zip(d_old.iter())
            .map(|(&g, &d)| postmean(g, g_bar, n, d, t2))
            .collect();
        let d_new: Array1<f64> = sdat
            .rows()
            .into_iter()
            .zip(g_new.iter())
            .map(|(row, &g)| {
                let sum2: f64 = row.iter().map(|&x| (x - g) * (x - g)).sum();
                postvar(sum2, n, a, b)
            })
            .collect();
        let g_change = nan_max(
            g_new
                .iter()
                .zip(g_old.iter())
                .map(|(n, o)| (n - o).abs() / o),
        );
        let d_change = nan_max(
            d_new
                .iter()
                .zip(d_old.iter())
                .map(|(n, o)| (n - o).abs() / o),
        );
        // Python's builtin max(a, b): returns a unless b > a
        let change = if d_change > g_change {
            d_change
        } else {
            g_change
        };
        g_old = g_new;
        d_old = d_new;
        count += 1;
        // `while change > conv` in neuroCombat: a NaN change also stops
        if change.partial_cmp(&CONV) != Some(std::cmp::Ordering::Greater) {
            return Some((g_old, d_old, count));
        }
        if count >= MAX_ITER {
            return None;
        }
    }
}

/// Non-parametric EB (`int_eprior`): for each feature, average the other
/// features' (γ̂, δ̂²) weighted by the normal likelihood of this feature's
/// standardised values under them (a Monte-Carlo-free posterior mean over the
/// empirical prior).  NaN likelihoods count as 0 and infinite ones as the
/// largest finite double, as `numpy.nan_to_num` does.
pub(crate) fn int_eprior(
    sdat: ArrayView2<f64>,
    g_hat: ArrayView1<f64>,
    d_hat: ArrayView1<f64>,
) -> (Array1<f64>, Array1<f64>) {
    let r = sdat.nrows();
    let n = sdat.ncols() as f64;
    let mut g_star = Array1::<f64>::zeros(r);
    let mut d_star = Array1::<f64>::zeros(r);
    let norm = 2.0 * std::f64::consts::PI;
    for i in 0..r {
        let x = sdat.row(i);
        let (mut sum_lh, mut sum_glh, mut sum_dlh) = (0.0, 0.0, 0.0);
        for k in (0..r).filter(|&k| k != i) {
            let (g, d) = (g_hat[k], d_hat[k]);
            let sum2: f64 = x.iter().map(|&v| (v - g) * (v - g)).sum();
            let lh = 1.0 / (norm * d).powf(n / 2.0) * (-sum2 / (2.0 * d)).exp();
            let lh = if lh.is_nan() {
                0.0
            } else if lh == f64::INFINITY {
                f64::MAX
            } else if lh == f64::NEG_INFINITY {
                f64::MIN
            } else {
                lh
            };
            sum_lh += lh;
            sum_glh += g * lh;
            sum_dlh += d * lh;
        }
        g_star[i] = sum_glh / sum_lh;
        d_star[i] = sum_dlh / sum_lh;
    }
    (g_star, d_star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn ddof1_variance() {
        assert!((var_ddof1(array![1.0, 2.0, 3.0, 4.0].view()) - 5.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn nan_max_propagates() {
        assert!(nan_max([1.0, f64::NAN, 3.0].into_iter()).is_nan());
        assert_eq!(nan_max([1.0, -2.0].into_iter()), 1.0);
    }
}
