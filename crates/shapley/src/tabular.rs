//! Interventional Shapley values of tabular inputs (features or feature groups as players).

use rayon::prelude::*;

use crate::coalition::{CoalitionValues, check_finite, members};
use crate::error::{Result, ShapleyError};
use crate::exact::exact_from_game;
use crate::kernel::{KernelOptions, kernel_from_game};
use crate::{Explanation, Model};

/// Rows per model call unless [`TabularExplainer::with_batch_rows`] says otherwise: large enough
/// to amortise per-call overhead, small enough (8192 × features × 8 bytes) to stay in cache-sized
/// memory per rayon worker.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// Explains one model against one background set.
///
/// The value of a coalition `S` of players is the interventional (marginal) expectation
/// `v(S) = (1/N) Σ_b f(x_S, b_notS)`: the features of the players in `S` come from the explained
/// row `x`, all others from background row `b`, and the model output is averaged over the `N`
/// background rows. This is shap's `Independent` masker with `max_samples = N`; it breaks feature
/// correlations on purpose (it explains the model, not the data).
pub struct TabularExplainer<'a, M: Model> {
    model: &'a M,
    background: &'a [Vec<f64>],
    /// Player owning each feature (identity without groups).
    owner: Vec<usize>,
    players: usize,
    batch_rows: usize,
}

impl<'a, M: Model> TabularExplainer<'a, M> {
    /// Checks the background (non-empty, every row as wide as the first, at least one feature)
    /// so that later calls only have to check the explained row.
    ///
    /// # Errors
    /// [`ShapleyError::EmptyBackground`], [`ShapleyError::NoPlayers`],
    /// [`ShapleyError::WidthMismatch`].
    pub fn new(model: &'a M, background: &'a [Vec<f64>]) -> Result<Self> {
        let first = background.first().ok_or(ShapleyError::EmptyBackground)?;
        let width = first.len();
        if width == 0 {
            return Err(ShapleyError::NoPlayers);
        }
        for (i, row) in background.iter().enumerate() {
            if row.len() != width {
                return Err(ShapleyError::WidthMismatch {
                    what: format!("background row {i}"),
                    expected: width,
                    found: row.len(),
                });
            }
        }
        Ok(Self {
            model,
            background,
            owner: (0..width).collect(),
            players: width,
            batch_rows: DEFAULT_BATCH_ROWS,
        })
    }

    /// Makes groups of features the players (e.g. the features of one modality, or the one-hot
    /// columns of one categorical variable). The groups must partition the features: every
    /// feature in exactly one non-empty group, so that a coalition of groups says unambiguously
    /// which features come from the explained row.
    ///
    /// # Errors
    /// [`ShapleyError::NoPlayers`] for no groups, [`ShapleyError::InvalidGroups`] otherwise.
    pub fn with_groups(mut self, groups: &[Vec<usize>]) -> Result<Self> {
        if groups.is_empty() {
            return Err(ShapleyError::NoPlayers);
        }
        let width = self.owner.len();
        let mut owner = vec![usize::MAX; width];
        for (g, features) in groups.iter().enumerate() {
            if features.is_empty() {
                return Err(ShapleyError::InvalidGroups(format!("group {g} is empty")));
            }
            for &j in features {
                let slot = owner.get_mut(j).ok_or_else(|| {
                    ShapleyError::InvalidGroups(format!(
                        "group {g} names feature {j}, but rows have {width} features"
                    ))
                })?;
                if *slot != usize::MAX {
                    return Err(ShapleyError::InvalidGroups(format!(
                        "feature {j} is in group {} and group {g}",
                        *slot
                    )));
                }
                *slot = g;
            }
        }
        if let Some(j) = owner.iter().position(|&o| o == usize::MAX) {
            return Err(ShapleyError::InvalidGroups(format!(
                "feature {j} is in no group (groups must cover every feature)"
            )));
        }
        self.owner = owner;
        self.players = groups.len();
        Ok(self)
    }

    /// Sets the most rows sent to the model in one call (at least one coalition's worth is always
    /// sent, i.e. `N` background rows).
    ///
    /// # Errors
    /// [`ShapleyError::InvalidOption`] for 0.
    pub fn with_batch_rows(mut self, rows: usize) -> Result<Self> {
        if rows == 0 {
            return Err(ShapleyError::InvalidOption(
                "batch_rows must be at least 1".into(),
            ));
        }
        self.batch_rows = rows;
        Ok(self)
    }

    /// Number of players: features, or groups after [`Self::with_groups`].
    #[must_use]
    pub fn players(&self) -> usize {
        self.players
    }

    /// `E_b[f(b)]`, the mean model output over the background (shap's `expected_value`).
    ///
    /// # Errors
    /// [`ShapleyError::OutputLength`], [`ShapleyError::NonFiniteOutput`] (coalition `[]`).
    pub fn base_value(&self) -> Result<f64> {
        let empty = vec![false; self.players];
        let mut sum = 0.0;
        for chunk in self.background.chunks(self.batch_rows) {
            for out in self.predict(chunk)? {
                sum += check_finite(&empty, out)?;
            }
        }
        Ok(sum / self.background.len() as f64)
    }

    /// Exact Shapley values of `x` (all `2^players` coalitions, `players ≤ 12`).
    ///
    /// # Errors
    /// [`ShapleyError::WidthMismatch`], [`ShapleyError::TooManyPlayers`] (use [`Self::kernel`]),
    /// [`ShapleyError::OutputLength`], [`ShapleyError::NonFiniteOutput`].
    pub fn exact(&self, x: &[f64]) -> Result<Explanation> {
        exact_from_game(&self.game(x)?)
    }

    /// Exact Shapley values of several rows, one [`Explanation`] each.
    ///
    /// # Errors
    /// As [`Self::exact`], for the first failing row.
    pub fn exact_batch(&self, rows: &[Vec<f64>]) -> Result<Vec<Explanation>> {
        rows.iter().map(|x| self.exact(x)).collect()
    }

    /// Kernel SHAP estimate of the Shapley values of `x` (see [`KernelOptions`]). Players whose
    /// features equal those of every background row cannot change `v` and get exactly 0, as in
    /// shap.
    ///
    /// # Errors
    /// [`ShapleyError::WidthMismatch`], [`ShapleyError::OutputLength`],
    /// [`ShapleyError::NonFiniteOutput`], [`ShapleyError::InvalidOption`],
    /// [`ShapleyError::SingularRegression`].
    pub fn kernel(&self, x: &[f64], opts: &KernelOptions) -> Result<Explanation> {
        let game = self.game(x)?;
        let mut varies = vec![false; self.players];
        for (j, &xj) in x.iter().enumerate() {
            // exact comparison (shap uses np.isclose): a feature that differs at all can move f
            let differs = self.background.iter().any(|b| b[j] != xj);
            if differs {
                varies[self.owner[j]] = true;
            }
        }
        let varying = members(&varies);
        let full = vec![true; self.players];
        let fx = match self.predict(&[x.to_vec()])?.first() {
            Some(&v) => check_finite(&full, v)?,
            None => {
                return Err(ShapleyError::OutputLength {
                    expected: 1,
                    found: 0,
                });
            }
        };
        let fnull = self.base_value()?;
        kernel_from_game(&game, &varying, fnull, fx, opts)
    }

    fn game<'s>(&'s self, x: &'s [f64]) -> Result<TabularGame<'s, 'a, M>> {
        if x.len() != self.owner.len() {
            return Err(ShapleyError::WidthMismatch {
                what: "explained row".into(),
                expected: self.owner.len(),
                found: x.len(),
            });
        }
        Ok(TabularGame { explainer: self, x })
    }

    /// One model call with the output-count contract checked.
    fn predict(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>> {
        let out = self.model.predict(rows);
        if out.len() != rows.len() {
            return Err(ShapleyError::OutputLength {
                expected: rows.len(),
                found: out.len(),
            });
        }
        Ok(out)
    }
}

struct TabularGame<'s, 'a, M: Model> {
    explainer: &'s TabularExplainer<'a, M>,
    x: &'s [f64],
}

impl<M: Model> TabularGame<'_, '_, M> {
    /// Values of a run of coalitions with one model call.
    fn chunk_values(&self, masks: &[Vec<bool>]) -> Result<Vec<f64>> {
        let e = self.explainer;
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(masks.len() * e.background.len());
        let mut counts = Vec::with_capacity(masks.len());
        for mask in masks {
            if mask.iter().all(|&m| m) {
                // every background row becomes x: one evaluation gives v = f(x) exactly
                rows.push(self.x.to_vec());
                counts.push(1);
                continue;
            }
            for b in e.background {
                let row: Vec<f64> = b
                    .iter()
                    .zip(self.x)
                    .zip(&e.owner)
                    .map(|((&bj, &xj), &p)| if mask[p] { xj } else { bj })
                    .collect();
                rows.push(row);
            }
            counts.push(e.background.len());
        }
        let out = e.predict(&rows)?;
        let mut values = Vec::with_capacity(masks.len());
        let mut start = 0;
        for (mask, &count) in masks.iter().zip(&counts) {
            let mut sum = 0.0;
            for &o in &out[start..start + count] {
                sum += check_finite(mask, o)?;
            }
            values.push(sum / count as f64);
            start += count;
        }
        Ok(values)
    }
}

impl<M: Model> CoalitionValues for TabularGame<'_, '_, M> {
    fn players(&self) -> usize {
        self.explainer.players
    }

    fn values(&self, masks: &[Vec<bool>]) -> Result<Vec<f64>> {
        // At most `batch_rows` rows per call, and at least one call per rayon thread so that small
        // games still use every core. Chunking never changes a value: each coalition's mean is
        // formed from its own rows only.
        let by_rows = self.explainer.batch_rows / self.explainer.background.len();
        let by_threads = masks.len().div_ceil(rayon::current_num_threads());
        let per_call = by_rows.min(by_threads).max(1);
        let chunks: Vec<Vec<f64>> = masks
            .par_chunks(per_call)
            .map(|chunk| self.chunk_values(chunk))
            .collect::<Result<_>>()?;
        Ok(chunks.into_iter().flatten().collect())
    }
}

/// Exact interventional Shapley values of `x` for `model` against `background`
/// (shorthand for [`TabularExplainer::new`] + [`TabularExplainer::exact`]).
///
/// # Errors
/// See [`TabularExplainer::new`] and [`TabularExplainer::exact`].
pub fn exact_shapley<M: Model>(
    model: &M,
    background: &[Vec<f64>],
    x: &[f64],
) -> Result<Explanation> {
    TabularExplainer::new(model, background)?.exact(x)
}

/// Kernel SHAP values of `x` for `model` against `background`
/// (shorthand for [`TabularExplainer::new`] + [`TabularExplainer::kernel`]).
///
/// # Errors
/// See [`TabularExplainer::new`] and [`TabularExplainer::kernel`].
pub fn kernel_shap<M: Model>(
    model: &M,
    background: &[Vec<f64>],
    x: &[f64],
    opts: &KernelOptions,
) -> Result<Explanation> {
    TabularExplainer::new(model, background)?.kernel(x, opts)
}
