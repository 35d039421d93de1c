//! Cox proportional-hazards regression by Newton-Raphson on the partial likelihood.
//!
//! The fit runs on standardised covariates (mean 0, sample standard deviation 1), as lifelines
//! does: the Newton steps are better conditioned, and the ridge penalty (lifelines'
//! `penalizer`, `n · λ · ½ Σ β²` on the standardised scale) means the same thing whatever a
//! covariate's unit. Coefficients and their covariance are reported on the original scale.

use oncolens_core::linalg::solve;
use oncolens_core::newton::{self, NewtonError, NewtonOptions};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::concordance::{Concordance, concordance_of_risk, concordance_within_strata};
use crate::data::SurvivalData;
use crate::error::SurvivalError;

/// How events at the same time share a risk set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// Efron's approximation (lifelines, R `survival::coxph`): the tied events leave the risk
    /// set gradually. Closer to the exact partial likelihood when ties are many.
    #[default]
    Efron,
    /// Breslow's approximation (statsmodels' `PHReg` default, SAS): every tied event sees the
    /// whole risk set.
    Breslow,
}

/// Settings of [`fit_cox`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoxOptions {
    pub ties: Ties,
    /// Ridge penalty λ on the standardised coefficients (0: maximum partial likelihood).
    /// Shrinks towards no effect; makes a fit exist when a covariate separates the events.
    pub penalizer: f64,
    pub max_iterations: usize,
    /// Converged when no standardised coefficient moves more than this in a Newton step.
    pub tolerance: f64,
}

impl Default for CoxOptions {
    fn default() -> Self {
        Self {
            ties: Ties::Efron,
            penalizer: 0.0,
            max_iterations: 100,
            tolerance: 1e-10,
        }
    }
}

/// One covariate's estimate with its Wald test.
#[derive(Debug, Clone, Serialize)]
pub struct CoxCoefficient {
    pub name: String,
    /// Log hazard ratio per unit of the covariate.
    pub coef: f64,
    pub hazard_ratio: f64,
    pub se: f64,
    pub z: f64,
    /// Two-sided Wald p-value.
    pub p: f64,
    pub coef_lower_95: f64,
    pub coef_upper_95: f64,
    pub hazard_ratio_lower_95: f64,
    pub hazard_ratio_upper_95: f64,
}

/// Likelihood-ratio test of the fitted model against no covariate effect.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LikelihoodRatioTest {
    pub statistic: f64,
    pub degrees_of_freedom: usize,
    pub p: f64,
}

/// Breslow's estimate of one stratum's baseline cumulative hazard, at the covariate means.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineHazard {
    /// Stratum label (empty without strata).
    pub stratum: String,
    /// Distinct event times of the stratum, increasing.
    pub times: Vec<f64>,
    pub cumulative_hazard: Vec<f64>,
}

/// A fitted Cox model.
#[derive(Debug, Clone, Serialize)]
pub struct CoxFit {
    pub options: CoxOptions,
    pub patients: usize,
    pub events: usize,
    /// Stratum labels (empty: one baseline hazard).
    pub strata: Vec<String>,
    pub covariates: Vec<CoxCoefficient>,
    /// Covariate means: the linear predictor is centred on them (as lifelines does).
    pub means: Vec<f64>,
    /// Covariance of the coefficients (inverse of the penalised information).
    pub covariance: Vec<Vec<f64>>,
    /// Log partial likelihood at the estimate, less the penalty when there is one.
    pub log_likelihood: f64,
    /// Log partial likelihood with every coefficient 0.
    pub null_log_likelihood: f64,
    pub likelihood_ratio: LikelihoodRatioTest,
    /// `-2 log_likelihood + 2 k`.
    pub aic_partial: f64,
    /// Harrell's C of the linear predictor on the fitted patients (within strata when there
    /// are strata).
    pub concordance: Concordance,
    pub iterations: usize,
    pub baseline: Vec<BaselineHazard>,
}

impl CoxFit {
    /// Log partial hazard of covariate values `x` (in covariate order): `Σ β (x - mean)`.
    pub fn log_partial_hazard(&self, x: &[f64]) -> f64 {
        self.covariates
            .iter()
            .zip(x.iter().zip(&self.means))
            .map(|(c, (v, m))| c.coef * (v - m))
            .sum()
    }

    /// Survival probability at `time` of a patient with covariates `x` in stratum `stratum`
    /// (empty without strata): `exp(-H0(time) · exp(log partial hazard))`. `None` for an
    /// unknown stratum.
    pub fn survival(&self, x: &[f64], stratum: &str, time: f64) -> Option<f64> {
        let b = self.baseline.iter().find(|b| b.stratum == stratum)?;
        let k = b.times.partition_point(|&t| t <= time);
        let h0 = if k == 0 {
            0.0
        } else {
            b.cumulative_hazard[k - 1]
        };
        Some((-h0 * self.log_partial_hazard(x).exp()).exp())
    }
}

/// The log partial likelihood, its gradient and its information (negative Hessian) at
/// standardised coefficients: what a data station returns for one Newton step of a federated
/// fit, and what several stations' answers add up to (strata: one per station).
pub type CoxTerms = oncolens_core::newton::Terms;

pub use oncolens_core::newton::Standardisation;

fn check(standardisation: &Standardisation, d: usize) -> Result<(), SurvivalError> {
    standardisation
        .problem(d)
        .map_or(Ok(()), |p| Err(SurvivalError::Option(p)))
}

/// Standardised covariates of `data`, row by row.
fn standardise(standardisation: &Standardisation, data: &SurvivalData) -> Vec<f64> {
    let (n, d) = (data.len(), data.names.len());
    let mut z = vec![0.0; n * d];
    for (j, column) in data.columns.iter().enumerate() {
        for (i, v) in column.iter().enumerate() {
            z[i * d + j] = (v - standardisation.centre[j]) / standardisation.scale[j];
        }
    }
    z
}

/// Rows of each stratum, by decreasing time.
fn strata_orders(data: &SurvivalData) -> Vec<Vec<usize>> {
    let count = data.strata_names.len().max(1);
    let mut orders = vec![Vec::new(); count];
    for (i, &s) in data.stratum.iter().enumerate() {
        orders[s].push(i);
    }
    for o in &mut orders {
        o.sort_by(|&a, &b| data.time[b].total_cmp(&data.time[a]));
    }
    orders
}

/// [`CoxTerms`] of `data` (summed over its strata) at standardised coefficients `beta`, the
/// covariates standardised by `standardisation`. No penalty.
pub fn cox_terms(
    data: &SurvivalData,
    standardisation: &Standardisation,
    beta: &[f64],
    ties: Ties,
) -> Result<CoxTerms, SurvivalError> {
    let d = data.names.len();
    check(standardisation, d)?;
    if beta.len() != d || beta.iter().any(|b| !b.is_finite()) {
        return Err(SurvivalError::Option(format!(
            "beta must hold {d} finite numbers"
        )));
    }
    let z = standardise(standardisation, data);
    Ok(partial_likelihood(
        data,
        &strata_orders(data),
        &z,
        beta,
        ties,
    ))
}

/// The partial likelihood summed over strata, at standardised coefficients `beta`; `z` holds
/// the standardised covariates row by row.
fn partial_likelihood(
    data: &SurvivalData,
    orders: &[Vec<usize>],
    z: &[f64],
    beta: &[f64],
    ties: Ties,
) -> CoxTerms {
    let d = beta.len();
    let mut t = CoxTerms::zero(d);
    let eta: Vec<f64> = z
        .chunks_exact(d)
        .map(|row| row.iter().zip(beta).map(|(a, b)| a * b).sum())
        .collect();
    let (mut s1, mut s2) = (vec![0.0; d], vec![0.0; d * d]);
    let (mut t1, mut t2) = (vec![0.0; d], vec![0.0; d * d]);
    let (mut phi1, mut phi2) = (vec![0.0; d], vec![0.0; d * d]);
    for order in orders {
        // exp(eta - shift): the partial likelihood does not change when every eta of a
        // stratum moves together, and the largest term stays 1.
        let shift = order
            .iter()
            .map(|&i| eta[i])
            .fold(f64::NEG_INFINITY, f64::max);
        let mut s0 = 0.0;
        s1.fill(0.0);
        s2.fill(0.0);
        let mut k = 0;
        while k < order.len() {
            let time = data.time[order[k]];
            let (mut t0, mut tied, mut eta_sum) = (0.0, 0usize, 0.0);
            t1.fill(0.0);
            t2.fill(0.0);
            while k < order.len() && data.time[order[k]] == time {
                let i = order[k];
                let w = (eta[i] - shift).exp();
                let zi = &z[i * d..(i + 1) * d];
                s0 += w;
                add_outer(&mut s1, &mut s2, zi, w);
                if data.event[i] {
                    t0 += w;
                    add_outer(&mut t1, &mut t2, zi, w);
                    tied += 1;
                    eta_sum += eta[i];
                    for (g, v) in t.gradient.iter_mut().zip(zi) {
                        *g += v;
                    }
                }
                k += 1;
            }
            if tied == 0 {
                continue;
            }
            t.log_likelihood += eta_sum;
            for l in 0..tied {
                let a = match ties {
                    Ties::Efron => l as f64 / tied as f64,
                    Ties::Breslow => 0.0,
                };
                let phi0 = s0 - a * t0;
                for j in 0..d {
                    phi1[j] = s1[j] - a * t1[j];
                }
                for j in 0..d * d {
                    phi2[j] = s2[j] - a * t2[j];
                }
                t.log_likelihood -= phi0.ln() + shift;
                for j in 0..d {
                    t.gradient[j] -= phi1[j] / phi0;
                    for m in 0..d {
                        t.information[j * d + m] +=
                            phi2[j * d + m] / phi0 - phi1[j] * phi1[m] / (phi0 * phi0);
                    }
                }
            }
        }
    }
    t
}

fn add_outer(sum: &mut [f64], outer: &mut [f64], z: &[f64], w: f64) {
    let d = z.len();
    for j in 0..d {
        let wz = w * z[j];
        sum[j] += wz;
        for m in 0..d {
            outer[j * d + m] += wz * z[m];
        }
    }
}

/// Largest standardised coefficient taken as an estimate (log hazard ratio per standard
/// deviation; e^15 is 3 million).
const SEPARATION: f64 = 15.0;

/// Where the Newton iterations ended.
#[derive(Debug, Clone)]
pub struct CoxMaximum {
    /// Standardised coefficients.
    pub beta: Vec<f64>,
    /// Penalised terms at `beta`.
    pub terms: CoxTerms,
    /// Log partial likelihood at 0.
    pub null_log_likelihood: f64,
    pub iterations: usize,
}

fn check_options(options: &CoxOptions) -> Result<(), SurvivalError> {
    if !(options.penalizer >= 0.0 && options.penalizer.is_finite()) {
        return Err(SurvivalError::Option(format!(
            "penalizer must be a finite number >= 0, not {}",
            options.penalizer
        )));
    }
    if options.tolerance.is_nan() || options.tolerance <= 0.0 || options.max_iterations == 0 {
        return Err(SurvivalError::Option(
            "tolerance must be > 0 and max_iterations >= 1".into(),
        ));
    }
    Ok(())
}

/// Newton-Raphson on the (penalised) partial likelihood that `evaluate` returns at
/// standardised coefficients: the local data's, or the sum of data stations' answers. The
/// ridge penalty is `patients · penalizer · ½ Σ β²`. Steps are halved while they lower the
/// likelihood; the fit has converged when no coefficient moves more than the tolerance.
pub fn maximise_partial_likelihood<E: From<SurvivalError>>(
    names: &[String],
    patients: usize,
    options: &CoxOptions,
    mut evaluate: impl FnMut(&[f64]) -> Result<CoxTerms, E>,
) -> Result<CoxMaximum, E> {
    check_options(options)?;
    let d = names.len();
    let ridge = patients as f64 * options.penalizer;
    let mut penalised = |beta: &[f64]| -> Result<CoxTerms, E> {
        let mut t = evaluate(beta)?;
        if t.gradient.len() != d || t.information.len() != d * d {
            return Err(SurvivalError::Length {
                what: "coefficients and the terms evaluated".into(),
                lengths: vec![d, t.gradient.len()],
            }
            .into());
        }
        if ridge > 0.0 {
            t.log_likelihood -= 0.5 * ridge * beta.iter().map(|b| b * b).sum::<f64>();
            for (j, b) in beta.iter().enumerate() {
                t.gradient[j] -= ridge * b;
                t.information[j * d + j] += ridge;
            }
        }
        Ok(t)
    };
    let start = penalised(&vec![0.0; d])?;
    let null_log_likelihood = start.log_likelihood;
    let newton = NewtonOptions {
        max_iterations: options.max_iterations,
        tolerance: options.tolerance,
    };
    let result = newton::maximise(vec![0.0; d], start, newton, penalised).map_err(|e| match e {
        NewtonError::Evaluate(e) => e,
        NewtonError::Singular { iteration } => SurvivalError::Singular { iteration }.into(),
        NewtonError::NotConverged { iterations } => {
            SurvivalError::NotConverged { iterations }.into()
        }
    })?;
    // A hazard ratio of e^SEPARATION per standard deviation is no estimate: the likelihood
    // rose along a direction without a maximum until its steps vanished in rounding.
    if let Some(j) = (0..d).find(|&j| result.beta[j].abs() > SEPARATION) {
        return Err(SurvivalError::Separation {
            covariate: names[j].clone(),
        }
        .into());
    }
    Ok(CoxMaximum {
        beta: result.beta,
        terms: result.terms,
        null_log_likelihood,
        iterations: result.iterations,
    })
}

/// What a fit reports beyond the maximum: who was fitted and how well the fit orders them.
pub struct FitContext<'a> {
    pub names: &'a [String],
    pub standardisation: &'a Standardisation,
    pub options: &'a CoxOptions,
    pub patients: usize,
    pub events: usize,
    pub strata: Vec<String>,
    pub concordance: Concordance,
}

/// The coefficient table, covariance and tests of a maximum (coefficients per unit of each
/// covariate). No baseline hazard: that needs the patients' event times.
pub fn summarise(max: &CoxMaximum, context: FitContext<'_>) -> Result<CoxFit, SurvivalError> {
    let d = context.names.len();
    let sds = &context.standardisation.scale;
    check(context.standardisation, d)?;
    // Covariance on the standardised scale, then per unit of each covariate.
    let mut covariance = vec![vec![0.0; d]; d];
    for j in 0..d {
        let mut e = vec![0.0; d];
        e[j] = 1.0;
        let column = solve(max.terms.information.clone(), e, d).ok_or(SurvivalError::Singular {
            iteration: max.iterations,
        })?;
        for m in 0..d {
            covariance[m][j] = column[m] / (sds[m] * sds[j]);
        }
    }
    let normal = Normal::standard();
    let z975 = normal.inverse_cdf(0.975);
    let covariates: Vec<CoxCoefficient> = (0..d)
        .map(|j| {
            let coef = max.beta[j] / sds[j];
            let se = covariance[j][j].sqrt();
            let zj = coef / se;
            let (lo, hi) = (coef - z975 * se, coef + z975 * se);
            CoxCoefficient {
                name: context.names[j].clone(),
                coef,
                hazard_ratio: coef.exp(),
                se,
                z: zj,
                p: 2.0 * normal.cdf(-zj.abs()),
                coef_lower_95: lo,
                coef_upper_95: hi,
                hazard_ratio_lower_95: lo.exp(),
                hazard_ratio_upper_95: hi.exp(),
            }
        })
        .collect();
    let ll = max.terms.log_likelihood;
    let statistic = 2.0 * (ll - max.null_log_likelihood);
    let lr_p = ChiSquared::new(d as f64)
        .map(|c| c.sf(statistic.max(0.0)))
        .unwrap_or(f64::NAN);
    Ok(CoxFit {
        options: context.options.clone(),
        patients: context.patients,
        events: context.events,
        strata: context.strata,
        covariates,
        means: context.standardisation.centre.clone(),
        covariance,
        log_likelihood: ll,
        null_log_likelihood: max.null_log_likelihood,
        likelihood_ratio: LikelihoodRatioTest {
            statistic,
            degrees_of_freedom: d,
            p: lr_p,
        },
        aic_partial: -2.0 * ll + 2.0 * d as f64,
        concordance: context.concordance,
        iterations: max.iterations,
        baseline: Vec::new(),
    })
}

/// Harrell's C of a linear predictor on `data`: within strata when there are several.
pub fn concordance_of_fit(data: &SurvivalData, risk: &[f64]) -> Result<Concordance, SurvivalError> {
    if data.strata_names.len() > 1 {
        let negated: Vec<f64> = risk.iter().map(|r| -r).collect();
        concordance_within_strata(&data.time, &negated, &data.event, &data.stratum)
    } else {
        concordance_of_risk(&data.time, risk, &data.event)
    }
}

/// Fits a Cox proportional-hazards model (stratified when `data` has strata).
pub fn fit_cox(data: &SurvivalData, options: &CoxOptions) -> Result<CoxFit, SurvivalError> {
    check_options(options)?;
    for (name, column) in data.names.iter().zip(&data.columns) {
        if column.iter().all(|&v| v == column[0]) {
            return Err(SurvivalError::Constant {
                column: name.clone(),
            });
        }
    }
    let standardisation = Standardisation::of_columns(&data.columns);
    let z = standardise(&standardisation, data);
    let orders = strata_orders(data);
    let max =
        maximise_partial_likelihood::<SurvivalError>(&data.names, data.len(), options, |beta| {
            Ok(partial_likelihood(data, &orders, &z, beta, options.ties))
        })?;
    let d = data.names.len();
    let risk: Vec<f64> = z
        .chunks_exact(d)
        .map(|row| row.iter().zip(&max.beta).map(|(a, b)| a * b).sum())
        .collect();
    let mut fit = summarise(
        &max,
        FitContext {
            names: &data.names,
            standardisation: &standardisation,
            options,
            patients: data.len(),
            events: data.events(),
            strata: data.strata_names.clone(),
            concordance: concordance_of_fit(data, &risk)?,
        },
    )?;
    fit.baseline = orders
        .iter()
        .enumerate()
        .map(|(s, order)| breslow_baseline(data, order, &risk, s))
        .collect();
    Ok(fit)
}

/// Breslow's cumulative baseline hazard of one stratum: at each event time, the deaths
/// divided by the risk set's summed partial hazards (covariates centred on the means).
fn breslow_baseline(
    data: &SurvivalData,
    order_desc: &[usize],
    risk: &[f64],
    stratum: usize,
) -> BaselineHazard {
    let mut at_risk = 0.0;
    let mut steps: Vec<(f64, f64)> = Vec::new();
    let mut k = 0;
    while k < order_desc.len() {
        let time = data.time[order_desc[k]];
        let mut deaths = 0usize;
        while k < order_desc.len() && data.time[order_desc[k]] == time {
            let i = order_desc[k];
            at_risk += risk[i].exp();
            deaths += usize::from(data.event[i]);
            k += 1;
        }
        if deaths > 0 {
            steps.push((time, deaths as f64 / at_risk));
        }
    }
    steps.reverse();
    let mut total = 0.0;
    let cumulative_hazard = steps
        .iter()
        .map(|(_, h)| {
            total += h;
            total
        })
        .collect();
    BaselineHazard {
        stratum: data.strata_names.get(stratum).cloned().unwrap_or_default(),
        times: steps.iter().map(|(t, _)| *t).collect(),
        cumulative_hazard,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> SurvivalData {
        let time = [
            6.0, 7.0, 10.0, 15.0, 19.0, 25.0, 3.0, 6.0, 9.0, 12.0, 20.0, 4.0,
        ];
        let event = [
            true, false, true, true, false, true, true, true, false, true, true, false,
        ];
        let x = vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0];
        let age = vec![
            61.0, 55.0, 48.0, 70.0, 52.0, 45.0, 66.0, 73.0, 58.0, 50.0, 69.0, 49.0,
        ];
        SurvivalData::new(&time, &event, vec!["x".into(), "age".into()], vec![x, age]).unwrap()
    }

    /// The gradient is the derivative of the log-likelihood and the information its negative
    /// second derivative (central differences), for both tie rules.
    #[test]
    fn gradient_and_information_are_the_derivatives_of_the_likelihood() {
        let data = sample();
        let orders = strata_orders(&data);
        let d = 2;
        let z: Vec<f64> = (0..data.len())
            .flat_map(|i| data.row(i))
            .map(|v| v / 10.0)
            .collect();
        for ties in [Ties::Efron, Ties::Breslow] {
            let beta = [0.3, -0.2];
            let at = |b: &[f64]| partial_likelihood(&data, &orders, &z, b, ties);
            let t = at(&beta);
            let h = 1e-5;
            for j in 0..d {
                let mut up = beta;
                let mut down = beta;
                up[j] += h;
                down[j] -= h;
                let (tu, td) = (at(&up), at(&down));
                let numeric = (tu.log_likelihood - td.log_likelihood) / (2.0 * h);
                assert!((numeric - t.gradient[j]).abs() < 1e-6, "{ties:?} grad {j}");
                for m in 0..d {
                    let second = -(tu.gradient[m] - td.gradient[m]) / (2.0 * h);
                    assert!(
                        (second - t.information[j * d + m]).abs() < 1e-6,
                        "{ties:?} info"
                    );
                }
            }
        }
    }

    #[test]
    fn without_ties_efron_equals_breslow() {
        let time = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let event = [true, true, false, true, true, false, true, true];
        let x = vec![2.0, 1.5, 0.3, 1.0, 0.2, 0.8, -0.5, 0.1];
        let data = SurvivalData::new(&time, &event, vec!["x".into()], vec![x]).unwrap();
        let fit = |ties| {
            fit_cox(
                &data,
                &CoxOptions {
                    ties,
                    ..CoxOptions::default()
                },
            )
            .unwrap()
        };
        let (e, b) = (fit(Ties::Efron), fit(Ties::Breslow));
        assert!((e.covariates[0].coef - b.covariates[0].coef).abs() < 1e-12);
        assert!((e.log_likelihood - b.log_likelihood).abs() < 1e-12);
    }

    #[test]
    fn the_estimate_is_the_maximum_and_the_penalty_shrinks_it() {
        let data = sample();
        let fit = fit_cox(&data, &CoxOptions::default()).unwrap();
        assert!(fit.log_likelihood > fit.null_log_likelihood);
        let ridge = fit_cox(
            &data,
            &CoxOptions {
                penalizer: 0.5,
                ..CoxOptions::default()
            },
        )
        .unwrap();
        // Ridge shrinks the norm of the standardised coefficients (one of two correlated
        // coefficients may grow).
        let norm = |f: &CoxFit| -> f64 {
            f.covariates
                .iter()
                .zip(&data.columns)
                .map(|(c, x)| {
                    let m = x.iter().sum::<f64>() / x.len() as f64;
                    let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64;
                    (c.coef * var.sqrt()).powi(2)
                })
                .sum()
        };
        assert!(norm(&ridge) < norm(&fit));
        // Survival starts at 1 and falls with time for every patient.
        let x = data.row(0);
        assert_eq!(fit.survival(&x, "", 0.0), Some(1.0));
        let s10 = fit.survival(&x, "", 10.0).unwrap();
        let s20 = fit.survival(&x, "", 20.0).unwrap();
        assert!(s10 < 1.0 && s20 < s10);
        assert_eq!(fit.survival(&x, "site_z", 10.0), None);
    }

    #[test]
    fn a_covariate_that_separates_the_events_is_reported_not_fitted() {
        // Everyone with x = 1 dies before anyone with x = 0: the likelihood rises forever.
        let time = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let event = [true, true, true, true, true, true];
        let x = vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let data = SurvivalData::new(&time, &event, vec!["x".into()], vec![x]).unwrap();
        let e = fit_cox(&data, &CoxOptions::default()).unwrap_err();
        assert!(
            matches!(
                e,
                SurvivalError::NotConverged { .. }
                    | SurvivalError::Singular { .. }
                    | SurvivalError::Separation { .. }
            ),
            "{e}"
        );
        // The ridge penalty gives it a finite estimate.
        let fit = fit_cox(
            &data,
            &CoxOptions {
                penalizer: 0.1,
                ..CoxOptions::default()
            },
        )
        .unwrap();
        assert!(fit.covariates[0].coef > 0.0 && fit.covariates[0].coef.is_finite());
    }
}
