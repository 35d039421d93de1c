//! Fixed-point quantisation of `f32` updates into the ring Z_{2^32}.
//!
//! Masking works in a finite ring (here `u32` with wrapping arithmetic): a uniformly random mask
//! added modulo 2^32 hides the value perfectly (a one-time pad), which no floating-point "mask"
//! can do. So each client maps its update into the ring first:
//!
//! * every coordinate is clipped to `[-clip, clip]`;
//! * it is mapped affinely onto the integers `0..=L`, `L = ⌊(2^32 − 1) / max_clients⌋`:
//!   `enc(x) = round((x + clip) · L / (2·clip))`. The scale is `L / (2·clip)` levels per unit,
//!   the step `Δ = 2·clip / L`.
//!
//! Because each encoded value is at most `L`, the sum of up to `max_clients` of them is at most
//! `2^32 − 1` and never wraps, so the ring sum *is* the integer sum and decodes as
//! `Σx ≈ S·Δ − n·clip` for `n` contributors.
//!
//! Error bound: each encoding is off by at most `Δ/2` (rounding to nearest), so
//! `|decode(S) − Σ clip(x_i)| ≤ n·Δ/2` in exact arithmetic; [`Quantizer::error_bound`] adds a
//! margin for the `f64` arithmetic, and the result is then rounded once to `f32` (half an ulp
//! of each output coordinate on top). With 100 clients and `clip = 1` the step is 4.7e-8, the
//! precision of an `f32` near 1.

use serde::{Deserialize, Serialize};

use crate::PrivacyError;

/// The quantiser shared by all clients and the server of a round (it is part of
/// [`super::SecAggConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantizer {
    /// Coordinates are clipped to `[-clip, clip]` before encoding.
    pub clip: f32,
    /// The most clients whose values may be summed; fixes the scale so the sum never wraps.
    pub max_clients: u32,
}

impl Quantizer {
    /// A validated quantiser (`clip` positive and finite, `max_clients ≥ 1`).
    pub fn new(clip: f32, max_clients: u32) -> Result<Self, PrivacyError> {
        let q = Self { clip, max_clients };
        q.validate()?;
        Ok(q)
    }

    /// Checks the (public, possibly deserialised) fields.
    pub fn validate(&self) -> Result<(), PrivacyError> {
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return Err(PrivacyError::invalid(
                "clip",
                self.clip,
                "must be positive and finite",
            ));
        }
        if self.max_clients == 0 {
            return Err(PrivacyError::invalid(
                "max_clients",
                0,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// `L`: the largest encoded value of one client.
    pub fn levels(&self) -> u32 {
        u32::MAX / self.max_clients.max(1)
    }

    /// `Δ = 2·clip / L`: the value of one quantisation level.
    pub fn step(&self) -> f64 {
        2.0 * f64::from(self.clip) / f64::from(self.levels())
    }

    /// Encodes `update` (clipping each coordinate to `[-clip, clip]`). NaN is an error (it has
    /// no place in the range); ±∞ clip to the range ends like any other large value.
    pub fn encode(&self, update: &[f32]) -> Result<Vec<u32>, PrivacyError> {
        self.validate()?;
        if let Some(index) = update.iter().position(|v| v.is_nan()) {
            return Err(PrivacyError::NonFiniteUpdate { index });
        }
        let c = f64::from(self.clip);
        let levels = f64::from(self.levels());
        let scale = levels / (2.0 * c);
        Ok(update
            .iter()
            .map(|&x| {
                let v = f64::from(x.clamp(-self.clip, self.clip));
                ((v + c) * scale).round().clamp(0.0, levels) as u32
            })
            .collect())
    }

    /// Decodes the ring sum of `contributors` encoded vectors to the sum of their (clipped)
    /// values. Errors if `contributors` exceeds `max_clients` (the sum could have wrapped) or is
    /// zero.
    pub fn decode_sum(&self, sum: &[u32], contributors: u32) -> Result<Vec<f32>, PrivacyError> {
        self.validate()?;
        if contributors == 0 || contributors > self.max_clients {
            return Err(PrivacyError::invalid(
                "contributors",
                contributors,
                "must lie in 1..=max_clients",
            ));
        }
        let step = self.step();
        let offset = f64::from(contributors) * f64::from(self.clip);
        Ok(sum
            .iter()
            .map(|&s| (f64::from(s) * step - offset) as f32)
            .collect())
    }

    /// Bound on `|decoded − Σ clip(x_i)|` per coordinate for `contributors` clients, before the
    /// final rounding to `f32` (add half an `f32` ulp of the output for that).
    pub fn error_bound(&self, contributors: u32) -> f64 {
        let n = f64::from(contributors);
        // n·Δ/2 from rounding each encoding, plus f64 rounding in encode/decode (relative 1e-15
        // of the magnitudes involved, n·clip).
        n * self.step() / 2.0 + n * f64::from(self.clip) * 1e-12
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn sum_of_encodings_decodes_within_the_bound() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for &(clip, max_clients, n) in &[
            (1.0f32, 100u32, 100u32),
            (0.05, 10, 3),
            (4.0, 1000, 777),
            (1.0, 1, 1),
        ] {
            let q = Quantizer::new(clip, max_clients).unwrap();
            let dim = 500;
            let mut ring = vec![0u32; dim];
            let mut exact = vec![0f64; dim];
            for _ in 0..n {
                // Values beyond the range too, so clipping is exercised.
                let x: Vec<f32> = (0..dim)
                    .map(|_| rng.random_range(-1.3 * clip..1.3 * clip))
                    .collect();
                let e = q.encode(&x).unwrap();
                assert!(e.iter().all(|&v| v <= q.levels()));
                for i in 0..dim {
                    // The sum never wraps: checked_add must succeed.
                    ring[i] = ring[i].checked_add(e[i]).unwrap();
                    exact[i] += f64::from(x[i].clamp(-clip, clip));
                }
            }
            let decoded = q.decode_sum(&ring, n).unwrap();
            let bound = q.error_bound(n);
            for i in 0..dim {
                let err = (f64::from(decoded[i]) - exact[i]).abs();
                let f32_rounding = f64::from(decoded[i]).abs() * f64::from(f32::EPSILON) / 2.0;
                assert!(
                    err <= bound + f32_rounding,
                    "clip {clip} n {n}: err {err} > {bound}"
                );
            }
        }
    }

    #[test]
    fn extremes_encode_to_the_range_ends() {
        let q = Quantizer::new(2.0, 7).unwrap();
        let e = q
            .encode(&[-2.0, 2.0, f32::INFINITY, f32::NEG_INFINITY, 0.0])
            .unwrap();
        assert_eq!(e[0], 0);
        assert_eq!(e[1], q.levels());
        assert_eq!(e[2], q.levels());
        assert_eq!(e[3], 0);
        let sum: Vec<u32> = (0..7).fold(vec![0u32; 2], |acc, _| vec![acc[0] + e[1], acc[1] + e[0]]);
        let d = q.decode_sum(&sum, 7).unwrap();
        assert!(
            (d[0] - 14.0).abs() < 1e-5 && (d[1] + 14.0).abs() < 1e-5,
            "{d:?}"
        );
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert!(Quantizer::new(0.0, 3).is_err());
        assert!(Quantizer::new(f32::NAN, 3).is_err());
        assert!(Quantizer::new(1.0, 0).is_err());
        let q = Quantizer::new(1.0, 3).unwrap();
        assert!(q.encode(&[0.0, f32::NAN]).is_err());
        assert!(q.decode_sum(&[0], 4).is_err());
        assert!(q.decode_sum(&[0], 0).is_err());
    }
}
