//! Model-agnostic Shapley values for oncolens explanations.
//!
//! * [`exact_shapley`] / [`TabularExplainer::exact`]: exact Shapley values of a tabular input
//!   under the *interventional* (marginal) value function
//!   `v(S) = mean_b f(x_S, b_notS)` over a background set — the quantity
//!   `shap.explainers.Exact(f, shap.maskers.Independent(background, max_samples=len(background)))`
//!   computes. All `2^M` coalitions are enumerated (M ≤ [`MAX_EXACT_PLAYERS`]).
//! * [`kernel_shap`] / [`TabularExplainer::kernel`]: Kernel SHAP as `shap.KernelExplainer`
//!   does it (budget allocation over coalition sizes, paired sampling, efficiency enforced by
//!   eliminating one variable) for inputs with too many features to enumerate.
//! * [`shapley_from_value_fn`]: exact Shapley values of any game given as a value function over
//!   coalitions — what oncolens uses for modality shares (image, text, clinical, omics), where
//!   `v(S)` is the model output with the modalities outside `S` masked as missing. Feature groups
//!   over a tabular input are [`TabularExplainer::with_groups`].
//! * [`shares`]: `|φ_i| / Σ|φ|`, the fraction of the attribution mass each player carries.
//!
//! The model is anything implementing [`Model`], including every closure
//! `Fn(&[Vec<f64>]) -> Vec<f64> + Sync` (a batch of rows in, one output per row out), so burn
//! models, logistic regressions or remote scorers are wrapped by the caller and this crate stays
//! free of any ML framework. Multi-output models are explained one output at a time.
//!
//! ```
//! use oncolens_shapley::{exact_shapley, shapley_from_value_fn, shares};
//!
//! // Tabular: a logistic-regression logit, 3 features, 2 background rows.
//! let w = [0.5, -1.0, 2.0];
//! let model = |rows: &[Vec<f64>]| -> Vec<f64> {
//!     rows.iter().map(|r| r.iter().zip(&w).map(|(a, b)| a * b).sum()).collect()
//! };
//! let background = vec![vec![0.0, 0.0, 0.0], vec![2.0, 2.0, 2.0]];
//! let e = exact_shapley(&model, &background, &[1.0, 3.0, 0.0])?;
//! assert!(e.efficiency_gap().abs() < 1e-12); // Σφ = f(x) − E_b[f(b)]
//! assert!((e.values[2] - 2.0 * (0.0 - 1.0)).abs() < 1e-12);
//!
//! // Modalities: v(S) = model output with the modalities outside S masked as missing.
//! let v = |present: &[bool]| -> f64 {
//!     let [image, text, clinical, omics] = [0, 1, 2, 3].map(|i| f64::from(u8::from(present[i])));
//!     0.1 + 0.4 * image + 0.1 * text + 0.3 * image * clinical + 0.05 * omics
//! };
//! let m = shapley_from_value_fn(4, v)?;
//! let s = shares(&m.values); // φ: image 0.55, text 0.1, clinical 0.15, omics 0.05
//! assert!(s[0] > s[2] && s[2] > s[1]);
//! # Ok::<(), oncolens_shapley::ShapleyError>(())
//! ```

mod coalition;
mod error;
mod exact;
mod kernel;
mod tabular;

pub use error::{Result, ShapleyError};
pub use exact::{shapley_from_value_fn, shapley_weight};
pub use kernel::{KernelOptions, kernel_shap_from_value_fn};
pub use tabular::{DEFAULT_BATCH_ROWS, TabularExplainer, exact_shapley, kernel_shap};

/// Largest number of players explained by full enumeration (2^12 = 4096 coalitions, each costing
/// one model evaluation per background row). Beyond it use Kernel SHAP.
pub const MAX_EXACT_PLAYERS: usize = 12;

/// A model to explain: maps a batch of rows to one output per row.
///
/// Batches let GPU/CPU models amortise their per-call overhead; the crate calls `predict` from
/// several rayon threads at once, hence `Sync`.
pub trait Model: Sync {
    /// One output (a logit, a probability, a risk score...) per input row, in order.
    fn predict(&self, rows: &[Vec<f64>]) -> Vec<f64>;
}

impl<F> Model for F
where
    F: Fn(&[Vec<f64>]) -> Vec<f64> + Sync,
{
    fn predict(&self, rows: &[Vec<f64>]) -> Vec<f64> {
        self(rows)
    }
}

/// Shapley values of one explained input (or one game).
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// φ_i, one per player (feature, group or modality), in player order.
    pub values: Vec<f64>,
    /// `v(∅)`: for tabular inputs the mean model output over the background, `E_b[f(b)]`
    /// (shap's `base_values` / `expected_value`).
    pub base_value: f64,
    /// `v(all players)`: for tabular inputs `f(x)`.
    pub output: f64,
    /// Distinct coalitions whose value was computed (2^M for exact).
    pub coalitions_evaluated: usize,
}

impl Explanation {
    /// `output − base_value − Σφ`: zero up to rounding for exact Shapley values and Kernel SHAP
    /// (both satisfy efficiency), so callers can assert it cheaply.
    #[must_use]
    pub fn efficiency_gap(&self) -> f64 {
        self.output - self.base_value - self.values.iter().sum::<f64>()
    }

    /// [`shares`] of these values.
    #[must_use]
    pub fn shares(&self) -> Vec<f64> {
        shares(&self.values)
    }
}

/// `|φ_i| / Σ_j |φ_j|`: the share of the total attribution mass carried by each player.
///
/// Absolute values because a modality that pushes the prediction down matters as much to a
/// reader as one pushing it up; the signed φ stay available for direction. When all φ are zero
/// (nothing changed the output) every share is 0 rather than NaN, so reports never show NaN%.
#[must_use]
pub fn shares(phi: &[f64]) -> Vec<f64> {
    let total: f64 = phi.iter().map(|p| p.abs()).sum();
    if total == 0.0 || !total.is_finite() {
        return vec![0.0; phi.len()];
    }
    phi.iter().map(|p| p.abs() / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_to_one_and_handle_zero() {
        let s = shares(&[1.0, -3.0, 0.0]);
        assert_eq!(s, vec![0.25, 0.75, 0.0]);
        assert_eq!(shares(&[0.0, 0.0]), vec![0.0, 0.0]);
        assert!(shares(&[]).is_empty());
    }
}
