//! Largest in-plane distances between mesh vertices (PyRadiomics' `Maximum2DDiameterSlice`,
//! `Column` and `Row`, which IBSI does not define).
//!
//! PyRadiomics compares every pair of vertices (quadratic in the vertex count); here the
//! vertices of each plane are reduced to their 2D convex hull first, since the farthest pair of
//! a point set is always a pair of hull vertices. Planes are processed in parallel.

use std::collections::BTreeMap;

use rayon::prelude::*;

/// `[slice, column, row]` diameters in mm: the largest distance between two vertices with the
/// same z (axial plane), the same y (coronal plane) and the same x (sagittal plane). `keys` are
/// vertex positions in half-voxel units `[2x, 2y, 2z]`; `spacing_mm` is `[x, y, z]`. 0 when no
/// plane holds two vertices (as PyRadiomics).
pub fn planar_diameters(keys: &[[i64; 3]], spacing_mm: [f64; 3]) -> [f64; 3] {
    [2usize, 1, 0].map(|fixed| {
        let (u, v) = match fixed {
            2 => (0, 1),
            1 => (0, 2),
            _ => (1, 2),
        };
        let mut planes: BTreeMap<i64, Vec<[f64; 2]>> = BTreeMap::new();
        for k in keys {
            planes.entry(k[fixed]).or_default().push([
                k[u] as f64 / 2.0 * spacing_mm[u],
                k[v] as f64 / 2.0 * spacing_mm[v],
            ]);
        }
        let planes: Vec<Vec<[f64; 2]>> = planes.into_values().collect();
        planes
            .into_par_iter()
            .map(|pts| max_distance_sq(&hull_2d(pts)))
            .reduce(|| 0.0, f64::max)
            .sqrt()
    })
}

/// Convex hull (Andrew's monotone chain) of 2D points; collinear points are dropped, which
/// cannot change the farthest pair.
fn hull_2d(mut pts: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let turn = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(2 * pts.len());
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f64; 2]>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && turn(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        // The last point of each chain is the first of the next.
        hull.pop();
    }
    hull
}

/// Largest squared distance between two of `pts` (0 for fewer than two).
fn max_distance_sq(pts: &[[f64; 2]]) -> f64 {
    let mut best = 0.0f64;
    for (i, a) in pts.iter().enumerate() {
        for b in &pts[i + 1..] {
            let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
            best = best.max(dx * dx + dy * dy);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over all pairs, as PyRadiomics computes it.
    fn brute(keys: &[[i64; 3]], s: [f64; 3]) -> [f64; 3] {
        let mut d = [0.0f64; 3];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                let dist: f64 = (0..3)
                    .map(|c| ((a[c] - b[c]) as f64 / 2.0 * s[c]).powi(2))
                    .sum();
                for (slot, axis) in [(0, 2), (1, 1), (2, 0)] {
                    if a[axis] == b[axis] {
                        d[slot] = d[slot].max(dist);
                    }
                }
            }
        }
        d.map(f64::sqrt)
    }

    #[test]
    fn hull_reduction_equals_all_pairs() {
        // A pseudo-random cloud on a half-voxel lattice.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 9) as i64
        };
        let keys: Vec<[i64; 3]> = (0..300).map(|_| [next(), next(), next()]).collect();
        let s = [0.7, 1.1, 2.5];
        let fast = planar_diameters(&keys, s);
        let slow = brute(&keys, s);
        for c in 0..3 {
            assert!((fast[c] - slow[c]).abs() < 1e-12, "{fast:?} vs {slow:?}");
        }
    }
}
