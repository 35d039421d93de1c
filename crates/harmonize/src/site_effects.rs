//! Step 4 of ComBat: per-site location/scale estimates on the standardised
//! data and their empirical Bayes adjustment (or not, with `eb = false`).

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::combat::CombatOptions;
use crate::eb;
use crate::error::{HarmonizeError, Result};
use crate::linalg::{Cholesky, least_squares};

/// Per-site estimates over the harmonised features (sites × features).
pub(crate) struct SiteEstimates {
    pub(crate) gamma_hat: Array2<f64>,
    pub(crate) delta_hat: Array2<f64>,
    pub(crate) gamma_bar: Array1<f64>,
    pub(crate) t2: Array1<f64>,
    pub(crate) a_prior: Option<Array1<f64>>,
    pub(crate) b_prior: Option<Array1<f64>>,
    pub(crate) gamma_star: Array2<f64>,
    pub(crate) delta_star: Array2<f64>,
    pub(crate) iterations: Vec<usize>,
}

/// Step 4: γ̂, δ̂², priors and the (empirical Bayes) adjustments γ*, δ*².
pub(crate) fn estimate_site_effects(
    z: ArrayView2<f64>,
    xb: &Array2<f64>,
    members: &[Vec<usize>],
    batches: &[String],
    reference: Option<usize>,
    options: &CombatOptions,
    names: &[String],
) -> Result<SiteEstimates> {
    let n_batch = batches.len();
    let n_feat = z.nrows();
    let chol_b =
        Cholesky::of_design(xb.view()).map_err(|k| HarmonizeError::ConfoundedCovariate {
            covariate: "site".into(),
            column: batches.get(k).cloned().unwrap_or_default(),
        })?;
    let gamma_hat = least_squares(&chol_b, xb.view(), z); // sites × features
    let mut delta_hat = Array2::<f64>::ones((n_batch, n_feat));
    if !options.mean_only {
        for (b, idx) in members.iter().enumerate() {
            let zb = z.select(Axis(1), idx);
            for f in 0..n_feat {
                let v = eb::var_ddof1(zb.row(f));
                delta_hat[[b, f]] = if v == 0.0 { 1.0 } else { v };
            }
        }
    }
    let gamma_bar: Array1<f64> = gamma_hat.rows().into_iter().map(eb::mean).collect();
    let t2: Array1<f64> = gamma_hat.rows().into_iter().map(eb::var_ddof1).collect();
    let (a_prior, b_prior) = if options.mean_only {
        (None, None)
    } else {
        (
            Some(
                delta_hat
                    .rows()
                    .into_iter()
                    .map(eb::a_prior)
                    .collect::<Array1<f64>>(),
            ),
            Some(
                delta_hat
                    .rows()
                    .into_iter()
                    .map(eb::b_prior)
                    .collect::<Array1<f64>>(),
            ),
        )
    };

    let mut gamma_star = gamma_hat.clone();
    let mut delta_star = delta_hat.clone();
    let mut iterations = vec![0usize; n_batch];
    if options.eb {
        for (b, idx) in members.iter().enumerate() {
            let zb = z.select(Axis(1), idx);
            let (g, d) = if options.parametric {
                if options.mean_only {
                    let g = gamma_hat
                        .row(b)
                        .mapv(|gh| eb::postmean(gh, gamma_bar[b], 1.0, 1.0, t2[b]));
                    (g, Array1::ones(n_feat))
                } else {
                    let (a, bb) = match (&a_prior, &b_prior) {
                        (Some(a), Some(bp)) => (a[b], bp[b]),
                        _ => (f64::NAN, f64::NAN),
                    };
                    let (g, d, it) = eb::it_sol(
                        zb.view(),
                        gamma_hat.row(b),
                        delta_hat.row(b),
                        gamma_bar[b],
                        t2[b],
                        a,
                        bb,
                    )
                    .ok_or_else(|| HarmonizeError::NoConvergence {
                        site: batches[b].clone(),
                        iterations: eb::MAX_ITER,
                    })?;
                    iterations[b] = it;
                    (g, d)
                }
            } else {
                eb::int_eprior(zb.view(), gamma_hat.row(b), delta_hat.row(b))
            };
            gamma_star.row_mut(b).assign(&g);
            delta_star.row_mut(b).assign(&d);
        }
    }
    if let Some(r) = reference {
        gamma_star.row_mut(r).fill(0.0);
        delta_star.row_mut(r).fill(1.0);
    }
    for ((b, f), &v) in gamma_star.indexed_iter() {
        if !v.is_finite() {
            return Err(HarmonizeError::NonFiniteEstimate {
                what: "location (gamma*)",
                feature: names[f].clone(),
                site: batches[b].clone(),
            });
        }
    }
    for ((b, f), &v) in delta_star.indexed_iter() {
        if !(v.is_finite() && v > 0.0) {
            return Err(HarmonizeError::NonFiniteEstimate {
                what: "scale (delta*)",
                feature: names[f].clone(),
                site: batches[b].clone(),
            });
        }
    }
    Ok(SiteEstimates {
        gamma_hat,
        delta_hat,
        gamma_bar,
        t2,
        a_prior,
        b_prior,
        gamma_star,
        delta_star,
        iterations,
    })
}
