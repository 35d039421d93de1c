//! Temperature scaling: one scalar T rescales logits so the probabilities are calibrated,
//! without changing the ranking (AUC, ROC curve) at all.

use crate::error::{MetricsError, Result, check_scores};

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `1 / (1 + e^-x)` without overflow.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn check_temperature(t: f64) -> Result<()> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(MetricsError::InvalidParameter {
            name: "temperature",
            value: t.to_string(),
            expected: "a finite temperature > 0",
        })
    }
}

/// Probabilities `sigmoid(logit / t)`.
///
/// Errors on a temperature that is not finite and positive (T <= 0 would flip or destroy the
/// ranking) and on non-finite logits.
pub fn apply_temperature(logits: &[f64], t: f64) -> Result<Vec<f64>> {
    check_temperature(t)?;
    if let Some(index) = logits.iter().position(|z| !z.is_finite()) {
        return Err(MetricsError::NonFinite {
            index,
            value: logits[index],
        });
    }
    Ok(logits.iter().map(|&z| sigmoid(z / t)).collect())
}

/// Mean binary negative log-likelihood of `sigmoid(logit / t)`, computed from the logits (as
/// softplus) so it stays exact where the probability rounds to 0 or 1; no clipping.
pub fn temperature_nll(logits: &[f64], labels: &[bool], t: f64) -> Result<f64> {
    check_scores("temperature NLL", logits, labels)?;
    check_temperature(t)?;
    let total: f64 = logits
        .iter()
        .zip(labels)
        .map(|(&z, &y)| softplus(if y { -z } else { z } / t))
        .sum();
    Ok(total / logits.len() as f64)
}

/// The temperature T > 0 minimising the mean binary NLL of `sigmoid(logit / T)` (Guo et al.
/// 2017, for one output), fitted on held-out logits.
///
/// The fit solves for the inverse temperature b = 1/T: with `a = logit` for positives and
/// `-logit` for negatives the loss is `mean softplus(-a b)`, convex in b, so its stationary
/// point is the unique global minimum and a Newton step safeguarded by bisection on a bracket
/// of the derivative's sign change converges to full precision (no step size, no tolerance on
/// the loss; in log T the loss is not convex). An optimum with 0 < T < inf exists exactly when
/// the logits point the right way on average (sum of `a` > 0; otherwise the loss only falls as
/// T -> inf) and at least one case is on the wrong side (some `a` < 0; otherwise the classes are
/// separated and the loss falls as T -> 0); both are errors.
pub fn fit_temperature(logits: &[f64], labels: &[bool]) -> Result<f64> {
    check_scores("temperature scaling", logits, labels)?;
    let a: Vec<f64> = logits
        .iter()
        .zip(labels)
        .map(|(&z, &y)| if y { z } else { -z })
        .collect();
    if a.iter().sum::<f64>() <= 0.0 {
        return Err(MetricsError::NoTemperature {
            reason: "the logits do not point towards the labels on average; \
                     the loss keeps falling as T grows",
        });
    }
    if a.iter().all(|&v| v >= 0.0) {
        return Err(MetricsError::NoTemperature {
            reason: "the logits' signs separate the classes perfectly; \
                     the loss keeps falling as T shrinks to 0",
        });
    }
    let n = a.len() as f64;
    // First and second derivative of the loss in b.
    let grad = |b: f64| a.iter().map(|&v| -v * sigmoid(-v * b)).sum::<f64>() / n;
    let hess = |b: f64| {
        a.iter()
            .map(|&v| v * v * sigmoid(v * b) * sigmoid(-v * b))
            .sum::<f64>()
            / n
    };

    // grad(0) < 0 (sum a > 0) and grad -> sum over a < 0 of |a| / n > 0 as b grows: bracket it.
    let (mut lo, mut hi) = (0.0, 1.0);
    while grad(hi) < 0.0 {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return Err(MetricsError::NoTemperature {
                reason: "the optimal inverse temperature overflows",
            });
        }
    }
    let mut b = if lo > 0.0 {
        0.5 * (lo + hi)
    } else {
        1.0_f64.min(0.5 * hi)
    };
    for _ in 0..200 {
        let g = grad(b);
        if g == 0.0 {
            break;
        }
        if g < 0.0 {
            lo = b
        } else {
            hi = b
        }
        let h = hess(b);
        let newton = b - g / h;
        let next = if h > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        let done = (next - b).abs() <= 4.0 * f64::EPSILON * b || hi - lo <= 4.0 * f64::EPSILON * b;
        b = next;
        if done {
            break;
        }
    }
    Ok(1.0 / b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_temperature_is_a_stationary_minimum() {
        let logits = [4.0, -3.0, 5.0, 2.0, -6.0, -1.0, 3.0, -4.0];
        let labels = [true, false, false, true, false, true, true, true];
        let t = fit_temperature(&logits, &labels).unwrap();
        let nll = |t| temperature_nll(&logits, &labels, t).unwrap();
        assert!(t > 1.0, "over-confident logits need T > 1: {t}");
        assert!(nll(t) < nll(1.0));
        assert!(nll(t) <= nll(t * (1.0 + 1e-6)) && nll(t) <= nll(t * (1.0 - 1e-6)));
        let p = apply_temperature(&logits, t).unwrap();
        assert!((p[0] - 1.0 / (1.0 + (-4.0 / t).exp())).abs() < 1e-15);
    }

    #[test]
    fn no_optimum_is_an_error() {
        let separated = fit_temperature(&[2.0, -1.0], &[true, false]);
        assert!(matches!(separated, Err(MetricsError::NoTemperature { .. })));
        let backwards = fit_temperature(&[-2.0, 1.0], &[true, false]);
        assert!(matches!(backwards, Err(MetricsError::NoTemperature { .. })));
        assert!(fit_temperature(&[f64::NAN], &[true]).is_err());
        assert!(apply_temperature(&[1.0], 0.0).is_err());
        assert!(apply_temperature(&[f64::INFINITY], 1.0).is_err());
    }

    #[test]
    fn extreme_logits_do_not_overflow() {
        let nll = temperature_nll(&[800.0, -800.0], &[false, true], 1.0).unwrap();
        assert_eq!(nll, 800.0);
    }
}
