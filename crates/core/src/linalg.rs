//! The one small dense solver the statistical code needs (Newton steps of logistic fits, Kernel
//! SHAP's weighted regression, least-squares normal equations). Systems here have at most a few
//! hundred unknowns, so a dependency on a linear-algebra crate would buy nothing.

/// Solves `a x = b` (`a` is `n × n`, row-major) by Gaussian elimination with partial pivoting,
/// the LU solve `numpy.linalg.solve` performs.
///
/// Returns `None` when a pivot is negligible relative to the matrix scale (1e-13 of its largest
/// entry): the system does not determine every unknown, and a caller must say so rather than
/// use a meaningless solution.
pub fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    if a.len() != n * n || b.len() != n {
        return None;
    }
    if n == 0 {
        return Some(Vec::new());
    }
    let scale = a.iter().fold(0.0_f64, |acc, v| acc.max(v.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return None;
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
        // Needs a row swap: the first pivot is 0.
        let x = solve(vec![0.0, 2.0, 1.0, 1.0], vec![4.0, 3.0], 2).unwrap();
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
        assert!(solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 2.0], 2).is_none());
        assert!(solve(vec![0.0; 4], vec![1.0, 2.0], 2).is_none());
        assert_eq!(solve(Vec::new(), Vec::new(), 0), Some(Vec::new()));
        // Wrong shapes are refused, not indexed out of bounds.
        assert!(solve(vec![1.0; 3], vec![1.0, 2.0], 2).is_none());
    }

    #[test]
    fn solves_a_random_system_to_rounding() {
        let n = 30;
        let a: Vec<f64> = (0..n * n)
            .map(|i| {
                ((i * 7919 % 101) as f64 - 50.0) / 25.0 + if i % (n + 1) == 0 { 40.0 } else { 0.0 }
            })
            .collect();
        let x_true: Vec<f64> = (0..n).map(|i| i as f64 * 0.3 - 4.0).collect();
        let b: Vec<f64> = (0..n)
            .map(|r| (0..n).map(|k| a[r * n + k] * x_true[k]).sum())
            .collect();
        let x = solve(a, b, n).unwrap();
        for (u, v) in x.iter().zip(&x_true) {
            assert!((u - v).abs() < 1e-10, "{u} vs {v}");
        }
    }
}
