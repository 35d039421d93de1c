//! The Gaussian mechanism on model updates (DP-SGD / DP-FedAvg style).
//!
//! A station bounds its influence on the aggregate by clipping its update to an L2 norm `C`
//! (the sensitivity) and then adds `N(0, (σ·C)²)` noise to every coordinate, where `σ` is the
//! noise multiplier. The privacy this buys is what [`crate::rdp`] accounts for: the accountant
//! is parameterised by the same `σ` and the sampling rate.
//!
//! Norms and scale factors are computed in `f64` so clipping a long `f32` vector does not lose
//! the bound to rounding; after scaling, the `f32` norm is re-checked and nudged below `C`, since
//! a sensitivity that is exceeded by one ulp is, strictly, not the sensitivity.
//!
//! Not protected: the floating-point side channels of textbook Gaussian sampling (Mironov 2012,
//! "On significance of the least significant bits for differential privacy"). The noise here is
//! drawn with `rand_distr::Normal` in `f64` and rounded to `f32`.

use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::PrivacyError;

/// L2 norm of `update`, in `f64`.
fn l2_norm(update: &[f32]) -> f64 {
    update
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

fn check_finite(update: &[f32]) -> Result<(), PrivacyError> {
    match update.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PrivacyError::NonFiniteUpdate { index }),
        None => Ok(()),
    }
}

fn check_positive(name: &'static str, value: f64) -> Result<(), PrivacyError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(PrivacyError::invalid(
            name,
            value,
            "must be positive and finite",
        ))
    }
}

/// Clips `update` in place to L2 norm at most `max_norm` (scaling it down if it is longer) and
/// returns its norm *before* clipping (useful for choosing `max_norm`: log the median).
///
/// Errors: `max_norm` not positive and finite, or an update coordinate that is NaN or infinite
/// (its norm is undefined, so no sensitivity bound could hold).
pub fn clip_l2(update: &mut [f32], max_norm: f64) -> Result<f64, PrivacyError> {
    check_positive("max_norm", max_norm)?;
    check_finite(update)?;
    let norm = l2_norm(update);
    if norm > max_norm {
        let factor = max_norm / norm;
        for v in update.iter_mut() {
            *v = (f64::from(*v) * factor) as f32;
        }
        // f32 rounding can leave the norm a few ulps above the bound: shrink until it holds.
        let mut current = l2_norm(update);
        while current > max_norm {
            let shrink = (max_norm / current) * (1.0 - 4.0 * f64::from(f32::EPSILON));
            for v in update.iter_mut() {
                *v = (f64::from(*v) * shrink) as f32;
            }
            current = l2_norm(update);
        }
    }
    Ok(norm)
}

/// Adds independent `N(0, std²)` noise to every coordinate of `update`.
///
/// `std` must be finite and non-negative (0 adds nothing; it is allowed so tests and "no DP"
/// configurations can share the code path, but it gives no privacy).
pub fn add_gaussian_noise<R: Rng + ?Sized>(
    update: &mut [f32],
    std: f64,
    rng: &mut R,
) -> Result<(), PrivacyError> {
    if !(std.is_finite() && std >= 0.0) {
        return Err(PrivacyError::invalid(
            "std",
            std,
            "must be finite and non-negative",
        ));
    }
    if std == 0.0 {
        return Ok(());
    }
    let normal = Normal::new(0.0, std)
        .map_err(|_| PrivacyError::invalid("std", std, "rejected by the normal distribution"))?;
    for v in update.iter_mut() {
        *v = (f64::from(*v) + normal.sample(rng)) as f32;
    }
    Ok(())
}

/// The Gaussian mechanism: clip to `clip_norm`, then add `N(0, (noise_multiplier·clip_norm)²)`.
///
/// `noise_multiplier` is the σ the [`crate::rdp::RdpAccountant`] is told about; keep the two in
/// one place (this struct) so the station's accounting matches what it actually did.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaussianMechanism {
    /// L2 clipping bound C (the sensitivity of one update).
    pub clip_norm: f64,
    /// σ: the noise standard deviation in units of `clip_norm`.
    pub noise_multiplier: f64,
}

impl GaussianMechanism {
    /// A mechanism with validated parameters (both positive and finite).
    pub fn new(clip_norm: f64, noise_multiplier: f64) -> Result<Self, PrivacyError> {
        let m = Self {
            clip_norm,
            noise_multiplier,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks the (public, possibly deserialised) fields.
    pub fn validate(&self) -> Result<(), PrivacyError> {
        check_positive("clip_norm", self.clip_norm)?;
        check_positive("noise_multiplier", self.noise_multiplier)?;
        let std = self.noise_std();
        if !std.is_finite() {
            return Err(PrivacyError::invalid(
                "noise_multiplier",
                self.noise_multiplier,
                "noise_multiplier * clip_norm overflows",
            ));
        }
        Ok(())
    }

    /// The per-coordinate noise standard deviation σ·C.
    pub fn noise_std(&self) -> f64 {
        self.clip_norm * self.noise_multiplier
    }

    /// Clips `update` to `clip_norm` and adds the noise, in place. Returns the norm before
    /// clipping. On error the update is left unchanged.
    pub fn privatize<R: Rng + ?Sized>(
        &self,
        update: &mut [f32],
        rng: &mut R,
    ) -> Result<f64, PrivacyError> {
        self.validate()?;
        let norm = clip_l2(update, self.clip_norm)?;
        add_gaussian_noise(update, self.noise_std(), rng)?;
        Ok(norm)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn clip_scales_long_vectors_and_keeps_short_ones() {
        let mut v = vec![3.0f32, 4.0];
        let n = clip_l2(&mut v, 1.0).unwrap();
        assert_eq!(n, 5.0);
        assert!(l2_norm(&v) <= 1.0);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);

        let mut short = vec![0.1f32, -0.2];
        let before = short.clone();
        let n = clip_l2(&mut short, 1.0).unwrap();
        assert!((n - 0.05f64.sqrt()).abs() < 1e-7);
        assert_eq!(short, before);
    }

    #[test]
    fn clipped_norm_never_exceeds_bound_after_f32_rounding() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let mut v: Vec<f32> = (0..1000).map(|_| rng.random_range(-10.0..10.0)).collect();
            let c: f64 = rng.random_range(0.01..5.0);
            clip_l2(&mut v, c).unwrap();
            assert!(l2_norm(&v) <= c, "{} > {c}", l2_norm(&v));
            assert!(l2_norm(&v) > c * (1.0 - 1e-5));
        }
    }

    #[test]
    fn invalid_parameters_are_errors() {
        let mut v = vec![1.0f32];
        assert!(clip_l2(&mut v, 0.0).is_err());
        assert!(clip_l2(&mut v, f64::NAN).is_err());
        assert!(clip_l2(&mut v, -1.0).is_err());
        let mut bad = vec![1.0f32, f32::NAN];
        assert_eq!(
            clip_l2(&mut bad, 1.0),
            Err(PrivacyError::NonFiniteUpdate { index: 1 })
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(add_gaussian_noise(&mut v, -1.0, &mut rng).is_err());
        assert!(add_gaussian_noise(&mut v, f64::INFINITY, &mut rng).is_err());
        assert!(GaussianMechanism::new(1.0, 0.0).is_err());
        assert!(GaussianMechanism::new(f64::INFINITY, 1.0).is_err());
        assert!(GaussianMechanism::new(1e200, 1e200).is_err());
        let m = GaussianMechanism {
            clip_norm: -1.0,
            noise_multiplier: 1.0,
        };
        assert!(m.privatize(&mut v, &mut rng).is_err());
        assert_eq!(v, vec![1.0]);
    }

    #[test]
    fn noise_has_the_requested_standard_deviation() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let m = GaussianMechanism::new(2.0, 1.5).unwrap();
        let n = 200_000;
        let mut v = vec![0.0f32; n];
        let norm = m.privatize(&mut v, &mut rng).unwrap();
        assert_eq!(norm, 0.0);
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
        let var = v
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        // std of the mean: 3/sqrt(n) = 0.0067; of the variance estimate: 9*sqrt(2/n) = 0.028.
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 9.0).abs() < 0.15, "var {var}");
    }

    #[test]
    fn privatize_clips_before_noising() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let m = GaussianMechanism::new(1.0, 1e-9).unwrap();
        let mut v = vec![30.0f32, 40.0];
        let norm = m.privatize(&mut v, &mut rng).unwrap();
        assert_eq!(norm, 50.0);
        assert!((v[0] - 0.6).abs() < 1e-5 && (v[1] - 0.8).abs() < 1e-5);
    }
}
