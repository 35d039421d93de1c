//! PyRadiomics' `glcm_MCC` (maximal correlation coefficient), which IBSI does not define.
//!
//! For a normalised co-occurrence matrix `p` with marginals `px`, `py`, MCC is the square root
//! of the second-largest eigenvalue of `Q(i, j) = Σ_k p(i, k) p(j, k) / (px(i) py(k))`.
//! PyRadiomics computes it per direction (13 symmetric 3D matrices at distance 1, its default)
//! and averages the directions (`nanmean`). `Q` is not symmetric, but it is similar to the
//! symmetric `S = D^½ Q D^-½` with `D = diag(px)`, so a symmetric eigenvalue solver gives the
//! same eigenvalues without complex arithmetic.

use rayon::prelude::*;

use super::glcm;
use super::grid::{DIRECTIONS_3D, Grid};
use crate::util::FeatureBuilder;
use crate::{DiscretisedRoi, Family, Feature};

/// `pyrad_glcm_MCC`: MCC averaged over the 13 symmetric 3D directions at distance 1 (the
/// PyRadiomics default, whatever the texture settings say). NaN with a note when no direction
/// has pairs, or the ROI has a single grey level.
pub fn pyradiomics_mcc(roi: &DiscretisedRoi) -> Feature {
    from_matrices(&Grid::from_roi(roi, 1), &glcm::Volume3dPairs::new())
}

/// [`pyradiomics_mcc`] on a grid, with its 3D matrices from (or into) `shared`.
pub(crate) fn from_matrices(grid: &Grid, shared: &glcm::Volume3dPairs) -> Feature {
    let mut occupied = vec![false; grid.n_levels + 1];
    for &l in &grid.levels {
        if let Some(o) = occupied.get_mut(l as usize) {
            *o = l > 0;
        }
    }
    let values: Vec<f64> = (0..DIRECTIONS_3D.len())
        .into_par_iter()
        .map(|d| mcc(shared.get(grid, d)))
        .filter(|v| v.is_finite())
        .collect();
    // A single grey level has no second eigenvalue (PyRadiomics fails there): NaN.
    let mean = if values.is_empty() || occupied.iter().filter(|o| **o).count() < 2 {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    };
    let mut b = FeatureBuilder::new(Family::Glcm);
    b.push(
        "pyrad_glcm_MCC",
        "",
        Some("glcm_MCC"),
        mean,
        Some("undefined: no pair of neighbouring ROI voxels, or a single grey level"),
    );
    b.finish().remove(0)
}

/// MCC of one matrix; NaN when it is empty. A direction whose pairs involve a single level
/// gives 0 (all other rows of `Q` are zero, as in PyRadiomics' matrix of all ROI levels).
fn mcc(m: &glcm::Glcm) -> f64 {
    let n = m.n;
    let total: f64 = m.counts.iter().sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    let p = |i: usize, j: usize| m.counts[i * n + j] / total;
    let px: Vec<f64> = (0..n).map(|i| (0..n).map(|j| p(i, j)).sum()).collect();
    let py: Vec<f64> = (0..n).map(|j| (0..n).map(|i| p(i, j)).sum()).collect();
    // Levels without any pair give zero rows of Q (zero eigenvalues): leave them out.
    let rows: Vec<usize> = (0..n).filter(|&i| px[i] > 0.0).collect();
    if rows.len() < 2 {
        return 0.0;
    }
    let r = rows.len();
    let mut s = vec![0.0; r * r];
    for (a, &i) in rows.iter().enumerate() {
        for (b, &j) in rows.iter().enumerate().skip(a) {
            let sum: f64 = (0..n)
                .filter(|&k| py[k] > 0.0)
                .map(|k| p(i, k) * p(j, k) / py[k])
                .sum();
            let v = sum / (px[i] * px[j]).sqrt();
            s[a * r + b] = v;
            s[b * r + a] = v;
        }
    }
    let mut eig = symmetric_eigenvalues(s, r);
    eig.sort_by(|a, b| b.total_cmp(a));
    eig[1].max(0.0).sqrt()
}

/// Eigenvalues of the symmetric `n × n` matrix `a` (row-major): Householder reduction to
/// tridiagonal form, then the implicit QL algorithm with Wilkinson shifts (the textbook
/// `tred2`/`tqli` pair, eigenvalues only). O(n³) once, where cyclic Jacobi needs several sweeps
/// of O(n³) each; with 13 directions of up to ~70 levels that is the difference that matters.
fn symmetric_eigenvalues(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    // Householder: for i = n-1 .. 1 annihilate row i left of the subdiagonal.
    for i in (1..n).rev() {
        let l = i - 1;
        let mut h = 0.0;
        if l > 0 {
            let scale: f64 = (0..=l).map(|k| a[i * n + k].abs()).sum();
            if scale == 0.0 {
                e[i] = a[i * n + l];
            } else {
                for k in 0..=l {
                    a[i * n + k] /= scale;
                    h += a[i * n + k] * a[i * n + k];
                }
                let f = a[i * n + l];
                let g = if f >= 0.0 { -h.sqrt() } else { h.sqrt() };
                e[i] = scale * g;
                h -= f * g;
                a[i * n + l] = f - g;
                let mut f = 0.0;
                for j in 0..=l {
                    let mut g = 0.0;
                    for k in 0..=j {
                        g += a[j * n + k] * a[i * n + k];
                    }
                    for k in j + 1..=l {
                        g += a[k * n + j] * a[i * n + k];
                    }
                    e[j] = g / h;
                    f += e[j] * a[i * n + j];
                }
                let hh = f / (h + h);
                for j in 0..=l {
                    let f = a[i * n + j];
                    let g = e[j] - hh * f;
                    e[j] = g;
                    for k in 0..=j {
                        a[j * n + k] -= f * e[k] + g * a[i * n + k];
                    }
                }
            }
        } else {
            e[i] = a[i * n + l];
        }
        d[i] = h;
    }
    for (i, di) in d.iter_mut().enumerate() {
        *di = a[i * n + i];
    }
    // Implicit QL on the tridiagonal matrix (diagonal d, subdiagonal e shifted down by one).
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    for l in 0..n {
        let mut iterations = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l || iterations >= 60 {
                break;
            }
            iterations += 1;
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + if g >= 0.0 { r.abs() } else { -r.abs() });
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    d
}

/// Eigenvalues of the symmetric `n × n` matrix `a` (row-major) by cyclic Jacobi rotations
/// (slow but simple: the reference for [`symmetric_eigenvalues`] in the tests).
#[cfg(test)]
fn jacobi_eigenvalues(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i].powi(2)).sum();
        if off <= 1e-30 * diag.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = if theta == 0.0 {
                    1.0
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // Rotate rows/columns p and q: A <- Rᵀ A R.
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn householder_ql_matches_jacobi() {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        for n in [1usize, 2, 3, 7, 30, 70] {
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in i..n {
                    let v = next();
                    a[i * n + j] = v;
                    a[j * n + i] = v;
                }
            }
            let mut fast = symmetric_eigenvalues(a.clone(), n);
            let mut slow = jacobi_eigenvalues(a, n);
            fast.sort_by(f64::total_cmp);
            slow.sort_by(f64::total_cmp);
            for (x, y) in fast.iter().zip(&slow) {
                assert!((x - y).abs() < 1e-10, "n = {n}: {fast:?} vs {slow:?}");
            }
        }
    }

    #[test]
    fn jacobi_matches_known_spectrum() {
        // [[2, 1, 0], [1, 2, 0], [0, 0, 5]] has eigenvalues 5, 3, 1.
        let mut e = jacobi_eigenvalues(vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0], 3);
        e.sort_by(|a, b| b.total_cmp(a));
        for (got, want) in e.iter().zip([5.0, 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-10, "{e:?}");
        }
    }

    #[test]
    fn independent_levels_have_zero_mcc_and_identical_ones_one() {
        // p = px pyᵀ (independence): Q has rank 1, second eigenvalue 0.
        let m = glcm::Glcm {
            n: 2,
            counts: vec![1.0, 1.0, 1.0, 1.0],
        };
        assert!(mcc(&m).abs() < 1e-7);
        // Diagonal p (each level only next to itself): Q = identity, MCC = 1.
        let m = glcm::Glcm {
            n: 2,
            counts: vec![3.0, 0.0, 0.0, 1.0],
        };
        assert!((mcc(&m) - 1.0).abs() < 1e-12);
    }
}
