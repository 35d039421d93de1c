//! The small dense solvers the statistical code needs (Newton steps of logistic fits, Kernel
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

/// Eigenvalues (ascending) and unit eigenvectors (the columns of the second matrix) of a
/// symmetric 3x3 matrix, by cyclic Jacobi rotations: exact enough for covariance matrices and
/// free of the branch cuts of the closed-form solution. Used for a region's principal axes
/// (radiomics) and for stain directions in optical density (pathology).
pub fn symmetric_eigen3(mut a: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _ in 0..100 {
        let off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs();
        if off < 1e-300 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = if theta == 0.0 {
                1.0
            } else {
                theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
            };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            for row in &mut a {
                let (akp, akq) = (row[p], row[q]);
                row[p] = c * akp - s * akq;
                row[q] = s * akp + c * akq;
            }
            let (row_p, row_q) = (a[p], a[q]);
            for k in 0..3 {
                a[p][k] = c * row_p[k] - s * row_q[k];
                a[q][k] = s * row_p[k] + c * row_q[k];
            }
            for row in &mut v {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    let mut order = [0usize, 1, 2];
    order.sort_by(|&i, &j| a[i][i].total_cmp(&a[j][j]));
    let values = order.map(|i| a[i][i]);
    let mut vectors = [[0.0; 3]; 3];
    for (col, &i) in order.iter().enumerate() {
        for r in 0..3 {
            vectors[r][col] = v[r][i];
        }
    }
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen3_diagonalises() {
        let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 1.0]];
        let (values, v) = symmetric_eigen3(a);
        assert!(values[0] <= values[1] && values[1] <= values[2]);
        for k in 0..3 {
            for r in 0..3 {
                let av: f64 = (0..3).map(|c| a[r][c] * v[c][k]).sum();
                assert!((av - values[k] * v[r][k]).abs() < 1e-12);
            }
        }
    }

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
