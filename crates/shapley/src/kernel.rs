//! Kernel SHAP, following `shap.KernelExplainer.explain` + `solve` (shap 0.51) step by step.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Explanation;
use crate::coalition::{CoalitionValues, ValueFn, check_finite};
use crate::error::{Result, ShapleyError};
use oncolens_core::linalg::solve;

/// Budget and randomness of Kernel SHAP.
/// `Default` is shap's `nsamples="auto"` with seed 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelOptions {
    /// Coalitions to evaluate (shap's `nsamples`); `None` means shap's `"auto"`,
    /// `2·M + 2048`. Capped at `2^M − 2` (every non-trivial coalition), in which case the result
    /// equals exact Shapley values up to rounding.
    pub nsamples: Option<usize>,
    /// Seed of the coalition sampler, so that an explanation in a report can be regenerated
    /// bit for bit.
    pub seed: u64,
}

/// Binomial coefficient as `f64` (shap uses `scipy.special.binom`): overflows to `inf` for huge
/// `m`, which simply means "cannot enumerate this size".
fn binom(m: usize, k: usize) -> f64 {
    let k = k.min(m - k);
    let mut c = 1.0_f64;
    for j in 0..k {
        c = c * (m - j) as f64 / (j + 1) as f64;
    }
    c.round()
}

/// Calls `f` with every `k`-subset of `0..m` in lexicographic order (`itertools.combinations`).
fn for_each_combination(m: usize, k: usize, mut f: impl FnMut(&[usize])) {
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        f(&idx);
        let Some(i) = (0..k).rev().find(|&i| idx[i] != i + m - k) else {
            return;
        };
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// The coalitions Kernel SHAP regresses on and their kernel weights.
struct Design {
    masks: Vec<Vec<bool>>,
    weights: Vec<f64>,
}

/// shap's sample allocation: enumerate whole coalition sizes (with their complements) from the
/// smallest up while the budget covers them at their kernel weight, then sample the remaining
/// sizes in complementary pairs, merging duplicates by adding to their weight.
fn design(m: usize, nsamples: usize, seed: u64) -> Design {
    // ceil((m-1)/2) sizes are visited (a size and its complement size share one slot);
    // floor((m-1)/2) of them have a distinct complement size and are drawn in pairs.
    let num_subset_sizes = m.saturating_sub(1).div_ceil(2);
    let num_paired = m.saturating_sub(1) / 2;
    let mut weight_vector: Vec<f64> = (1..=num_subset_sizes)
        .map(|i| (m as f64 - 1.0) / (i as f64 * (m - i) as f64))
        .collect();
    for w in weight_vector.iter_mut().take(num_paired) {
        *w *= 2.0;
    }
    let total: f64 = weight_vector.iter().sum();
    for w in &mut weight_vector {
        *w /= total;
    }

    let mut masks: Vec<Vec<bool>> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    let mut num_full_subsets = 0;
    let mut num_samples_left = nsamples as f64;
    let mut remaining = weight_vector.clone();
    for subset_size in 1..=num_subset_sizes {
        let paired = subset_size <= num_paired;
        let mut nsubsets = binom(m, subset_size);
        if paired {
            nsubsets *= 2.0;
        }
        if num_samples_left * remaining[subset_size - 1] / nsubsets < 1.0 - 1e-8 {
            break;
        }
        num_full_subsets += 1;
        num_samples_left -= nsubsets;
        if remaining[subset_size - 1] < 1.0 {
            let d = 1.0 - remaining[subset_size - 1];
            for r in &mut remaining {
                *r /= d;
            }
        }
        let mut w = weight_vector[subset_size - 1] / binom(m, subset_size);
        if paired {
            w /= 2.0;
        }
        for_each_combination(m, subset_size, |inds| {
            let mut mask = vec![false; m];
            for &i in inds {
                mask[i] = true;
            }
            if paired {
                let complement: Vec<bool> = mask.iter().map(|b| !b).collect();
                masks.push(mask);
                weights.push(w);
                masks.push(complement);
                weights.push(w);
            } else {
                masks.push(mask);
                weights.push(w);
            }
        });
    }

    let nfixed = masks.len();
    let mut samples_left = nsamples.saturating_sub(nfixed);
    if num_full_subsets != num_subset_sizes && samples_left > 0 {
        let mut rem: Vec<f64> = weight_vector.clone();
        for r in rem.iter_mut().take(num_paired) {
            *r /= 2.0; // two samples are drawn per paired size
        }
        let rem = &rem[num_full_subsets..];
        let rem_total: f64 = rem.iter().sum();
        let cumulative: Vec<f64> = rem
            .iter()
            .scan(0.0, |acc, r| {
                *acc += r / rem_total;
                Some(*acc)
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut used: HashMap<Vec<bool>, usize> = HashMap::new();
        let draws = 4 * samples_left;
        let mut perm: Vec<usize> = (0..m).collect();
        for _ in 0..draws {
            if samples_left == 0 {
                break;
            }
            let u: f64 = rng.random();
            let ind = cumulative
                .iter()
                .position(|&c| u < c)
                .unwrap_or(cumulative.len() - 1);
            let subset_size = ind + num_full_subsets + 1;
            // the first `subset_size` entries of a uniformly random permutation
            for i in 0..subset_size {
                let j = rng.random_range(i..m);
                perm.swap(i, j);
            }
            let mut mask = vec![false; m];
            for &p in &perm[..subset_size] {
                mask[p] = true;
            }
            let new_sample = match used.get(&mask) {
                Some(&k) => {
                    weights[k] += 1.0;
                    false
                }
                None => {
                    used.insert(mask.clone(), masks.len());
                    masks.push(mask.clone());
                    weights.push(1.0);
                    samples_left -= 1;
                    true
                }
            };
            if samples_left > 0 && subset_size <= num_paired {
                let complement: Vec<bool> = mask.iter().map(|b| !b).collect();
                if new_sample {
                    masks.push(complement);
                    weights.push(1.0);
                    samples_left -= 1;
                } else if let Some(&k) = used.get(&mask) {
                    // the complement was stored right after the original
                    if let Some(w) = weights.get_mut(k + 1) {
                        *w += 1.0;
                    }
                }
            }
        }
        let weight_left: f64 = weight_vector[num_full_subsets..].iter().sum();
        let sampled: f64 = weights[nfixed..].iter().sum();
        if sampled > 0.0 {
            for w in &mut weights[nfixed..] {
                *w *= weight_left / sampled;
            }
        }
    }
    Design { masks, weights }
}

/// Kernel SHAP over `game`, where only the players in `varying` can change the value (the others
/// get φ = 0, as shap does for features equal to every background row).
pub(crate) fn kernel_from_game(
    game: &impl CoalitionValues,
    varying: &[usize],
    fnull: f64,
    fx: f64,
    opts: &KernelOptions,
) -> Result<Explanation> {
    let players = game.players();
    if players == 0 {
        return Err(ShapleyError::NoPlayers);
    }
    let m = varying.len();
    let mut phi = vec![0.0; players];
    let explanation = |values, n| Explanation {
        values,
        base_value: fnull,
        output: fx,
        coalitions_evaluated: n,
    };
    if m == 0 {
        return Ok(explanation(phi, 0));
    }
    if m == 1 {
        phi[varying[0]] = fx - fnull;
        return Ok(explanation(phi, 0));
    }

    let mut nsamples = opts.nsamples.unwrap_or(2 * m + 2048);
    if m <= 30 {
        nsamples = nsamples.min((1usize << m) - 2);
    }
    if nsamples < m {
        return Err(ShapleyError::InvalidOption(format!(
            "nsamples = {nsamples} is below the {m} varying players: the regression would be \
             underdetermined"
        )));
    }

    let Design { masks, weights } = design(m, nsamples, opts.seed);
    let full_masks: Vec<Vec<bool>> = masks
        .iter()
        .map(|mask| {
            let mut full = vec![false; players];
            for (k, &p) in varying.iter().enumerate() {
                full[p] = mask[k];
            }
            full
        })
        .collect();
    let ey = game.values(&full_masks)?;

    // Eliminate the last varying player with the efficiency constraint Σφ = fx − fnull, then
    // solve the weighted normal equations (XᵀWX) w = XᵀW y for the others.
    let delta = fx - fnull;
    let last = m - 1;
    let n = m - 1;
    let mut a = vec![0.0; n * n];
    let mut b = vec![0.0; n];
    let mut xrow = vec![0.0; n];
    for ((mask, &w), &e) in masks.iter().zip(&weights).zip(&ey) {
        let ml = f64::from(u8::from(mask[last]));
        let y = (e - fnull) - ml * delta;
        for (j, xj) in xrow.iter_mut().enumerate() {
            *xj = f64::from(u8::from(mask[j])) - ml;
        }
        for r in 0..n {
            let wx = w * xrow[r];
            if wx == 0.0 {
                continue;
            }
            b[r] += wx * y;
            for c in 0..n {
                a[r * n + c] += wx * xrow[c];
            }
        }
    }
    let w = solve(a, b, n).ok_or(ShapleyError::SingularRegression {
        samples: masks.len(),
        players: m,
    })?;
    let wsum: f64 = w.iter().sum();
    for (k, &p) in varying.iter().enumerate() {
        let value = if k == last { delta - wsum } else { w[k] };
        // shap zeroes |φ| < 1e-10 ("clean up any rounding errors"); done too so outputs match.
        phi[p] = if value.abs() < 1e-10 { 0.0 } else { value };
    }
    Ok(explanation(phi, masks.len()))
}

/// Kernel SHAP for a caller's value function (many modalities or groups): `v` is called once for
/// the empty and the full coalition and once per sampled coalition.
///
/// # Errors
/// [`ShapleyError::NoPlayers`], [`ShapleyError::NonFiniteOutput`],
/// [`ShapleyError::InvalidOption`] when `nsamples` is below the player count,
/// [`ShapleyError::SingularRegression`].
pub fn kernel_shap_from_value_fn(
    players: usize,
    v: impl Fn(&[bool]) -> f64,
    opts: &KernelOptions,
) -> Result<Explanation> {
    if players == 0 {
        return Err(ShapleyError::NoPlayers);
    }
    let empty = vec![false; players];
    let full = vec![true; players];
    let fnull = check_finite(&empty, v(&empty))?;
    let fx = check_finite(&full, v(&full))?;
    let all: Vec<usize> = (0..players).collect();
    kernel_from_game(&ValueFn { players, v }, &all, fnull, fx, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_are_lexicographic() {
        let mut seen = Vec::new();
        for_each_combination(4, 2, |c| seen.push(c.to_vec()));
        assert_eq!(
            seen,
            vec![
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 2],
                vec![1, 3],
                vec![2, 3]
            ]
        );
    }

    #[test]
    fn full_budget_enumerates_every_nontrivial_coalition_once() {
        for m in 2..=9 {
            let d = design(m, (1 << m) - 2, 0);
            assert_eq!(d.masks.len(), (1 << m) - 2, "m={m}");
            let distinct: std::collections::HashSet<_> = d.masks.iter().collect();
            assert_eq!(distinct.len(), d.masks.len());
            let total: f64 = d.weights.iter().sum();
            assert!((total - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn sampled_design_respects_budget_and_normalises_weights() {
        let d = design(14, 500, 3);
        assert!(d.masks.len() <= 500);
        let total: f64 = d.weights.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(d.masks.len(), design(14, 500, 3).masks.len());
    }
}
