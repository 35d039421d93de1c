//! Interpretable models and global surrogates for oncolens.
//!
//! * [`tree`]: CART classification trees (Gini / entropy), class weights, minimal
//!   cost-complexity pruning, feature importances, Graphviz and text export. Numerically
//!   the same algorithm as scikit-learn's `DecisionTreeClassifier`, so a surrogate fitted
//!   here can be audited against the Python reference.
//! * [`rules`]: frequent itemsets (Apriori over bitsets) and association rules with the
//!   metrics of mlxtend, plus a discretiser that turns numeric columns into labelled bins.
//! * [`bayes`]: discrete Bayesian networks: BIC hill climbing (as pgmpy), maximum-likelihood
//!   and BDeu/Dirichlet parameters, exact inference by variable elimination, DOT export.
//!
//! See the crate README for the exact equality guarantees and their tolerances.

pub mod bayes;
pub mod error;
pub mod global;
pub mod rules;
pub mod tree;

pub use error::{InterpretError, Result};

/// Format a float the way Python's `str(float)` does (shortest round-trip, `.0` on
/// integral values), so exported text matches the reference tools byte for byte.
pub(crate) fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{x}");
    if x.fract() == 0.0 && x.abs() < 1e16 && !s.contains('.') {
        format!("{s}.0")
    } else {
        s
    }
}

/// Python's `round(x, digits)` for the magnitudes we print (correctly rounded via the
/// decimal formatter, then parsed back).
pub(crate) fn py_round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// numpy's `pairwise_sum` for float64 (`numpy/_core/src/umath/loops_utils.h.src`).
pub(crate) fn numpy_pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum(&a[..n2]) + numpy_pairwise_sum(&a[n2..])
    }
}
