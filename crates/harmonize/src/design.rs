//! Design matrix construction, following neuroCombat's `make_design_matrix`.
//!
//! Column layout: one indicator per site (sites in sorted order; with a
//! reference site its column is all ones and acts as the intercept), then for
//! each covariate in the order given either the value itself (continuous) or
//! indicators for every level except the first sorted one (categorical,
//! "reference level" coding as in neuroCombat).  neuroCombat puts all
//! categorical covariates before all continuous ones; the fitted data do not
//! depend on column order, so we keep the caller's order, which makes the
//! coefficient names easier to read.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{HarmonizeError, Result};

/// A per-sample covariate whose effect ComBat must preserve.
#[derive(Debug, Clone, PartialEq)]
pub enum Covariate {
    /// Numeric covariate entered linearly (e.g. age).
    Continuous {
        /// Name used in errors and coefficient labels.
        name: String,
        /// One value per sample.
        values: Vec<f64>,
    },
    /// Categorical covariate, one-hot coded with the first sorted level dropped.
    Categorical {
        /// Name used in errors and coefficient labels.
        name: String,
        /// One label per sample.
        values: Vec<String>,
    },
}

impl Covariate {
    /// The covariate's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Continuous { name, .. } | Self::Categorical { name, .. } => name,
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Continuous { values, .. } => values.len(),
            Self::Categorical { values, .. } => values.len(),
        }
    }
}

/// What the fitted model remembers about a covariate, so that new samples
/// can be coded with exactly the same design columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CovariateSpec {
    /// Continuous covariate.
    Continuous {
        /// Name.
        name: String,
    },
    /// Categorical covariate with its sorted levels; `levels[0]` is the
    /// reference level and has no design column.
    Categorical {
        /// Name.
        name: String,
        /// Sorted levels.
        levels: Vec<String>,
    },
}

impl CovariateSpec {
    /// The covariate's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Continuous { name } | Self::Categorical { name, .. } => name,
        }
    }
}

/// Distinct labels in the order `numpy.unique` would give them.
///
/// Why: neuroCombat orders sites and categorical levels with `np.unique`.
/// Labels read by pandas from a CSV are numbers when every value parses, so
/// they sort numerically; otherwise they are strings and sort by code point
/// (which is Rust's byte order for UTF-8).
pub(crate) fn sorted_levels<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut levels: Vec<String> = values.into_iter().map(str::to_owned).collect();
    levels.sort();
    levels.dedup();
    let numeric: Option<Vec<f64>> = levels
        .iter()
        .map(|l| l.trim().parse::<f64>().ok())
        .collect();
    if let Some(nums) = numeric {
        let mut paired: Vec<(f64, String)> = nums.into_iter().zip(levels).collect();
        paired.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        levels = paired.into_iter().map(|(_, l)| l).collect();
    }
    levels
}

/// Site indicator block (samples × sites); the reference site's column is
/// all ones, exactly as neuroCombat codes `ref_batch`.
pub(crate) fn batch_block(
    batch_idx: &[usize],
    n_batch: usize,
    reference: Option<usize>,
) -> Array2<f64> {
    let mut x = Array2::<f64>::zeros((batch_idx.len(), n_batch));
    for (i, &b) in batch_idx.iter().enumerate() {
        x[[i, b]] = 1.0;
        if let Some(r) = reference {
            x[[i, r]] = 1.0;
        }
    }
    x
}

/// Specs (levels) for the covariates of a new fit.
pub(crate) fn specs_for(covariates: &[Covariate]) -> Vec<CovariateSpec> {
    covariates
        .iter()
        .map(|c| match c {
            Covariate::Continuous { name, .. } => CovariateSpec::Continuous { name: name.clone() },
            Covariate::Categorical { name, values } => CovariateSpec::Categorical {
                name: name.clone(),
                levels: sorted_levels(values.iter().map(String::as_str)),
            },
        })
        .collect()
}

/// Covariate block of the design plus, per column, its label and the index
/// of the covariate it belongs to.
pub(crate) struct CovariateBlock {
    pub(crate) x: Array2<f64>,
    pub(crate) labels: Vec<String>,
    pub(crate) owner: Vec<usize>,
}

/// Code `covariates` with the columns described by `specs`.
pub(crate) fn covariate_block(
    covariates: &[Covariate],
    specs: &[CovariateSpec],
    n_samples: usize,
) -> Result<CovariateBlock> {
    let names_match = covariates.len() == specs.len()
        && covariates.iter().zip(specs).all(|(c, s)| {
            c.name() == s.name()
                && matches!(
                    (c, s),
                    (
                        Covariate::Continuous { .. },
                        CovariateSpec::Continuous { .. }
                    ) | (
                        Covariate::Categorical { .. },
                        CovariateSpec::Categorical { .. }
                    )
                )
        });
    if !names_match {
        return Err(HarmonizeError::CovariateMismatch {
            expected: specs.iter().map(|s| s.name().to_owned()).collect(),
            found: covariates.iter().map(|c| c.name().to_owned()).collect(),
        });
    }
    let mut labels = Vec::new();
    let mut owner = Vec::new();
    let mut cols: Vec<Vec<f64>> = Vec::new();
    for (k, (cov, spec)) in covariates.iter().zip(specs).enumerate() {
        if cov.len() != n_samples {
            return Err(HarmonizeError::LengthMismatch {
                what: format!("covariate '{}'", cov.name()),
                samples: n_samples,
                len: cov.len(),
            });
        }
        match (cov, spec) {
            (Covariate::Continuous { name, values }, _) => {
                if let Some((i, &v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(HarmonizeError::NonFiniteCovariate {
                        covariate: name.clone(),
                        sample: i,
                        value: v,
                    });
                }
                labels.push(name.clone());
                owner.push(k);
                cols.push(values.clone());
            }
            (
                Covariate::Categorical { name, values },
                CovariateSpec::Categorical { levels, .. },
            ) => {
                let mut idx = Vec::with_capacity(values.len());
                for v in values {
                    let pos = levels.iter().position(|l| l == v).ok_or_else(|| {
                        HarmonizeError::UnknownLevel {
                            covariate: name.clone(),
                            level: v.clone(),
                        }
                    })?;
                    idx.push(pos);
                }
                for (li, level) in levels.iter().enumerate().skip(1) {
                    labels.push(format!("{name}[{level}]"));
                    owner.push(k);
                    cols.push(
                        idx.iter()
                            .map(|&p| if p == li { 1.0 } else { 0.0 })
                            .collect(),
                    );
                }
            }
            (Covariate::Categorical { .. }, CovariateSpec::Continuous { .. }) => {
                // kinds were compared above; keep the error rather than panic
                return Err(HarmonizeError::CovariateMismatch {
                    expected: specs.iter().map(|s| s.name().to_owned()).collect(),
                    found: covariates.iter().map(|c| c.name().to_owned()).collect(),
                });
            }
        }
    }
    let mut x = Array2::<f64>::zeros((n_samples, cols.len()));
    for (j, col) in cols.iter().enumerate() {
        for (i, &v) in col.iter().enumerate() {
            x[[i, j]] = v;
        }
    }
    Ok(CovariateBlock { x, labels, owner })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_sort_like_numpy_unique() {
        assert_eq!(sorted_levels(["b", "a", "B", "a"]), vec!["B", "a", "b"]);
        assert_eq!(sorted_levels(["10", "2", "1"]), vec!["1", "2", "10"]);
    }

    #[test]
    fn reference_site_column_is_intercept() {
        let x = batch_block(&[0, 1, 2], 3, Some(1));
        assert_eq!(x.row(0).to_vec(), vec![1.0, 1.0, 0.0]);
        assert_eq!(x.row(1).to_vec(), vec![0.0, 1.0, 0.0]);
        assert_eq!(x.row(2).to_vec(), vec![0.0, 1.0, 1.0]);
    }
}
