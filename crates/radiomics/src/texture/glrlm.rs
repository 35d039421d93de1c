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
/// One branch-free pass in flat order: a run along `dir` is the same run along `-dir`, so the
/// direction is taken with a positive flat step `s`, and each voxel's run length so far is its
/// predecessor's plus one when the two share a level (1 otherwise). A voxel whose successor
/// differs ends a run and adds it to the matrix. The grid's border (level 0) ends every run at
/// the image's edge; level 0 lands in a row of the matrix that is dropped.
fn build(grid: &Grid, dir: Direction, z_range: std::ops::Range<usize>) -> SizeMatrix {
    let max_len = grid.nx.max(grid.ny).max(grid.nz);
    let width = max_len + 1;
    let mut counts = vec![0u64; (grid.n_levels + 1) * width];
    let step = grid.linear_offset(dir);
    let s = step.unsigned_abs();
    if !z_range.is_empty() && grid.nx > 0 && grid.ny > 0 {
        let first = grid.index(z_range.start, 0, 0);
        let last = grid.index(z_range.end - 1, grid.ny - 1, grid.nx - 1) + 1;
        let levels = &grid.levels;
        // run[v - first]: length so far of the run through v (s slots of lead-in before first).
        let mut run = vec![0u32; last - first + s];
        for v in first..last {
            let a = levels[v];
            let same = u32::from(a != 0 && levels[v - s] == a);
            let r = same * run[v - first] + 1;
            run[v - first + s] = r;
            let ends = u64::from(a != 0 && levels[v + s] != a);
            counts[a as usize * width + (r as usize).min(max_len)] += ends;
        }
    }
    let counts = &counts[width..];
    SizeMatrix::from_dense(counts, width, grid.count_voxels(z_range) as f64)
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
