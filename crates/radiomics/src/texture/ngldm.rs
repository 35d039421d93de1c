//! Neighbouring grey level dependence matrix (NGLDM) features, IBSI 1 section 3.11 (REK0).
//!
//! Every ROI voxel is a centre (IBSI's variant, so `N_s = N_v`); its dependence count is 1 plus
//! the neighbours inside the ROI whose grey level differs by at most the coarseness `alpha`.

use rayon::prelude::*;

use super::aggregation::{self, SliceAggregation};
use super::grid::Grid;
use super::naming::{self, FamilySpec, FeatureDef, def};
use super::size_matrix::{self, SizeMatrix};
use crate::{Family, Feature};

/// PyRadiomics' gldm (alpha = `gldm_a`, 3D) matches; it dropped the normalised grey level
/// non-uniformity, dependence percentage and energy.
const DEFS: [FeatureDef; 17] = [
    def("lde", "SODN", Some("SmallDependenceEmphasis")),
    def("hde", "IMOQ", Some("LargeDependenceEmphasis")),
    def("lgce", "TL9H", Some("LowGrayLevelEmphasis")),
    def("hgce", "OAE7", Some("HighGrayLevelEmphasis")),
    def("ldlge", "EQ3F", Some("SmallDependenceLowGrayLevelEmphasis")),
    def(
        "ldhge",
        "JA6D",
        Some("SmallDependenceHighGrayLevelEmphasis"),
    ),
    def("hdlge", "NBZI", Some("LargeDependenceLowGrayLevelEmphasis")),
    def(
        "hdhge",
        "9QMG",
        Some("LargeDependenceHighGrayLevelEmphasis"),
    ),
    def("glnu", "FP8K", Some("GrayLevelNonUniformity")),
    def("glnu_norm", "5SPA", None),
    def("dcnu", "Z87G", Some("DependenceNonUniformity")),
    def(
        "dcnu_norm",
        "OKJI",
        Some("DependenceNonUniformityNormalized"),
    ),
    def("dc_perc", "6XV8", None),
    def("gl_var", "1PFV", Some("GrayLevelVariance")),
    def("dc_var", "DNX2", Some("DependenceVariance")),
    def("dc_entr", "FCBV", Some("DependenceEntropy")),
    def("dc_energy", "CAS9", None),
];

const SPEC: FamilySpec = FamilySpec {
    prefix: "ngl",
    family: Family::Ngldm,
    defs: &DEFS,
    pyradiomics_class: "gldm",
    pyradiomics_suffix: "3D",
    empty_note: "the ROI is empty: no neighbourhoods",
};

/// Dependence counts of the voxels of slice `z` as dense `[(i - 1) * width + j]` counts;
/// `offsets` are flat steps within the grid's border.
fn build_plane(grid: &Grid, z: usize, offsets: &[isize], alpha: u32) -> Vec<u64> {
    let width = offsets.len() + 2;
    let mut counts = vec![0u64; grid.n_levels * width];
    for y in 0..grid.ny {
        let row = grid.index(z, y, 0);
        for idx in row..row + grid.nx {
            let a = grid.levels[idx];
            if a == 0 {
                continue;
            }
            let mut j = 1usize;
            for &off in offsets {
                let b = grid.levels[idx.wrapping_add_signed(off)];
                if b > 0 && a.abs_diff(b) <= alpha {
                    j += 1;
                }
            }
            counts[(a as usize - 1) * width + j] += 1;
        }
    }
    counts
}

fn features(m: &SizeMatrix) -> Vec<f64> {
    size_matrix::features(m, true)
}

/// All NGLDM features for the requested aggregations (`delta`: Chebyshev radius).
pub(crate) fn compute(
    grid: &Grid,
    delta: usize,
    alpha: u32,
    methods: &[SliceAggregation],
) -> Vec<Feature> {
    let per_slice: Vec<SizeMatrix> = if methods.iter().any(|m| *m != SliceAggregation::ThreeD) {
        let offsets = grid.flat_neighbourhood(delta, true);
        let width = offsets.len() + 2;
        grid.occupied_slices()
            .par_iter()
            .map(|&z| {
                let counts = build_plane(grid, z, &offsets, alpha);
                SizeMatrix::from_dense(&counts, width, grid.count_voxels(z..z + 1) as f64)
            })
            .collect()
    } else {
        Vec::new()
    };
    let volume: Option<SizeMatrix> = if methods.contains(&SliceAggregation::ThreeD) {
        let offsets = grid.flat_neighbourhood(delta, false);
        let width = offsets.len() + 2;
        let counts = (0..grid.nz)
            .into_par_iter()
            .map(|z| build_plane(grid, z, &offsets, alpha))
            .reduce_with(|mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                a
            });
        counts.map(|c| SizeMatrix::from_dense(&c, width, grid.count_voxels(0..grid.nz) as f64))
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
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::aggregation::TextureMatrix;
    use super::super::grid::tests::grid_from;
    use super::*;

    #[test]
    fn merge_is_elementwise() {
        let mut a = SizeMatrix::from_triples(vec![(1, 2, 1.0)], 1.0);
        a.merge(&SizeMatrix::from_triples(vec![(1, 2, 2.0)], 2.0));
        assert_eq!(a.n_voxels, 3.0);
        assert_eq!(features(&a)[12], 1.0);
    }

    #[test]
    fn dependence_counts_include_the_centre() {
        let g = grid_from(&[&[&[1, 2], &[2, 1]]], 2);
        let offsets = g.flat_neighbourhood(1, true);
        let width = offsets.len() + 2;
        // alpha 0: one equal diagonal neighbour, j = 2 for every voxel.
        let m = SizeMatrix::from_dense(&build_plane(&g, 0, &offsets, 0), width, 4.0);
        assert_eq!(m.entries(), &[(1, 2, 2.0), (2, 2, 2.0)]);
        // alpha 1: every neighbour is dependent, j = 4.
        let m = SizeMatrix::from_dense(&build_plane(&g, 0, &offsets, 1), width, 4.0);
        assert_eq!(m.entries(), &[(1, 4, 2.0), (2, 4, 2.0)]);
    }
}
