//! Newton-Raphson maximisation of a concave log-likelihood, shared by the regression crates
//! (logistic, Cox) and their federated fits, where each evaluation is a round of data-station
//! answers: the driver only needs the value, gradient and information at a point.

use serde::{Deserialize, Serialize};

use crate::linalg::solve;

/// A log-likelihood, its gradient and its information (negative Hessian, row-major) at one
/// point.
pub trait LikelihoodTerms {
    fn log_likelihood(&self) -> f64;
    fn gradient(&self) -> &[f64];
    fn information(&self) -> &[f64];
}

/// Plain [`LikelihoodTerms`]: what a data set (or a data station) returns at one point, and
/// what several of them add up to when the log-likelihood is a sum over them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terms {
    pub log_likelihood: f64,
    pub gradient: Vec<f64>,
    /// Row-major `k × k`.
    pub information: Vec<f64>,
}

/// Terms of different sizes cannot be added.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("terms of {ours} and {theirs} parameters cannot be added")]
pub struct TermsMismatch {
    pub ours: usize,
    pub theirs: usize,
}

impl Terms {
    /// The terms of nothing, the start of a sum, for `k` parameters.
    pub fn zero(k: usize) -> Self {
        Self {
            log_likelihood: 0.0,
            gradient: vec![0.0; k],
            information: vec![0.0; k * k],
        }
    }

    /// Adds another part's terms (a stratum's, a station's); sizes must agree.
    pub fn add(&mut self, other: &Terms) -> Result<(), TermsMismatch> {
        if other.gradient.len() != self.gradient.len()
            || other.information.len() != self.information.len()
        {
            return Err(TermsMismatch {
                ours: self.gradient.len(),
                theirs: other.gradient.len(),
            });
        }
        self.log_likelihood += other.log_likelihood;
        for (a, b) in self.gradient.iter_mut().zip(&other.gradient) {
            *a += b;
        }
        for (a, b) in self.information.iter_mut().zip(&other.information) {
            *a += b;
        }
        Ok(())
    }
}

impl LikelihoodTerms for Terms {
    fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }
    fn gradient(&self) -> &[f64] {
        &self.gradient
    }
    fn information(&self) -> &[f64] {
        &self.information
    }
}

/// Why the maximisation stopped without an estimate.
#[derive(Debug)]
pub enum NewtonError<E> {
    /// The evaluation itself failed (a station refused, a value was not finite, ...).
    Evaluate(E),
    /// The information matrix could not be solved (collinear parameters).
    Singular {
        iteration: usize,
    },
    NotConverged {
        iterations: usize,
    },
}

/// Settings of [`maximise`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NewtonOptions {
    pub max_iterations: usize,
    /// Converged when no parameter moves more than this in a step.
    pub tolerance: f64,
}

impl Default for NewtonOptions {
    fn default() -> Self {
        Self {
            max_iterations: 100,
            tolerance: 1e-10,
        }
    }
}

/// Where the iterations ended: the estimate, the terms there, the steps taken.
#[derive(Debug, Clone)]
pub struct NewtonResult<T> {
    pub beta: Vec<f64>,
    pub terms: T,
    pub iterations: usize,
}

/// Maximises from `start` (where `start_terms` were evaluated): full Newton steps, halved while
/// they lower the log-likelihood (far from the optimum), until a step moves no parameter more
/// than the tolerance.
pub fn maximise<T: LikelihoodTerms, E>(
    start: Vec<f64>,
    start_terms: T,
    options: NewtonOptions,
    mut evaluate: impl FnMut(&[f64]) -> Result<T, E>,
) -> Result<NewtonResult<T>, NewtonError<E>> {
    let k = start.len();
    let mut beta = start;
    let mut terms = start_terms;
    let mut iterations = 0;
    loop {
        if iterations == options.max_iterations {
            return Err(NewtonError::NotConverged { iterations });
        }
        iterations += 1;
        let singular = NewtonError::Singular {
            iteration: iterations,
        };
        if terms.gradient().len() != k || terms.information().len() != k * k {
            return Err(singular);
        }
        let Some(step) = solve(terms.information().to_vec(), terms.gradient().to_vec(), k) else {
            return Err(singular);
        };
        let ll = terms.log_likelihood();
        let mut size = 1.0;
        let (next_beta, next) = loop {
            let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + size * s).collect();
            let t = evaluate(&candidate).map_err(NewtonError::Evaluate)?;
            let l = t.log_likelihood();
            if l.is_finite() && l >= ll - 1e-12 * ll.abs() || size < 1e-6 {
                break (candidate, t);
            }
            size /= 2.0;
        };
        let moved = step.iter().fold(0.0f64, |m, s| m.max((size * s).abs()));
        beta = next_beta;
        terms = next;
        if !terms.log_likelihood().is_finite() {
            return Err(NewtonError::Singular {
                iteration: iterations,
            });
        }
        if moved < options.tolerance {
            return Ok(NewtonResult {
                beta,
                terms,
                iterations,
            });
        }
    }
}

/// The centre and scale parameters are standardised with (covariates' mean and sample standard
/// deviation in a local fit, the pooled ones in a federated fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardisation {
    pub centre: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Standardisation {
    /// Mean and sample standard deviation (n - 1) of each column.
    pub fn of_columns(columns: &[Vec<f64>]) -> Self {
        let (centre, scale) = columns
            .iter()
            .map(|c| {
                let n = c.len() as f64;
                let m = c.iter().sum::<f64>() / n;
                let var = c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
                (m, var.sqrt())
            })
            .unzip();
        Self { centre, scale }
    }

    /// Why it cannot standardise `d` columns, if it cannot.
    pub fn problem(&self, d: usize) -> Option<String> {
        if self.centre.len() != d || self.scale.len() != d {
            return Some(format!(
                "{d} covariates but {} centres and {} scales",
                self.centre.len(),
                self.scale.len()
            ));
        }
        let finite = self.centre.iter().chain(&self.scale).all(|v| v.is_finite());
        (!finite || self.scale.iter().any(|&s| s <= 0.0))
            .then(|| "centre and scale must be finite, and scale > 0".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quadratic {
        ll: f64,
        g: Vec<f64>,
        h: Vec<f64>,
    }

    impl LikelihoodTerms for Quadratic {
        fn log_likelihood(&self) -> f64 {
            self.ll
        }
        fn gradient(&self) -> &[f64] {
            &self.g
        }
        fn information(&self) -> &[f64] {
            &self.h
        }
    }

    /// -(x-3)^2 - 2(y+1)^2 - x^4/10: not quadratic, so several steps.
    fn at(b: &[f64]) -> Result<Quadratic, ()> {
        let (x, y) = (b[0], b[1]);
        Ok(Quadratic {
            ll: -(x - 3.0).powi(2) - 2.0 * (y + 1.0).powi(2) - x.powi(4) / 10.0,
            g: vec![-2.0 * (x - 3.0) - 0.4 * x.powi(3), -4.0 * (y + 1.0)],
            h: vec![2.0 + 1.2 * x * x, 0.0, 0.0, 4.0],
        })
    }

    #[test]
    fn finds_the_maximum_of_a_concave_function() {
        let start = vec![0.0, 0.0];
        let first = at(&start).unwrap();
        let r = maximise(start, first, NewtonOptions::default(), at).unwrap();
        // d/dx: -2(x-3) - 0.4 x^3 = 0
        let x = r.beta[0];
        assert!((-2.0 * (x - 3.0) - 0.4 * x.powi(3)).abs() < 1e-9);
        assert!((r.beta[1] + 1.0).abs() < 1e-12);
        assert!(r.iterations > 2);
    }

    #[test]
    fn standardisation_problems_are_named() {
        let s = Standardisation::of_columns(&[vec![1.0, 3.0]]);
        assert_eq!((s.centre[0], s.scale[0]), (2.0, 2f64.sqrt()));
        assert!(s.problem(1).is_none());
        assert!(s.problem(2).unwrap().contains("2 covariates"));
        let flat = Standardisation::of_columns(&[vec![1.0, 1.0]]);
        assert!(flat.problem(1).is_some());
    }
}
