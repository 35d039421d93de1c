//! Neighbourhood grey tone difference matrix (NGTDM) features, IBSI 1 section 3.10 (IPET).
//!
//! IBSI's variant: a voxel's neighbourhood average uses only neighbours inside the ROI, and a
//! voxel without any ROI neighbour is left out (it has no valid neighbourhood).

use rayon::prelude::*;

use super::aggregation::{self, SliceAggregation, TextureMatrix};
use super::grid::Grid;
use super::naming::{self, FamilySpec, FeatureDef, def};
use crate::{Family, Feature};

const DEFS: [FeatureDef; 5] = [
    def("coarseness", "QCDE", Some("Coarseness")),
    def("contrast", "65HE", Some("Contrast")),
    def("busyness", "NQ30", Some("Busyness")),
    def("complexity", "HDEZ", Some("Complexity")),
    def("strength", "1X9X", Some("Strength")),
];

/// PyRadiomics' ngtdm is the 3D matrix.
const SPEC: FamilySpec = FamilySpec {
    prefix: "ngt",
    family: Family::Ngtdm,
    defs: &DEFS,
    pyradiomics_class: "ngtdm",
    pyradiomics_suffix: "3D",
    empty_note: "no ROI voxel has a neighbour in the ROI: the NGTDM is empty",
};

/// IBSI's cap on coarseness when the denominator is zero.
const MAX_COARSENESS: f64 = 1e6;

/// `s[i - 1]`: summed |i - neighbourhood mean|; `n[i - 1]`: voxels of level i with a valid
/// neighbourhood.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ngtdm {
    s: Vec<f64>,
    n: Vec<f64>,
}

impl TextureMatrix for Ngtdm {
    fn merge(&mut self, other: &Self) {
        for (a, b) in self.s.iter_mut().zip(&other.s) {
            *a += b;
        }
        for (a, b) in self.n.iter_mut().zip(&other.n) {
            *a += b;
        }
    }

    fn is_empty(&self) -> bool {
        self.n.iter().all(|&c| c == 0.0)
    }
}

/// NGTDM contributions of the voxels of slice `z`, with neighbourhood `offsets` (flat steps,
/// within the grid's border).
fn build_plane(grid: &Grid, z: usize, offsets: &[isize]) -> Ngtdm {
    let mut m = Ngtdm {
        s: vec![0.0; grid.n_levels],
        n: vec![0.0; grid.n_levels],
    };
    for y in 0..grid.ny {
        let row = grid.index(z, y, 0);
        for idx in row..row + grid.nx {
            let a = grid.levels[idx];
            if a == 0 {
                continue;
            }
            let mut sum = 0u64;
            let mut count = 0u64;
            for &off in offsets {
                let b = grid.levels[idx.wrapping_add_signed(off)];
                if b > 0 {
                    sum += u64::from(b);
                    count += 1;
                }
            }
            if count > 0 {
                let k = a as usize - 1;
                m.s[k] += (f64::from(a) - sum as f64 / count as f64).abs();
                m.n[k] += 1.0;
            }
        }
    }
    m
}

/// The five IBSI NGTDM features, with IBSI's defined values for degenerate matrices.
fn features(m: &Ngtdm) -> Vec<f64> {
    let n_vc: f64 = m.n.iter().sum();
    if n_vc <= 0.0 {
        return vec![f64::NAN; DEFS.len()];
    }
    // (level, p_i, s_i) of the levels present (p_i > 0).
    let present: Vec<(f64, f64, f64)> =
        m.n.iter()
            .zip(&m.s)
            .enumerate()
            .filter(|(_, (n, _))| **n > 0.0)
            .map(|(k, (n, s))| ((k + 1) as f64, n / n_vc, *s))
            .collect();
    let n_gp = present.len() as f64;
    let sum_ps: f64 = present.iter().map(|&(_, p, s)| p * s).sum();
    let sum_s: f64 = present.iter().map(|&(_, _, s)| s).sum();
    let coarseness = if sum_ps > 0.0 {
        (1.0 / sum_ps).min(MAX_COARSENESS)
    } else {
        MAX_COARSENESS
    };
    let mut contrast_sum = 0.0;
    let mut busy_den = 0.0;
    let mut complexity = 0.0;
    let mut strength_num = 0.0;
    for &(i1, p1, s1) in &present {
        for &(i2, p2, s2) in &present {
            let d = i1 - i2;
            contrast_sum += p1 * p2 * d * d;
            busy_den += (i1 * p1 - i2 * p2).abs();
            complexity += d.abs() * (p1 * s1 + p2 * s2) / (p1 + p2);
            strength_num += (p1 + p2) * d * d;
        }
    }
    let contrast = if n_gp > 1.0 {
        contrast_sum / (n_gp * (n_gp - 1.0)) * sum_s / n_vc
    } else {
        0.0
    };
    let busyness = if n_gp > 1.0 && busy_den > 0.0 {
        sum_ps / busy_den
    } else {
        0.0
    };
    let strength = if sum_s > 0.0 {
        strength_num / sum_s
    } else {
        0.0
    };
    vec![coarseness, contrast, busyness, complexity / n_vc, strength]
}

/// All NGTDM features for the requested aggregations; `delta` is the Chebyshev radius.
pub(crate) fn compute(grid: &Grid, delta: usize, methods: &[SliceAggregation]) -> Vec<Feature> {
    let per_slice: Vec<Ngtdm> = if methods.iter().any(|m| *m != SliceAggregation::ThreeD) {
        let offsets = grid.flat_neighbourhood(delta, true);
        grid.occupied_slices()
            .par_iter()
            .map(|&z| build_plane(grid, z, &offsets))
            .collect()
    } else {
        Vec::new()
    };
    let volume: Option<Ngtdm> = if methods.contains(&SliceAggregation::ThreeD) {
        let offsets = grid.flat_neighbourhood(delta, false);
        (0..grid.nz)
            .into_par_iter()
            .map(|z| build_plane(grid, z, &offsets))
            // Summed in slice order: the same bits whatever the scheduling.
            .collect::<Vec<_>>()
            .into_iter()
            .reduce(|mut a, b| {
                a.merge(&b);
                a
            })
    } else {
        None
    };
    methods
        .iter()
        .flat_map(|&method| {
            let agg = aggregation::slice_based(
                &per_slice,
                volume.as_ref(),
                method,
                DEFS.len(),
                &features,
            );
            naming::emit(&SPEC, method.tag_suffix(), &agg)
        })
        .map(|mut f| {
            // Make the arbitrary IBSI cap visible rather than passing it off as a measurement.
            if f.name.starts_with("ngt_coarseness") && f.value == MAX_COARSENESS {
                f.note = Some(
                    "IBSI cap 1e6: sum of p_i s_i is zero (no grey tone differences)".to_string(),
                );
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::grid::tests::grid_from;
    use super::*;

    #[test]
    fn constant_texture_gets_ibsi_defined_values() {
        let m = Ngtdm {
            s: vec![0.0, 0.0],
            n: vec![5.0, 0.0],
        };
        assert_eq!(features(&m), vec![MAX_COARSENESS, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn two_levels_hand_computed() {
        // Levels 1 and 2, one voxel each, s = (1, 1): p = (0.5, 0.5).
        let m = Ngtdm {
            s: vec![1.0, 1.0],
            n: vec![1.0, 1.0],
        };
        let f = features(&m);
        assert!((f[0] - 1.0).abs() < 1e-12); // 1 / (0.5 + 0.5)
        // contrast: (2 * 0.25 * 1) / (2 * 1) * (2 / 2) = 0.25
        assert!((f[1] - 0.25).abs() < 1e-12);
        // busyness: 1 / (|0.5 - 1| * 2) = 1
        assert!((f[2] - 1.0).abs() < 1e-12);
        // complexity: 2 * 1 * (0.5 + 0.5) / 1 / 2 = 1
        assert!((f[3] - 1.0).abs() < 1e-12);
        // strength: 2 * (1 * 1) / 2 = 1
        assert!((f[4] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn plane_neighbourhood_means() {
        // Checkerboard: every voxel sees two of the other level and one of its own.
        let g = grid_from(&[&[&[1, 2], &[2, 1]]], 2);
        let m = build_plane(&g, 0, &g.flat_neighbourhood(1, true));
        let third = 1.0 / 3.0;
        assert!((m.s[0] - 4.0 * third).abs() < 1e-12);
        assert!((m.s[1] - 4.0 * third).abs() < 1e-12);
        assert_eq!(m.n, vec![2.0, 2.0]);
    }
}
