//! The one dense solve Kernel SHAP needs.

/// Solves `a x = b` (`a` is `n×n`, row-major) by Gaussian elimination with partial pivoting —
/// the LU solve `numpy.linalg.solve` performs in shap. Returns `None` when a pivot is negligible
/// relative to the matrix scale, i.e. the sampled coalitions do not pin down every player.
pub(crate) fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    debug_assert_eq!(a.len(), n * n);
    debug_assert_eq!(b.len(), n);
    let scale = a.iter().fold(0.0_f64, |acc, v| acc.max(v.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return if n == 0 { Some(Vec::new()) } else { None };
    }
    let tiny = scale * 1e-13;
    for col in 0..n {
        let pivot_row =
            (col..n).max_by(|&r, &s| a[r * n + col].abs().total_cmp(&a[s * n + col].abs()))?;
        if a[pivot_row * n + col].abs() <= tiny {
            return None;
        }
        if pivot_row != col {
            for k in 0..n {
                a.swap(col * n + k, pivot_row * n + k);
            }
            b.swap(col, pivot_row);
        }
        let p = a[col * n + col];
        for r in col + 1..n {
            let f = a[r * n + col] / p;
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                a[r * n + k] -= f * a[col * n + k];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_detects_singular() {
        let x = solve(vec![0.0, 2.0, 1.0, 1.0], vec![4.0, 3.0], 2).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-15 && (x[1] - 2.0).abs() < 1e-15);
        assert!(solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 2.0], 2).is_none());
        assert_eq!(solve(Vec::new(), Vec::new(), 0), Some(Vec::new()));
    }
}
