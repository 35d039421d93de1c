//! Grey level run length matrix (GLRLM) features, IBSI 1 section 3.7 (TP0I).

use super::TextureSettings;
use super::aggregation::{self, DirectionalBuilder};
use super::grid::{DIRECTIONS_2D, DIRECTIONS_3D, Direction, Grid};
use super::naming::{FamilySpec, FeatureDef, def};
use super::size_matrix::{self, SizeMatrix};
use crate::{Family, Feature};

const DEFS: [FeatureDef; 16] = [
    def("sre", "22OV", Some("ShortRunEmphasis")),
    def("lre", "W4KF", Some("LongRunEmphasis")),
    def("lgre", "V3SW", Some("LowGrayLevelRunEmphasis")),
    def("hgre", "G3QZ", Some("HighGrayLevelRunEmphasis")),
    def("srlge", "HTZT", Some("ShortRunLowGrayLevelEmphasis")),
    def("srhge", "GD3A", Some("ShortRunHighGrayLevelEmphasis")),
    def("lrlge", "IVPO", Some("LongRunLowGrayLevelEmphasis")),
    def("lrhge", "3KUM", Some("LongRunHighGrayLevelEmphasis")),
    def("glnu", "R5YN", Some("GrayLevelNonUniformity")),
    def(
        "glnu_norm",
        "OVBL",
        Some("GrayLevelNonUniformityNormalized"),
    ),
    def("rlnu", "W92Y", Some("RunLengthNonUniformity")),
    def(
        "rlnu_norm",
        "IC23",
        Some("RunLengthNonUniformityNormalized"),
    ),
    def("r_perc", "9ZK5", Some("RunPercentage")),
    def("gl_var", "8CE5", Some("GrayLevelVariance")),
    def("rl_var", "SXLW", Some("RunVariance")),
    def("rl_entr", "HJ9O", Some("RunEntropy")),
];

/// PyRadiomics' glrlm computes features per 3D direction and averages (IBSI 3D averaged).
const SPEC: FamilySpec = FamilySpec {
    prefix: "rlm",
    family: Family::Glrlm,
    defs: &DEFS,
    pyradiomics_class: "glrlm",
    pyradiomics_suffix: "3D_avg",
    empty_note: "the ROI is empty: no runs",
};

/// Run lengths along `dir` for voxels in slices `z_range` (runs never leave the range because
/// 2D directions are in-plane and 3D calls pass the whole volume).
///
/// One pass: a voxel starts a run when its predecessor along `dir` is outside the ROI or has a
/// different level; only run starts walk forward, so each voxel is visited at most twice.
fn build(grid: &Grid, dir: Direction, z_range: std::ops::Range<usize>) -> SizeMatrix {
    let max_len = grid.nx.max(grid.ny).max(grid.nz);
    let width = max_len + 1;
    let mut counts = vec![0u64; grid.n_levels * width];
    let back = [-dir[0], -dir[1], -dir[2]];
    for z in z_range.clone() {
        for y in 0..grid.ny {
            for x in 0..grid.nx {
                let a = grid.levels[grid.index(z, y, x)];
                if a == 0 {
                    continue;
                }
                let continues_run = grid
                    .neighbour(z, y, x, back)
                    .is_some_and(|prev| grid.levels[prev] == a);
                if continues_run {
                    continue;
                }
                let mut len = 1usize;
                let (mut cz, mut cy, mut cx) = (z, y, x);
                while let Some(next) = grid.neighbour(cz, cy, cx, dir) {
                    if grid.levels[next] != a {
                        break;
                    }
                    len += 1;
                    cx = cx.wrapping_add_signed(dir[0]);
                    cy = cy.wrapping_add_signed(dir[1]);
                    cz = cz.wrapping_add_signed(dir[2]);
                }
                counts[(a as usize - 1) * width + len.min(max_len)] += 1;
            }
        }
    }
    SizeMatrix::from_dense(&counts, width, grid.count_voxels(z_range) as f64)
}

fn features(m: &SizeMatrix) -> Vec<f64> {
    size_matrix::features(m, false)
}

/// All GLRLM features for the requested aggregations.
pub(crate) fn compute(grid: &Grid, settings: &TextureSettings) -> Vec<Feature> {
    let build_2d = |z: usize, d: usize| build(grid, DIRECTIONS_2D[d], z..z + 1);
    let build_3d = |d: usize| build(grid, DIRECTIONS_3D[d], 0..grid.nz);
    let slices = grid.occupied_slices();
    let builder = DirectionalBuilder {
        slices: &slices,
        n_directions_2d: DIRECTIONS_2D.len(),
        n_directions_3d: DIRECTIONS_3D.len(),
        build_2d: &build_2d,
        build_3d: &build_3d,
    };
    aggregation::directional_features(
        &SPEC,
        &builder,
        &settings.directional_aggregations,
        &features,
    )
}

#[cfg(test)]
mod tests {
    use super::super::grid::tests::grid_from;
    use super::*;

    #[test]
    fn runs_along_x_and_diagonal() {
        // Row 0: 1 1 2 ; row 1: 0 1 1
        let g = grid_from(&[&[&[1, 1, 2], &[0, 1, 1]]], 2);
        let along_x = build(&g, [1, 0, 0], 0..1);
        // Runs: (1, len 2) twice, (2, len 1) once.
        assert_eq!(along_x.entries(), &[(1, 2, 2.0), (2, 1, 1.0)]);
        assert_eq!(along_x.n_voxels, 5.0);
        let diagonal = build(&g, [1, 1, 0], 0..1);
        // (0,0)-(1,1) and (1,0)-(2,1) are runs of 1s of length 2; the 2 is alone.
        assert_eq!(diagonal.entries(), &[(1, 2, 2.0), (2, 1, 1.0)]);
        let anti_diagonal = build(&g, [-1, 1, 0], 0..1);
        // Every voxel is alone along (-1, 1).
        assert_eq!(anti_diagonal.entries(), &[(1, 1, 4.0), (2, 1, 1.0)]);
    }
}
