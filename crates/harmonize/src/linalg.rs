//! Least squares through the normal equations.
//!
//! ComBat only ever solves tiny systems (sites + covariate columns, rarely more
//! than a few dozen), so a hand-written Cholesky factorisation of `XᵀX` is
//! enough and keeps the crate free of BLAS/LAPACK.  neuroCombat forms
//! `inv(XᵀX) Xᵀ y`; solving with the Cholesky factor gives the same numbers to
//! within a few ulps times the condition number.

use ndarray::{Array2, ArrayView2};

/// Cholesky factor of a Gram matrix `XᵀX`.
pub(crate) struct Cholesky {
    /// Lower-triangular factor, `XᵀX = L Lᵀ`.
    l: Array2<f64>,
}

/// Relative pivot below which a design column counts as a linear combination
/// of the columns before it.  Exactly confounded covariates give pivots at
/// the 1e-16 level; genuine ones are many orders of magnitude larger.
const SINGULAR_TOL: f64 = 1e-10;

impl Cholesky {
    /// Factorise `XᵀX` for the design `x` (samples × columns).
    ///
    /// Returns `Err(k)` with the first column `k` that is (numerically) a linear
    /// combination of columns `0..k`, so the caller can name the confounded
    /// covariate.
    pub(crate) fn of_design(x: ArrayView2<f64>) -> Result<Self, usize> {
        let gram = x.t().dot(&x);
        let p = gram.nrows();
        let mut l = Array2::<f64>::zeros((p, p));
        for k in 0..p {
            let diag = gram[[k, k]];
            let mut d = diag;
            for j in 0..k {
                d -= l[[k, j]] * l[[k, j]];
            }
            // written so that NaN pivots also count as singular
            let greater = |a: f64, b: f64| a.partial_cmp(&b) == Some(std::cmp::Ordering::Greater);
            if !greater(diag, 0.0) || !greater(d, SINGULAR_TOL * diag) {
                return Err(k);
            }
            let dk = d.sqrt();
            l[[k, k]] = dk;
            for i in (k + 1)..p {
                let mut s = gram[[i, k]];
                for j in 0..k {
                    s -= l[[i, j]] * l[[k, j]];
                }
                l[[i, k]] = s / dk;
            }
        }
        Ok(Self { l })
    }

    /// Solve `(XᵀX) B = rhs` for every column of `rhs` (columns × k).
    pub(crate) fn solve(&self, rhs: &Array2<f64>) -> Array2<f64> {
        let p = self.l.nrows();
        let mut out = rhs.clone();
        for mut col in out.columns_mut() {
            // forward: L z = b
            for i in 0..p {
                let mut s = col[i];
                for j in 0..i {
                    s -= self.l[[i, j]] * col[j];
                }
                col[i] = s / self.l[[i, i]];
            }
            // backward: Lᵀ b = z
            for i in (0..p).rev() {
                let mut s = col[i];
                for j in (i + 1)..p {
                    s -= self.l[[j, i]] * col[j];
                }
                col[i] = s / self.l[[i, i]];
            }
        }
        out
    }
}

/// Ordinary least squares coefficients for every response.
///
/// `x` is samples × p, `y` is responses × samples (ComBat's features × samples
/// layout); the result is p × responses, like neuroCombat's `B_hat`.
pub(crate) fn least_squares(
    chol: &Cholesky,
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
) -> Array2<f64> {
    let xty = x.t().dot(&y.t());
    chol.solve(&xty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn solves_small_regression_exactly() {
        let x = array![[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]];
        // y = 2 + 3 t
        let y = array![[2.0, 5.0, 8.0, 11.0]];
        let chol = Cholesky::of_design(x.view()).expect("full rank");
        let b = least_squares(&chol, x.view(), y.view());
        assert!((b[[0, 0]] - 2.0).abs() < 1e-12);
        assert!((b[[1, 0]] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn reports_first_dependent_column() {
        let x = array![
            [1.0, 0.0, 1.0],
            [1.0, 0.0, 1.0],
            [0.0, 1.0, 0.0],
            [0.0, 1.0, 0.0]
        ];
        assert_eq!(Cholesky::of_design(x.view()).err(), Some(2));
    }
}
