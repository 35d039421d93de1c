//! Shamir t-of-n secret sharing over the prime field GF(2^61 − 1).
//!
//! A secret of any length is cut into 7-byte chunks (56 bits, below the prime), and each chunk
//! is the constant term of its own random polynomial of degree `t − 1`; a share is the vector of
//! those polynomials' values at the share's `x`. Any `t` shares determine every polynomial
//! (Lagrange interpolation at 0); any `t − 1` are uniformly distributed whatever the secret, so
//! they say nothing about it (Shamir 1979).
//!
//! Why a prime field of this size rather than GF(2^8): share points are `client id + 1`, so any
//! `u32` client id has its own point, and the arithmetic is a few lines with `u128` products.
//!
//! When more than `t` shares are supplied, [`reconstruct`] interpolates from the first `t` and
//! checks that every other share lies on the same polynomials, so a garbled share is an error
//! instead of a silently wrong secret.

use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};

use crate::PrivacyError;

/// The field modulus, the Mersenne prime 2^61 − 1.
pub const PRIME: u64 = (1 << 61) - 1;

/// Bytes of secret per field element.
const CHUNK: usize = 7;

/// One share: the evaluation point `x` (non-zero) and one field element per 7-byte chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// Evaluation point, in `1..PRIME`.
    pub x: u64,
    /// Polynomial values at `x`, one per chunk, each in `0..PRIME`.
    pub y: Vec<u64>,
}

fn add(a: u64, b: u64) -> u64 {
    let s = a + b; // both < 2^61: no overflow
    if s >= PRIME { s - PRIME } else { s }
}

fn sub(a: u64, b: u64) -> u64 {
    if a >= b { a - b } else { a + PRIME - b }
}

fn mul(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) % u128::from(PRIME)) as u64
}

fn pow(mut base: u64, mut exp: u64) -> u64 {
    let mut acc = 1;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul(acc, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    acc
}

/// Multiplicative inverse (Fermat); `a` must be non-zero.
fn inv(a: u64) -> u64 {
    pow(a, PRIME - 2)
}

/// Number of field elements for a secret of `len` bytes.
pub fn chunks_for(len: usize) -> usize {
    len.div_ceil(CHUNK)
}

/// Splits `secret` into one share per point in `xs`, any `threshold` of which reconstruct it.
///
/// Errors: `threshold` not in `1..=xs.len()`, a point that is 0, `≥ PRIME` or repeated.
pub fn split<R: Rng + CryptoRng + ?Sized>(
    secret: &[u8],
    threshold: usize,
    xs: &[u64],
    rng: &mut R,
) -> Result<Vec<Share>, PrivacyError> {
    if threshold == 0 || threshold > xs.len() {
        return Err(PrivacyError::invalid(
            "threshold",
            threshold,
            "must lie in 1..=number of shares",
        ));
    }
    check_points(xs.iter().copied())?;
    let mut shares: Vec<Share> = xs
        .iter()
        .map(|&x| Share {
            x,
            y: Vec::with_capacity(chunks_for(secret.len())),
        })
        .collect();
    let mut coeffs = vec![0u64; threshold];
    for chunk in secret.chunks(CHUNK) {
        coeffs[0] = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for c in coeffs.iter_mut().skip(1) {
            *c = rng.random_range(0..PRIME);
        }
        for share in &mut shares {
            // Horner's rule.
            let y = coeffs
                .iter()
                .rev()
                .fold(0u64, |acc, &c| add(mul(acc, share.x), c));
            share.y.push(y);
        }
    }
    coeffs.iter_mut().for_each(|c| *c = 0);
    Ok(shares)
}

fn check_points(xs: impl Iterator<Item = u64>) -> Result<(), PrivacyError> {
    let mut seen = std::collections::BTreeSet::new();
    for x in xs {
        if x == 0 || x >= PRIME {
            return Err(PrivacyError::Malformed(format!(
                "share point {x} outside 1..2^61-1"
            )));
        }
        if !seen.insert(x) {
            return Err(PrivacyError::Malformed(format!("share point {x} repeated")));
        }
    }
    Ok(())
}

/// Value at `z` of the polynomial (one per chunk `c`) through `basis`'s points.
fn interpolate(basis: &[&Share], z: u64, c: usize) -> u64 {
    let mut acc = 0;
    for (i, si) in basis.iter().enumerate() {
        let mut num = 1;
        let mut den = 1;
        for (j, sj) in basis.iter().enumerate() {
            if i != j {
                num = mul(num, sub(z, sj.x));
                den = mul(den, sub(si.x, sj.x));
            }
        }
        acc = add(acc, mul(si.y[c], mul(num, inv(den))));
    }
    acc
}

/// Reconstructs a `secret_len`-byte secret from at least `threshold` shares.
///
/// Errors: fewer than `threshold` shares ([`PrivacyError::NotEnoughShares`]); shares of the
/// wrong length, with values outside the field or repeated points ([`PrivacyError::Malformed`]);
/// extra shares inconsistent with the first `threshold`, or a result that is not a valid
/// encoding of `secret_len` bytes ([`PrivacyError::Reconstruction`]).
pub fn reconstruct(
    shares: &[Share],
    threshold: usize,
    secret_len: usize,
) -> Result<Vec<u8>, PrivacyError> {
    if threshold == 0 {
        return Err(PrivacyError::invalid("threshold", 0, "must be at least 1"));
    }
    if shares.len() < threshold {
        return Err(PrivacyError::NotEnoughShares {
            have: shares.len(),
            need: threshold,
        });
    }
    let n_chunks = chunks_for(secret_len);
    for s in shares {
        if s.y.len() != n_chunks {
            return Err(PrivacyError::LengthMismatch {
                what: "share chunks",
                expected: n_chunks,
                got: s.y.len(),
            });
        }
        if s.y.iter().any(|&y| y >= PRIME) {
            return Err(PrivacyError::Malformed(
                "share value outside the field".into(),
            ));
        }
    }
    check_points(shares.iter().map(|s| s.x))?;
    let basis: Vec<&Share> = shares.iter().take(threshold).collect();
    for extra in &shares[threshold..] {
        for c in 0..n_chunks {
            if interpolate(&basis, extra.x, c) != extra.y[c] {
                return Err(PrivacyError::Reconstruction(format!(
                    "share at x = {} is inconsistent with the others",
                    extra.x
                )));
            }
        }
    }
    let mut secret = Vec::with_capacity(secret_len);
    for c in 0..n_chunks {
        let value = interpolate(&basis, 0, c);
        let len = (secret_len - c * CHUNK).min(CHUNK);
        if len < 8 && value >> (8 * len) != 0 {
            return Err(PrivacyError::Reconstruction(
                "reconstructed value is not a valid secret (garbled shares?)".into(),
            ));
        }
        for k in (0..len).rev() {
            secret.push((value >> (8 * k)) as u8);
        }
    }
    Ok(secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
        (0u32..(1 << n))
            .filter(|m| m.count_ones() as usize == k)
            .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
            .collect()
    }

    #[test]
    fn any_t_shares_reconstruct_and_t_minus_1_do_not() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let secret: Vec<u8> = (0..32).map(|_| rng.random()).collect();
        let xs: Vec<u64> = vec![1, 2, 8, 100, 4_000_000_000, PRIME - 1];
        let t = 4;
        let shares = split(&secret, t, &xs, &mut rng).unwrap();
        for subset in subsets(xs.len(), t) {
            let chosen: Vec<Share> = subset.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(reconstruct(&chosen, t, 32).unwrap(), secret);
        }
        // All six (t plus consistent extras) work too.
        assert_eq!(reconstruct(&shares, t, 32).unwrap(), secret);
        for subset in subsets(xs.len(), t - 1) {
            let chosen: Vec<Share> = subset.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(
                reconstruct(&chosen, t, 32),
                Err(PrivacyError::NotEnoughShares {
                    have: t - 1,
                    need: t
                })
            );
            // Interpolating t-1 shares anyway gives a value unrelated to the secret.
            let basis: Vec<&Share> = chosen.iter().collect();
            let guess = interpolate(&basis, 0, 0);
            let first_chunk = secret[..7]
                .iter()
                .fold(0u64, |a, &b| (a << 8) | u64::from(b));
            assert_ne!(guess, first_chunk);
        }
    }

    #[test]
    fn t_minus_1_shares_are_consistent_with_every_secret() {
        // Perfect secrecy, concretely: for any other secret there is a degree t-1 polynomial
        // through the same t-1 shares (add the right multiple of the vanishing polynomial).
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let shares = split(&[42u8], 3, &[1, 2, 3], &mut rng).unwrap();
        let seen = [&shares[0], &shares[1]];
        for other in [0u64, 7, 255] {
            // Polynomial p'(z) = p(z) + k·(z − 1)(z − 2): p'(0) = p(0) + 2k.
            let p0 = 42u64;
            let k = mul(sub(other, p0), inv(2));
            let p_at = |z: u64| {
                add(
                    interpolate(&[&shares[0], &shares[1], &shares[2]], z, 0),
                    mul(k, mul(sub(z, 1), sub(z, 2))),
                )
            };
            assert_eq!(p_at(1), seen[0].y[0]);
            assert_eq!(p_at(2), seen[1].y[0]);
            assert_eq!(p_at(0), other);
        }
    }

    #[test]
    fn garbled_or_malformed_shares_are_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let secret = [9u8; 32];
        let shares = split(&secret, 2, &[1, 2, 3], &mut rng).unwrap();
        let mut bad = shares.clone();
        bad[2].y[1] ^= 1;
        assert!(matches!(
            reconstruct(&bad, 2, 32),
            Err(PrivacyError::Reconstruction(_))
        ));
        let mut bad = shares.clone();
        bad[1].x = bad[0].x;
        assert!(matches!(
            reconstruct(&bad, 2, 32),
            Err(PrivacyError::Malformed(_))
        ));
        let mut bad = shares.clone();
        bad[0].y.pop();
        assert!(matches!(
            reconstruct(&bad, 2, 32),
            Err(PrivacyError::LengthMismatch { .. })
        ));
        let mut bad = shares.clone();
        bad[0].y[0] = u64::MAX;
        assert!(reconstruct(&bad, 2, 32).is_err());
        assert!(split(&secret, 0, &[1, 2], &mut rng).is_err());
        assert!(split(&secret, 3, &[1, 2], &mut rng).is_err());
        assert!(split(&secret, 2, &[0, 2], &mut rng).is_err());
        assert!(split(&secret, 2, &[2, 2], &mut rng).is_err());
        assert!(split(&secret, 2, &[1, PRIME], &mut rng).is_err());
    }
}
