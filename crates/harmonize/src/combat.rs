//! Fitting ComBat and applying a fitted model.
//!
//! Data layout: **features × samples** (one row per feature, one column per
//! sample), the layout of neuroCombat's `dat`.  The steps mirror neuroCombat
//! 0.2.12:
//!
//! 1. OLS of each feature on the design (site indicators + covariates).
//! 2. Grand mean = sample-size-weighted site intercepts (or the reference
//!    site's intercept); pooled variance = mean squared residual (divided by
//!    n, or by the reference site's n, not by n − p).
//! 3. Standardise: `z = (y − grand mean − covariate effect) / √var_pooled`.
//! 4. Per-site γ̂ (OLS of z on the site design) and δ̂² (variance of z within
//!    the site, ddof = 1), then empirical Bayes (or not) to get γ*, δ*².
//! 5. `y* = (z − γ*) / √δ*² · √var_pooled + grand mean + covariate effect`;
//!    samples of the reference site are returned unchanged.

use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};
use serde::{Deserialize, Serialize};

use crate::design::{
    Covariate, CovariateSpec, batch_block, covariate_block, sorted_levels, specs_for,
};
use crate::error::{HarmonizeError, Result};
use crate::linalg::{Cholesky, least_squares};
use crate::site_effects::{SiteEstimates, estimate_site_effects};

/// Residual standard deviation, relative to a feature's magnitude, below
/// which its pooled variance counts as zero.
const ZERO_VARIANCE_REL: f64 = 1e-10;

/// How ComBat estimates and applies the site effects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombatOptions {
    /// Parametric (normal / inverse-gamma priors, iterative solution) rather
    /// than non-parametric (likelihood-weighted average over features) EB.
    /// Ignored when `eb` is false.
    pub parametric: bool,
    /// Shrink site estimates with empirical Bayes.  `false` gives the plain
    /// location/scale adjustment with the raw per-site estimates, which is
    /// what you want with many samples per site and few features.
    pub eb: bool,
    /// Only adjust site means, not site variances (δ* = 1).  Useful when a
    /// site's spread is itself informative or when sites are very small.
    pub mean_only: bool,
    /// Harmonise towards this site: its samples are left unchanged and the
    /// grand mean and pooled variance are taken from it alone.
    pub reference_batch: Option<String>,
}

impl Default for CombatOptions {
    /// neuroCombat's defaults: parametric EB, location and scale, no reference.
    fn default() -> Self {
        Self {
            parametric: true,
            eb: true,
            mean_only: false,
            reference_batch: None,
        }
    }
}

/// Everything estimated by [`combat`], enough to harmonise new samples from
/// the same sites later ([`CombatFit::apply`]).  Serialisable so it can be
/// stored next to a trained model.
///
/// Per-feature arrays cover all features; features passed through unchanged
/// (constant in the pooled data, see `harmonised`) carry γ = 0, δ² = 1,
/// var_pooled = 0, coefficients 0 and their constant value as grand mean.
/// The priors (`gamma_bar`, `t2`, `a_prior`, `b_prior`) are per site and are
/// computed over the harmonised features only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombatFit {
    /// Options the model was fitted with.
    pub options: CombatOptions,
    /// Feature names, in row order of the data.
    pub feature_names: Vec<String>,
    /// Site labels in sorted order (`numpy.unique` order); row order of all
    /// per-site estimates.
    pub batches: Vec<String>,
    /// Training samples per site.
    pub samples_per_batch: Vec<usize>,
    /// Index of the reference site in `batches`.
    pub reference: Option<usize>,
    /// Covariates with their coding.
    pub covariates: Vec<CovariateSpec>,
    /// Design column labels: sites, then covariate columns.
    pub design_columns: Vec<String>,
    /// OLS coefficients, design columns × features (neuroCombat's `B_hat`).
    pub beta_hat: Array2<f64>,
    /// Grand mean per feature (neuroCombat's `stand.mean`).
    pub grand_mean: Array1<f64>,
    /// Mean covariate effect over the training samples, per feature
    /// (`mod.mean.mean(axis=1)`, used by [`CombatFit::apply_from_training`]).
    pub mean_covariate_effect: Array1<f64>,
    /// Pooled residual variance per feature (`var.pooled`).
    pub var_pooled: Array1<f64>,
    /// Raw site location estimates, sites × features.
    pub gamma_hat: Array2<f64>,
    /// Raw site scale estimates (variances), sites × features.
    pub delta_hat: Array2<f64>,
    /// Prior mean of γ per site.
    pub gamma_bar: Array1<f64>,
    /// Prior variance of γ per site.
    pub t2: Array1<f64>,
    /// Inverse-gamma prior shape per site (absent in mean-only mode).
    pub a_prior: Option<Array1<f64>>,
    /// Inverse-gamma prior scale per site (absent in mean-only mode).
    pub b_prior: Option<Array1<f64>>,
    /// Site location adjustments applied, sites × features.
    pub gamma_star: Array2<f64>,
    /// Site scale adjustments applied (variances), sites × features.
    pub delta_star: Array2<f64>,
    /// `false` for features passed through unchanged.
    pub harmonised: Vec<bool>,
    /// Iterations of the parametric EB solution per site (0 otherwise).
    pub iterations: Vec<usize>,
}

/// Harmonised data plus the fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct CombatResult {
    /// Harmonised data, features × samples.
    pub data: Array2<f64>,
    /// Estimates, reusable through [`CombatFit::apply`].
    pub fit: CombatFit,
}

/// Harmonise `data` (features × samples) across the sites in `batch`,
/// preserving the effect of `covariates`.  Features are named `feature_<row>`
/// in errors; use [`combat_named`] for better messages.
pub fn combat<S: AsRef<str>>(
    data: ArrayView2<f64>,
    batch: &[S],
    covariates: &[Covariate],
    options: &CombatOptions,
) -> Result<CombatResult> {
    let names: Vec<String> = (0..data.nrows()).map(|i| format!("feature_{i}")).collect();
    combat_named(data, &names, batch, covariates, options)
}

/// [`combat`] with feature names (one per row of `data`).
///
/// Features whose values are all identical are passed through unchanged and
/// flagged in [`CombatFit::harmonised`]: like R's `sva::ComBat` (and unlike
/// neuroCombat, which silently turns them into non-constant values), there is
/// no site effect to remove from a constant, and keeping them out of the
/// fit stops them from distorting the priors of the other features.
pub fn combat_named<S: AsRef<str>>(
    data: ArrayView2<f64>,
    feature_names: &[String],
    batch: &[S],
    covariates: &[Covariate],
    options: &CombatOptions,
) -> Result<CombatResult> {
    let (n_feat, n) = data.dim();
    if feature_names.len() != n_feat {
        return Err(HarmonizeError::LengthMismatch {
            what: "feature_names".into(),
            samples: n_feat,
            len: feature_names.len(),
        });
    }
    if batch.len() != n {
        return Err(HarmonizeError::LengthMismatch {
            what: "batch".into(),
            samples: n,
            len: batch.len(),
        });
    }
    check_finite(data, feature_names)?;

    // sites
    let batches = sorted_levels(batch.iter().map(AsRef::as_ref));
    if batches.len() < 2 {
        return Err(HarmonizeError::TooFewSites {
            found: batches.len(),
        });
    }
    let batch_idx = batch_indices(batch, &batches)?;
    let n_batch = batches.len();
    let mut counts = vec![0usize; n_batch];
    batch_idx.iter().for_each(|&b| counts[b] += 1);
    if let Some((b, &c)) = counts.iter().enumerate().find(|(_, c)| **c < 2) {
        return Err(HarmonizeError::TooFewSamples {
            site: batches[b].clone(),
            count: c,
        });
    }
    let reference = match &options.reference_batch {
        None => None,
        Some(r) => Some(
            batches
                .iter()
                .position(|b| b == r)
                .ok_or_else(|| HarmonizeError::UnknownReference { site: r.clone() })?,
        ),
    };
    let members: Vec<Vec<usize>> = (0..n_batch)
        .map(|b| (0..n).filter(|&i| batch_idx[i] == b).collect())
        .collect();

    // design
    let specs = specs_for(covariates);
    let cov = covariate_block(covariates, &specs, n)?;
    let xb = batch_block(&batch_idx, n_batch, reference);
    let x = ndarray::concatenate(Axis(1), &[xb.view(), cov.x.view()]).map_err(|_| {
        HarmonizeError::LengthMismatch {
            what: "covariates".into(),
            samples: n,
            len: cov.x.nrows(),
        }
    })?;
    let mut design_columns: Vec<String> = batches.iter().map(|b| format!("site[{b}]")).collect();
    design_columns.extend(cov.labels.iter().cloned());
    let chol = Cholesky::of_design(x.view()).map_err(|k| {
        let (covariate, column) = if k < n_batch {
            ("site".to_owned(), design_columns[k].clone())
        } else {
            (
                specs[cov.owner[k - n_batch]].name().to_owned(),
                design_columns[k].clone(),
            )
        };
        HarmonizeError::ConfoundedCovariate { covariate, column }
    })?;

    // features to harmonise
    let harmonised: Vec<bool> = data
        .rows()
        .into_iter()
        .map(|r| r.iter().any(|&v| v != r[0]))
        .collect();
    let keep: Vec<usize> = (0..n_feat).filter(|&f| harmonised[f]).collect();
    if keep.len() < 2 {
        return Err(HarmonizeError::TooFewFeatures { found: keep.len() });
    }
    let y = data.select(Axis(0), &keep);
    let keep_names: Vec<String> = keep.iter().map(|&f| feature_names[f].clone()).collect();

    // 1-2: OLS, grand mean, pooled variance
    let beta = least_squares(&chol, x.view(), y.view());
    let grand_mean: Array1<f64> = match reference {
        Some(r) => beta.row(r).to_owned(),
        None => {
            let mut g = Array1::<f64>::zeros(keep.len());
            for (b, &c) in counts.iter().enumerate() {
                g.scaled_add(c as f64 / n as f64, &beta.row(b));
            }
            g
        }
    };
    let fitted = x.dot(&beta); // samples × features
    let pool: Vec<usize> = match reference {
        Some(r) => members[r].clone(),
        None => (0..n).collect(),
    };
    let mut var_pooled = Array1::<f64>::zeros(keep.len());
    for (f, v) in var_pooled.iter_mut().enumerate() {
        *v = pool
            .iter()
            .map(|&i| (y[[f, i]] - fitted[[i, f]]).powi(2))
            .sum::<f64>()
            / pool.len() as f64;
        // Zero up to round-off: the least-squares fit of a feature that is
        // constant (within the reference site) or an exact function of the
        // covariates leaves residuals at the 1e-16 level of its magnitude,
        // and dividing by their spread would amplify noise into the output.
        let magnitude = pool.iter().fold(0.0f64, |m, &i| m.max(y[[f, i]].abs()));
        if !is_greater(v.sqrt(), ZERO_VARIANCE_REL * magnitude) {
            return Err(HarmonizeError::ZeroVariance {
                feature: keep_names[f].clone(),
                reference: reference.map(|r| batches[r].clone()),
            });
        }
    }
    let beta_cov = beta.slice_axis(Axis(0), Slice::from(n_batch..));
    let mod_mean = cov.x.dot(&beta_cov).reversed_axes(); // features × samples

    // 3: standardise
    let sd = var_pooled.mapv(f64::sqrt);
    let mut z = y.clone();
    for ((f, i), v) in z.indexed_iter_mut() {
        *v = (*v - grand_mean[f] - mod_mean[[f, i]]) / sd[f];
    }

    // 4: site estimates and priors
    let est = estimate_site_effects(
        z.view(),
        &xb,
        &members,
        &batches,
        reference,
        options,
        &keep_names,
    )?;

    // 5: adjust
    let mut out = data.to_owned();
    for (f, &row) in keep.iter().enumerate() {
        for i in 0..n {
            let b = batch_idx[i];
            if Some(b) == reference {
                continue; // reference samples are returned unchanged
            }
            let shift: f64 = (0..n_batch)
                .map(|c| xb[[i, c]] * est.gamma_star[[c, f]])
                .sum();
            let adj = (z[[f, i]] - shift) / est.delta_star[[b, f]].sqrt();
            out[[row, i]] = adj * sd[f] + grand_mean[f] + mod_mean[[f, i]];
        }
    }

    let fit = assemble_fit(AssembleInput {
        options,
        data,
        feature_names,
        keep: &keep,
        batches,
        counts,
        reference,
        specs,
        design_columns,
        beta: &beta,
        grand_mean: &grand_mean,
        mod_mean: &mod_mean,
        var_pooled: &var_pooled,
        est,
        harmonised,
    });
    Ok(CombatResult { data: out, fit })
}

struct AssembleInput<'a> {
    options: &'a CombatOptions,
    data: ArrayView2<'a, f64>,
    feature_names: &'a [String],
    keep: &'a [usize],
    batches: Vec<String>,
    counts: Vec<usize>,
    reference: Option<usize>,
    specs: Vec<CovariateSpec>,
    design_columns: Vec<String>,
    beta: &'a Array2<f64>,
    grand_mean: &'a Array1<f64>,
    mod_mean: &'a Array2<f64>,
    var_pooled: &'a Array1<f64>,
    est: SiteEstimates,
    harmonised: Vec<bool>,
}

/// Scatter the estimates of the harmonised features into all-feature arrays.
fn assemble_fit(a: AssembleInput<'_>) -> CombatFit {
    let n_feat = a.data.nrows();
    let n_batch = a.batches.len();
    let p = a.beta.nrows();
    let mut beta_hat = Array2::<f64>::zeros((p, n_feat));
    let mut grand_mean = Array1::<f64>::zeros(n_feat);
    let mut mean_cov = Array1::<f64>::zeros(n_feat);
    let mut var_pooled = Array1::<f64>::zeros(n_feat);
    let mut gamma_hat = Array2::<f64>::zeros((n_batch, n_feat));
    let mut delta_hat = Array2::<f64>::ones((n_batch, n_feat));
    let mut gamma_star = Array2::<f64>::zeros((n_batch, n_feat));
    let mut delta_star = Array2::<f64>::ones((n_batch, n_feat));
    for f in 0..n_feat {
        grand_mean[f] = a.data[[f, 0]];
    }
    for (k, &f) in a.keep.iter().enumerate() {
        beta_hat.column_mut(f).assign(&a.beta.column(k));
        grand_mean[f] = a.grand_mean[k];
        mean_cov[f] = a.mod_mean.row(k).mean().unwrap_or(0.0);
        var_pooled[f] = a.var_pooled[k];
        gamma_hat.column_mut(f).assign(&a.est.gamma_hat.column(k));
        delta_hat.column_mut(f).assign(&a.est.delta_hat.column(k));
        gamma_star.column_mut(f).assign(&a.est.gamma_star.column(k));
        delta_star.column_mut(f).assign(&a.est.delta_star.column(k));
    }
    CombatFit {
        options: a.options.clone(),
        feature_names: a.feature_names.to_vec(),
        batches: a.batches,
        samples_per_batch: a.counts,
        reference: a.reference,
        covariates: a.specs,
        design_columns: a.design_columns,
        beta_hat,
        grand_mean,
        mean_covariate_effect: mean_cov,
        var_pooled,
        gamma_hat,
        delta_hat,
        gamma_bar: a.est.gamma_bar,
        t2: a.est.t2,
        a_prior: a.est.a_prior,
        b_prior: a.est.b_prior,
        gamma_star,
        delta_star,
        harmonised: a.harmonised,
        iterations: a.est.iterations,
    }
}

impl CombatFit {
    /// Harmonise new samples (features × samples) from sites seen at fit time,
    /// with the same covariates (same names, kinds and order; categorical
    /// levels must have been seen).  This is the exact ComBat transform with
    /// each sample's own covariate effect, so applying the fit to its own
    /// training data reproduces [`CombatResult::data`].
    pub fn apply<S: AsRef<str>>(
        &self,
        data: ArrayView2<f64>,
        batch: &[S],
        covariates: &[Covariate],
    ) -> Result<Array2<f64>> {
        let (bidx, n) = self.check_new(data, batch)?;
        let cov = covariate_block(covariates, &self.covariates, n)?;
        let beta_cov = self
            .beta_hat
            .slice_axis(Axis(0), Slice::from(self.batches.len()..));
        let mod_mean = cov.x.dot(&beta_cov).reversed_axes();
        Ok(self.transform(data, &bidx, |f, i| self.grand_mean[f] + mod_mean[[f, i]]))
    }

    /// Harmonise new samples the way neuroCombat's `neuroCombatFromTraining`
    /// does: without their covariates, using the training samples' average
    /// covariate effect.  Provided for equality with neuroCombat; prefer
    /// [`CombatFit::apply`] when covariates are known, because this shifts
    /// every sample by the *average* covariate effect rather than its own.
    pub fn apply_from_training<S: AsRef<str>>(
        &self,
        data: ArrayView2<f64>,
        batch: &[S],
    ) -> Result<Array2<f64>> {
        let (bidx, _) = self.check_new(data, batch)?;
        Ok(self.transform(data, &bidx, |f, _| {
            self.grand_mean[f] + self.mean_covariate_effect[f]
        }))
    }

    fn check_new<S: AsRef<str>>(
        &self,
        data: ArrayView2<f64>,
        batch: &[S],
    ) -> Result<(Vec<usize>, usize)> {
        let (n_feat, n) = data.dim();
        if n_feat != self.feature_names.len() {
            return Err(HarmonizeError::FeatureCountMismatch {
                expected: self.feature_names.len(),
                found: n_feat,
            });
        }
        if batch.len() != n {
            return Err(HarmonizeError::LengthMismatch {
                what: "batch".into(),
                samples: n,
                len: batch.len(),
            });
        }
        check_finite(data, &self.feature_names)?;
        Ok((batch_indices(batch, &self.batches)?, n))
    }

    /// `y* = ((y − m) / √v − γ*) / √δ*² · √v + m` with `m` the per-sample mean.
    fn transform(
        &self,
        data: ArrayView2<f64>,
        bidx: &[usize],
        mean: impl Fn(usize, usize) -> f64,
    ) -> Array2<f64> {
        let mut out = data.to_owned();
        for ((f, i), v) in out.indexed_iter_mut() {
            let b = bidx[i];
            if !self.harmonised[f] || Some(b) == self.reference {
                continue;
            }
            let m = mean(f, i);
            let sd = self.var_pooled[f].sqrt();
            let z = (*v - m) / sd;
            *v = (z - self.gamma_star[[b, f]]) / self.delta_star[[b, f]].sqrt() * sd + m;
        }
        out
    }
}

/// `a > b`, false when either is NaN (a NaN variance must count as zero).
fn is_greater(a: f64, b: f64) -> bool {
    a.partial_cmp(&b) == Some(std::cmp::Ordering::Greater)
}

/// Map labels to indices in `levels`, naming the first unknown one.
fn batch_indices<S: AsRef<str>>(batch: &[S], levels: &[String]) -> Result<Vec<usize>> {
    batch
        .iter()
        .map(|b| {
            let b = b.as_ref();
            levels
                .iter()
                .position(|l| l == b)
                .ok_or_else(|| HarmonizeError::UnknownSite { site: b.to_owned() })
        })
        .collect()
}

fn check_finite(data: ArrayView2<f64>, names: &[String]) -> Result<()> {
    match data.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((f, i), &value)) => Err(HarmonizeError::NonFiniteData {
            feature: names[f].clone(),
            sample: i,
            value,
        }),
        None => Ok(()),
    }
}
