//! Exact Shapley values by enumerating every coalition.

use crate::coalition::{CoalitionValues, ValueFn, mask_from_bits};
use crate::error::{Result, ShapleyError};
use crate::{Explanation, MAX_EXACT_PLAYERS};

/// Shapley weight `s!(m−s−1)!/m!` of a coalition of size `s` that a player joins in a game of
/// `m` players; 0 when `s ≥ m` (no such coalition).
///
/// Computed as `1 / (m · C(m−1, s))`, which never forms the factorials and so stays accurate
/// for any `m` the exact explainer accepts.
#[must_use]
pub fn shapley_weight(m: usize, s: usize) -> f64 {
    if s >= m {
        return 0.0;
    }
    let mut binom = 1.0_f64;
    let k = s.min(m - 1 - s);
    for j in 0..k {
        binom = binom * (m - 1 - j) as f64 / (j + 1) as f64;
    }
    1.0 / (m as f64 * binom.round())
}

/// Refuses player counts that cannot be enumerated.
pub(crate) fn check_exact_players(players: usize) -> Result<()> {
    if players == 0 {
        return Err(ShapleyError::NoPlayers);
    }
    if players > MAX_EXACT_PLAYERS {
        return Err(ShapleyError::TooManyPlayers {
            players,
            limit: MAX_EXACT_PLAYERS,
        });
    }
    Ok(())
}

/// Exact Shapley values of `game` from all `2^M` coalition values.
pub(crate) fn exact_from_game(game: &impl CoalitionValues) -> Result<Explanation> {
    let m = game.players();
    check_exact_players(m)?;
    let n = 1usize << m;
    let masks: Vec<Vec<bool>> = (0..n).map(|b| mask_from_bits(b, m)).collect();
    let v = game.values(&masks)?;
    Ok(Explanation {
        values: shapley_from_table(m, &v),
        base_value: v[0],
        output: v[n - 1],
        coalitions_evaluated: n,
    })
}

/// φ_i = Σ_{S ∌ i} w(|S|) (v(S ∪ {i}) − v(S)) with `v` indexed by coalition bits.
fn shapley_from_table(m: usize, v: &[f64]) -> Vec<f64> {
    let w: Vec<f64> = (0..m).map(|s| shapley_weight(m, s)).collect();
    (0..m)
        .map(|i| {
            let bit = 1usize << i;
            (0..v.len())
                .filter(|s| s & bit == 0)
                .map(|s| w[s.count_ones() as usize] * (v[s | bit] - v[s]))
                .sum()
        })
        .collect()
}

/// Exact Shapley values of an arbitrary game with `players ≤ 12` players.
///
/// `v(mask)` is the worth of the coalition whose members have `mask[i] == true`. For modality
/// shares that is the model's output with the modalities outside the coalition masked as
/// missing; `v(all false)` becomes [`Explanation::base_value`] and `v(all true)`
/// [`Explanation::output`]. `v` is called exactly once per coalition, `2^players` times, in
/// increasing order of the coalition's bit pattern (bit i = player i).
///
/// # Errors
/// [`ShapleyError::NoPlayers`], [`ShapleyError::TooManyPlayers`] (use
/// [`crate::kernel_shap_from_value_fn`] then), [`ShapleyError::NonFiniteOutput`] naming the first
/// coalition whose value is NaN or infinite.
pub fn shapley_from_value_fn(players: usize, v: impl Fn(&[bool]) -> f64) -> Result<Explanation> {
    exact_from_game(&ValueFn { players, v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_over_all_coalitions_a_player_can_join() {
        for m in 1..=MAX_EXACT_PLAYERS {
            let total: f64 = (0..m)
                .map(|s| {
                    // number of coalitions of size s without player i: C(m-1, s)
                    let mut c = 1.0;
                    for j in 0..s {
                        c = c * (m - 1 - j) as f64 / (j + 1) as f64;
                    }
                    c * shapley_weight(m, s)
                })
                .sum();
            assert!((total - 1.0).abs() < 1e-14, "m={m}: {total}");
        }
        assert_eq!(shapley_weight(3, 0), 1.0 / 3.0);
        assert_eq!(shapley_weight(3, 1), 1.0 / 6.0);
        assert_eq!(shapley_weight(3, 3), 0.0);
    }

    #[test]
    fn glove_game() {
        // players 0, 1 hold left gloves, player 2 a right glove: v = 1 iff a pair exists.
        let e = shapley_from_value_fn(3, |s| f64::from(u8::from((s[0] || s[1]) && s[2]))).unwrap();
        let expect = [1.0 / 6.0, 1.0 / 6.0, 2.0 / 3.0];
        for (a, b) in e.values.iter().zip(expect) {
            assert!((a - b).abs() < 1e-15);
        }
        assert_eq!(e.base_value, 0.0);
        assert_eq!(e.output, 1.0);
    }
}
