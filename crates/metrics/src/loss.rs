//! Proper scoring rules for predicted probabilities: Brier score and log loss.

use crate::error::{Result, check_probs};

/// Brier score: the mean of `(p - y)^2` with y = 1 for positives, equal to
/// `sklearn.metrics.brier_score_loss` for binary labels.
///
/// Unlike sklearn, one class only is accepted (the score is still defined).
pub fn brier_score(probs: &[f64], labels: &[bool]) -> Result<f64> {
    check_probs("Brier score", probs, labels)?;
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| (f64::from(u8::from(y)) - p).powi(2))
        .sum();
    Ok(total / probs.len() as f64)
}

/// Mean binary cross-entropy, equal to `sklearn.metrics.log_loss` (scikit-learn 1.9).
///
/// A probability of exactly 0 or 1 on the wrong side would give an infinite loss, so, like
/// sklearn since 1.5 (the `eps` parameter is gone), the probability of the true class
/// (`p` for a positive, `1 - p` for a negative) is clipped to `[eps, 1 - eps]` with
/// `eps = f64::EPSILON` (2.22e-16, `np.finfo(float64).eps`): one confidently wrong case costs
/// at most -ln(eps) = 36.04. Natural logarithm. Unlike sklearn, one class only is accepted.
pub fn log_loss(probs: &[f64], labels: &[bool]) -> Result<f64> {
    check_probs("log loss", probs, labels)?;
    let eps = f64::EPSILON;
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p_true = if y { p } else { 1.0 - p };
            -p_true.clamp(eps, 1.0 - eps).ln()
        })
        .sum();
    Ok(total / probs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sklearn_docstring_values() {
        let y = [false, true, true, false];
        let p = [0.1, 0.9, 0.8, 0.3];
        assert!((brier_score(&p, &y).unwrap() - 0.0375).abs() < 1e-15);
        // log_loss(["spam", "ham", "ham", "spam"], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]])
        let l = log_loss(&[0.9, 0.1, 0.2, 0.65], &[true, false, false, true]).unwrap();
        assert!((l - 0.216_161_0).abs() < 1e-6, "{l}");
    }

    #[test]
    fn clips_certain_mistakes() {
        let l = log_loss(&[1.0], &[false]).unwrap();
        assert_eq!(l, -f64::EPSILON.ln());
        assert!(log_loss(&[1.2], &[true]).is_err());
        assert!(brier_score(&[0.5], &[]).is_err());
    }
}
