//! Small numeric helpers shared by the feature families.

use crate::{Family, Feature};

/// Percentile `p` (0..=100) of sorted values with linear interpolation between closest ranks
/// (numpy's default, which the IBSI reference implementations use). NaN when empty.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = p / 100.0 * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Sorted copy of `values` (NaNs are never present: the pipeline rejects them).
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Arithmetic mean; NaN when empty.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Eigenvalues of a symmetric 3×3 matrix, descending (`oncolens_core::linalg::symmetric_eigen3`).
pub fn symmetric_eigenvalues(m: [[f64; 3]; 3]) -> [f64; 3] {
    let (ascending, _) = oncolens_core::linalg::symmetric_eigen3(m);
    [ascending[2], ascending[1], ascending[0]]
}

/// Builds features of one family from `(tag, IBSI code, PyRadiomics name, value)` rows; a
/// non-finite value gets `nan_note` unless the row brings its own note.
pub struct FeatureBuilder {
    family: Family,
    features: Vec<Feature>,
}

impl FeatureBuilder {
    pub fn new(family: Family) -> Self {
        FeatureBuilder {
            family,
            features: Vec::new(),
        }
    }

    /// Adds a feature; `note` is kept only when the value is NaN (it says why).
    pub fn push(
        &mut self,
        tag: &str,
        code: &str,
        pyradiomics: Option<&str>,
        value: f64,
        note: Option<&str>,
    ) {
        let value = if value.is_finite() { value } else { f64::NAN };
        let note = if value.is_nan() {
            Some(
                note.unwrap_or("undefined for this region of interest")
                    .to_string(),
            )
        } else {
            None
        };
        self.features.push(Feature {
            name: tag.to_string(),
            ibsi_code: code.to_string(),
            pyradiomics_name: pyradiomics.map(str::to_string),
            family: self.family,
            value,
            note,
        });
    }

    pub fn finish(self) -> Vec<Feature> {
        self.features
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile_sorted(&v, 10.0) - 1.3).abs() < 1e-12);
        assert!((percentile_sorted(&v, 50.0) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn eigenvalues_of_rotated_diagonal() {
        let e = symmetric_eigenvalues([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        for (got, want) in e.iter().zip([5.0, 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-9, "{e:?}");
        }
    }
}
