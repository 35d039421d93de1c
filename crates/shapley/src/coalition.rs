//! Coalition bookkeeping shared by the exact and kernel estimators.

use crate::error::{Result, ShapleyError};

/// Something that can value coalitions of players: `values(masks)[k] = v(masks[k])`.
///
/// Exact and Kernel SHAP differ only in *which* coalitions they ask for and how they combine the
/// answers, so both run on this one abstraction (tabular interventional values, caller value
/// functions).
pub(crate) trait CoalitionValues {
    fn players(&self) -> usize;
    fn values(&self, masks: &[Vec<bool>]) -> Result<Vec<f64>>;
}

/// Indices of the players present in `mask` (for error messages).
pub(crate) fn members(mask: &[bool]) -> Vec<usize> {
    mask.iter()
        .enumerate()
        .filter_map(|(i, &m)| m.then_some(i))
        .collect()
}

/// Fails with the coalition named if `value` is NaN or infinite.
pub(crate) fn check_finite(mask: &[bool], value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ShapleyError::NonFiniteOutput {
            coalition: members(mask),
            value,
        })
    }
}

/// Coalition `bits` (bit i = player i) as a bool mask of `m` players.
pub(crate) fn mask_from_bits(bits: usize, m: usize) -> Vec<bool> {
    (0..m).map(|i| bits >> i & 1 == 1).collect()
}

/// A caller-supplied value function, evaluated sequentially: modality games call a full model per
/// coalition, and such callers usually parallelise (or batch on a GPU) inside `v` themselves.
pub(crate) struct ValueFn<F> {
    pub players: usize,
    pub v: F,
}

impl<F: Fn(&[bool]) -> f64> CoalitionValues for ValueFn<F> {
    fn players(&self) -> usize {
        self.players
    }

    fn values(&self, masks: &[Vec<bool>]) -> Result<Vec<f64>> {
        masks.iter().map(|m| check_finite(m, (self.v)(m))).collect()
    }
}
