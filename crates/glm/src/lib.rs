//! Logistic regression for clinical risk models, with the statistics a reader checks:
//! coefficients with standard errors, Wald z and p, 95% intervals, odds ratios, the
//! likelihood-ratio test against the intercept-only model, McFadden's pseudo R² and AIC. Equal
//! to statsmodels' `Logit` (`fixtures/glm/`).
//!
//! The fit is Newton-Raphson on standardised covariates (better conditioned; the estimate does
//! not depend on the scaling). The log-likelihood is a sum over patients, so data stations'
//! [`logistic_terms`] at the same coefficients add up to the pooled terms: Newton steps on the
//! sum ([`maximise`]) reach the pooled estimate exactly, without a row leaving a station
//! (`oncolens-station`'s `logistic_terms` algorithm).
//!
//! ```
//! use oncolens_glm::{LogisticData, fit_logistic};
//!
//! let size_cm = vec![1.0, 2.0, 2.5, 3.0, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0];
//! let malignant = [false, false, true, false, true, false, true, true, true, true];
//! let data = LogisticData::new(&malignant, vec!["size_cm".into()], vec![size_cm])?;
//! let fit = fit_logistic(&data)?;
//! assert!(fit.coefficients[1].odds_ratio > 1.0); // larger tumours, more often malignant
//! # Ok::<(), oncolens_glm::GlmError>(())
//! ```

use oncolens_core::linalg::solve;
use oncolens_core::newton::{self, LikelihoodTerms, NewtonError, NewtonOptions, Terms};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GlmError {
    #[error("{what} differ in length: {lengths:?}")]
    Length { what: String, lengths: Vec<usize> },
    #[error("{column}: row {row} is not a finite number")]
    NotFinite { column: String, row: usize },
    #[error("no covariate given")]
    NoCovariates,
    #[error("covariate {name} is given twice")]
    DuplicateName { name: String },
    #[error("the outcome has only one class ({positives} positive of {patients}): nothing to fit")]
    OneClass { positives: usize, patients: usize },
    #[error("covariate {column} is constant over the patients fitted (no effect can be estimated)")]
    Constant { column: String },
    #[error(
        "the information matrix is singular at iteration {iteration}: covariates are collinear"
    )]
    Singular { iteration: usize },
    #[error(
        "the coefficient of {covariate} diverges: it separates the outcome (perfect separation, no finite estimate)"
    )]
    Separation { covariate: String },
    #[error("no convergence in {iterations} Newton steps")]
    NotConverged { iterations: usize },
    #[error(transparent)]
    Terms(#[from] oncolens_core::newton::TermsMismatch),
    #[error("{0}")]
    Option(String),
}

/// A binary outcome and covariate columns, validated (finite, equal lengths, named once).
#[derive(Debug, Clone)]
pub struct LogisticData {
    outcome: Vec<bool>,
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

impl LogisticData {
    pub fn new(
        outcome: &[bool],
        names: Vec<String>,
        columns: Vec<Vec<f64>>,
    ) -> Result<Self, GlmError> {
        let n = outcome.len();
        if names.len() != columns.len() || columns.iter().any(|c| c.len() != n) {
            let mut lengths = vec![n];
            lengths.extend(columns.iter().map(Vec::len));
            return Err(GlmError::Length {
                what: "outcome and covariate columns".into(),
                lengths,
            });
        }
        if names.is_empty() {
            return Err(GlmError::NoCovariates);
        }
        for (k, name) in names.iter().enumerate() {
            if names[..k].contains(name) {
                return Err(GlmError::DuplicateName { name: name.clone() });
            }
        }
        for (name, column) in names.iter().zip(&columns) {
            if let Some(row) = column.iter().position(|v| !v.is_finite()) {
                return Err(GlmError::NotFinite {
                    column: name.clone(),
                    row,
                });
            }
        }
        Ok(Self {
            outcome: outcome.to_vec(),
            names,
            columns,
        })
    }

    pub fn len(&self) -> usize {
        self.outcome.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outcome.is_empty()
    }

    pub fn positives(&self) -> usize {
        self.outcome.iter().filter(|&&y| y).count()
    }

    pub fn covariate_names(&self) -> &[String] {
        &self.names
    }
}

pub use oncolens_core::newton::Standardisation;

fn check(standardisation: &Standardisation, d: usize) -> Result<(), GlmError> {
    standardisation
        .problem(d)
        .map_or(Ok(()), |p| Err(GlmError::Option(p)))
}

/// Log-likelihood, gradient and information at standardised coefficients
/// `[intercept, β_1 .. β_d]`, with the counts behind them: what a station returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticTerms {
    pub patients: u64,
    pub positives: u64,
    #[serde(flatten)]
    pub terms: Terms,
}

impl LikelihoodTerms for LogisticTerms {
    fn log_likelihood(&self) -> f64 {
        self.terms.log_likelihood
    }
    fn gradient(&self) -> &[f64] {
        &self.terms.gradient
    }
    fn information(&self) -> &[f64] {
        &self.terms.information
    }
}

impl LogisticTerms {
    pub fn zero(d: usize) -> Self {
        Self {
            patients: 0,
            positives: 0,
            terms: Terms::zero(d + 1),
        }
    }

    /// Adds another site's terms; sizes must agree.
    pub fn add(&mut self, other: &LogisticTerms) -> Result<(), GlmError> {
        self.terms.add(&other.terms)?;
        self.patients += other.patients;
        self.positives += other.positives;
        Ok(())
    }
}

/// `log(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// [`LogisticTerms`] of `data` at standardised coefficients `beta` (intercept first).
pub fn logistic_terms(
    data: &LogisticData,
    standardisation: &Standardisation,
    beta: &[f64],
) -> Result<LogisticTerms, GlmError> {
    let d = data.names.len();
    check(standardisation, d)?;
    if beta.len() != d + 1 || beta.iter().any(|b| !b.is_finite()) {
        return Err(GlmError::Option(format!(
            "beta must hold {} finite numbers (intercept first)",
            d + 1
        )));
    }
    let mut t = LogisticTerms::zero(d);
    t.patients = data.len() as u64;
    t.positives = data.positives() as u64;
    let mut x = vec![0.0; d + 1];
    x[0] = 1.0;
    for i in 0..data.len() {
        for j in 0..d {
            x[j + 1] = (data.columns[j][i] - standardisation.centre[j]) / standardisation.scale[j];
        }
        let eta: f64 = x.iter().zip(beta).map(|(a, b)| a * b).sum();
        let y = f64::from(u8::from(data.outcome[i]));
        t.terms.log_likelihood += y * eta - softplus(eta);
        let p = 1.0 / (1.0 + (-eta).exp());
        let w = p * (1.0 - p);
        for j in 0..=d {
            t.terms.gradient[j] += (y - p) * x[j];
            for m in 0..=d {
                t.terms.information[j * (d + 1) + m] += w * x[j] * x[m];
            }
        }
    }
    Ok(t)
}

/// Largest standardised coefficient taken as an estimate (e^15 per standard deviation).
const SEPARATION: f64 = 15.0;

/// Where Newton-Raphson ended.
#[derive(Debug, Clone)]
pub struct Maximum {
    /// Standardised coefficients, intercept first.
    pub beta: Vec<f64>,
    pub terms: LogisticTerms,
    pub iterations: usize,
}

/// Newton-Raphson on the log-likelihood that `evaluate` returns at standardised coefficients
/// (one data set's, or several stations' summed), from 0, halving steps that lower it.
pub fn maximise<E: From<GlmError>>(
    names: &[String],
    mut evaluate: impl FnMut(&[f64]) -> Result<LogisticTerms, E>,
) -> Result<Maximum, E> {
    let k = names.len() + 1;
    let start = evaluate(&vec![0.0; k])?;
    if start.terms.gradient.len() != k {
        return Err(GlmError::Length {
            what: "coefficients and the terms evaluated".into(),
            lengths: vec![k, start.terms.gradient.len()],
        }
        .into());
    }
    if start.positives == 0 || start.positives == start.patients {
        return Err(GlmError::OneClass {
            positives: start.positives as usize,
            patients: start.patients as usize,
        }
        .into());
    }
    let r =
        newton::maximise(vec![0.0; k], start, NewtonOptions::default(), evaluate).map_err(|e| {
            match e {
                NewtonError::Evaluate(e) => e,
                NewtonError::Singular { iteration } => GlmError::Singular { iteration }.into(),
                NewtonError::NotConverged { iterations } => {
                    GlmError::NotConverged { iterations }.into()
                }
            }
        })?;
    if let Some(j) = (1..k).find(|&j| r.beta[j].abs() > SEPARATION) {
        return Err(GlmError::Separation {
            covariate: names[j - 1].clone(),
        }
        .into());
    }
    Ok(Maximum {
        beta: r.beta,
        terms: r.terms,
        iterations: r.iterations,
    })
}

/// One coefficient with its Wald test.
#[derive(Debug, Clone, Serialize)]
pub struct Coefficient {
    /// `intercept` or the covariate.
    pub name: String,
    pub coef: f64,
    pub odds_ratio: f64,
    pub se: f64,
    pub z: f64,
    pub p: f64,
    pub coef_lower_95: f64,
    pub coef_upper_95: f64,
    pub odds_ratio_lower_95: f64,
    pub odds_ratio_upper_95: f64,
}

/// A fitted logistic regression.
#[derive(Debug, Clone, Serialize)]
pub struct LogisticFit {
    pub patients: usize,
    pub positives: usize,
    /// Intercept first, per unit of each covariate.
    pub coefficients: Vec<Coefficient>,
    pub covariance: Vec<Vec<f64>>,
    pub log_likelihood: f64,
    /// Intercept-only model.
    pub null_log_likelihood: f64,
    /// Likelihood-ratio statistic against the intercept-only model, its degrees of freedom
    /// and p-value.
    pub lr_statistic: f64,
    pub lr_df: usize,
    pub lr_p: f64,
    /// McFadden's `1 - ll / ll_null`.
    pub pseudo_r2: f64,
    pub aic: f64,
    pub iterations: usize,
}

/// The coefficient table of a maximum, on the covariates' own scale.
pub fn summarise(
    max: &Maximum,
    names: &[String],
    standardisation: &Standardisation,
) -> Result<LogisticFit, GlmError> {
    let d = names.len();
    check(standardisation, d)?;
    let k = d + 1;
    // a = T b: intercept a0 = b0 - Σ b_j c_j / s_j, slopes a_j = b_j / s_j.
    let mut transform = vec![vec![0.0; k]; k];
    transform[0][0] = 1.0;
    for j in 0..d {
        let (c, s) = (standardisation.centre[j], standardisation.scale[j]);
        transform[0][j + 1] = -c / s;
        transform[j + 1][j + 1] = 1.0 / s;
    }
    let mut inverse = vec![vec![0.0; k]; k];
    for j in 0..k {
        let mut e = vec![0.0; k];
        e[j] = 1.0;
        let column =
            solve(max.terms.terms.information.clone(), e, k).ok_or(GlmError::Singular {
                iteration: max.iterations,
            })?;
        for m in 0..k {
            inverse[m][j] = column[m];
        }
    }
    let coef: Vec<f64> = (0..k)
        .map(|r| (0..k).map(|c| transform[r][c] * max.beta[c]).sum())
        .collect();
    let mut covariance = vec![vec![0.0; k]; k];
    for r in 0..k {
        for c in 0..k {
            covariance[r][c] = (0..k)
                .flat_map(|a| (0..k).map(move |b| (a, b)))
                .map(|(a, b)| transform[r][a] * inverse[a][b] * transform[c][b])
                .sum();
        }
    }
    let normal = Normal::standard();
    let z975 = normal.inverse_cdf(0.975);
    let coefficients = (0..k)
        .map(|j| {
            let se = covariance[j][j].sqrt();
            let z = coef[j] / se;
            let (lo, hi) = (coef[j] - z975 * se, coef[j] + z975 * se);
            Coefficient {
                name: if j == 0 {
                    "intercept".into()
                } else {
                    names[j - 1].clone()
                },
                coef: coef[j],
                odds_ratio: coef[j].exp(),
                se,
                z,
                p: 2.0 * normal.cdf(-z.abs()),
                coef_lower_95: lo,
                coef_upper_95: hi,
                odds_ratio_lower_95: lo.exp(),
                odds_ratio_upper_95: hi.exp(),
            }
        })
        .collect();
    let (n, n1) = (max.terms.patients as f64, max.terms.positives as f64);
    let p1 = n1 / n;
    let null = n1 * p1.ln() + (n - n1) * (1.0 - p1).ln();
    let ll = max.terms.terms.log_likelihood;
    let lr = 2.0 * (ll - null);
    Ok(LogisticFit {
        patients: max.terms.patients as usize,
        positives: max.terms.positives as usize,
        coefficients,
        covariance,
        log_likelihood: ll,
        null_log_likelihood: null,
        lr_statistic: lr,
        lr_df: d,
        lr_p: ChiSquared::new(d as f64)
            .map(|c| c.sf(lr.max(0.0)))
            .unwrap_or(f64::NAN),
        pseudo_r2: 1.0 - ll / null,
        aic: -2.0 * ll + 2.0 * k as f64,
        iterations: max.iterations,
    })
}

/// Fits a logistic regression by maximum likelihood.
pub fn fit_logistic(data: &LogisticData) -> Result<LogisticFit, GlmError> {
    for (name, column) in data.names.iter().zip(&data.columns) {
        if column.iter().all(|&v| v == column[0]) {
            return Err(GlmError::Constant {
                column: name.clone(),
            });
        }
    }
    let standardisation = Standardisation::of_columns(&data.columns);
    let max = maximise::<GlmError>(&data.names, |beta| {
        logistic_terms(data, &standardisation, beta)
    })?;
    summarise(&max, &data.names, &standardisation)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gradient_and_information_are_the_derivatives() {
        let y = [true, false, true, true, false, false, true, false];
        let x = vec![1.0, 2.0, 0.5, 3.0, -1.0, 0.0, 2.5, 1.5];
        let data = LogisticData::new(&y, vec!["x".into()], vec![x]).unwrap();
        let s = Standardisation {
            centre: vec![0.5],
            scale: vec![2.0],
        };
        let beta = [0.2, -0.4];
        let t = logistic_terms(&data, &s, &beta).unwrap();
        let h = 1e-6;
        for j in 0..2 {
            let (mut up, mut down) = (beta, beta);
            up[j] += h;
            down[j] -= h;
            let (tu, td) = (
                logistic_terms(&data, &s, &up).unwrap(),
                logistic_terms(&data, &s, &down).unwrap(),
            );
            assert!(
                ((tu.terms.log_likelihood - td.terms.log_likelihood) / (2.0 * h)
                    - t.terms.gradient[j])
                    .abs()
                    < 1e-6
            );
            for m in 0..2 {
                let second = -(tu.terms.gradient[m] - td.terms.gradient[m]) / (2.0 * h);
                assert!((second - t.terms.information[j * 2 + m]).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn separation_one_class_and_constants_are_errors() {
        let x = vec![1.0, 2.0, 3.0, 4.0];
        let separated = LogisticData::new(
            &[false, false, true, true],
            vec!["x".into()],
            vec![x.clone()],
        )
        .unwrap();
        assert!(matches!(
            fit_logistic(&separated).unwrap_err(),
            GlmError::Separation { .. } | GlmError::NotConverged { .. } | GlmError::Singular { .. }
        ));
        let one = LogisticData::new(&[true; 4], vec!["x".into()], vec![x]).unwrap();
        assert!(matches!(
            fit_logistic(&one).unwrap_err(),
            GlmError::OneClass { .. }
        ));
        let flat = LogisticData::new(
            &[true, false, true, false],
            vec!["x".into()],
            vec![vec![2.0; 4]],
        )
        .unwrap();
        assert!(
            fit_logistic(&flat)
                .unwrap_err()
                .to_string()
                .contains("x is constant")
        );
    }
}
