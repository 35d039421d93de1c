//! Grey level co-occurrence matrix (GLCM) features, IBSI 1 section 3.6 (LFYI).

use super::TextureSettings;
use super::aggregation::{self, DirectionalBuilder, TextureMatrix};
use std::sync::OnceLock;

use super::grid::{DIRECTIONS_2D, DIRECTIONS_3D, Direction, Grid, scaled, valid_range};
use super::naming::{FamilySpec, FeatureDef, def};
use crate::{Family, Feature};

const DEFS: [FeatureDef; 25] = [
    def("joint_max", "GYBY", Some("MaximumProbability")),
    def("joint_avg", "60VM", Some("JointAverage")),
    def("joint_var", "UR99", Some("SumSquares")),
    def("joint_entr", "TU9B", Some("JointEntropy")),
    def("diff_avg", "TF7R", Some("DifferenceAverage")),
    def("diff_var", "D3YU", Some("DifferenceVariance")),
    def("diff_entr", "NTRS", Some("DifferenceEntropy")),
    def("sum_avg", "ZGXS", Some("SumAverage")),
    // Sum variance equals cluster tendency; PyRadiomics only keeps ClusterTendency.
    def("sum_var", "OEEB", None),
    def("sum_entr", "P6QZ", Some("SumEntropy")),
    def("energy", "8ZQL", Some("JointEnergy")),
    def("contrast", "ACUI", Some("Contrast")),
    // Dissimilarity equals difference average; PyRadiomics only keeps DifferenceAverage.
    def("dissimilarity", "8S9J", None),
    def("inv_diff", "IB1Z", Some("Id")),
    def("inv_diff_norm", "NDRX", Some("Idn")),
    def("inv_diff_mom", "WF0Z", Some("Idm")),
    def("inv_diff_mom_norm", "1QCO", Some("Idmn")),
    def("inv_var", "E8JP", Some("InverseVariance")),
    def("corr", "NI2N", Some("Correlation")),
    def("auto_corr", "QWB0", Some("Autocorrelation")),
    def("clust_tend", "DG8W", Some("ClusterTendency")),
    def("clust_shade", "7NFM", Some("ClusterShade")),
    def("clust_prom", "AE86", Some("ClusterProminence")),
    def("info_corr1", "R8DG", Some("Imc1")),
    def("info_corr2", "JN9H", Some("Imc2")),
];

/// PyRadiomics' glcm averages features over the 13 symmetric 3D matrices (IBSI 3D averaged).
const SPEC: FamilySpec = FamilySpec {
    prefix: "cm",
    family: Family::Glcm,
    defs: &DEFS,
    pyradiomics_class: "glcm",
    pyradiomics_suffix: "3D_avg",
    empty_note: "no pair of neighbouring ROI voxels: the co-occurrence matrix is empty",
};

/// Co-occurrence counts `counts[(i - 1) * n + (j - 1)]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Glcm {
    pub(super) n: usize,
    pub(super) counts: Vec<f64>,
}

impl TextureMatrix for Glcm {
    fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0.0)
    }
}

/// Counts pairs `(v, v + offset)` with both voxels in the ROI, over slices `z_range`. With
/// `symmetric` the transpose is added (IBSI: `M_m = M_m+ + M_m-`).
pub(super) fn build(
    grid: &Grid,
    offset: Direction,
    z_range: std::ops::Range<usize>,
    symmetric: bool,
) -> Glcm {
    let n = grid.n_levels;
    let mut counts = vec![0u64; n * n];
    let zs = valid_range(grid.nz, offset[2]);
    let ys = valid_range(grid.ny, offset[1]);
    let xs = valid_range(grid.nx, offset[0]);
    let step = grid.linear_offset(offset);
    for z in z_range.start.max(zs.start)..z_range.end.min(zs.end) {
        for y in ys.clone() {
            let row = grid.index(z, y, 0);
            for x in xs.clone() {
                let a = grid.levels[row + x];
                if a == 0 {
                    continue;
                }
                let b = grid.levels[(row + x).wrapping_add_signed(step)];
                if b > 0 {
                    counts[(a as usize - 1) * n + (b as usize - 1)] += 1;
                }
            }
        }
    }
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let c = counts[i * n + j] as f64;
            out[i * n + j] += c;
            if symmetric {
                out[j * n + i] += c;
            }
        }
    }
    Glcm { n, counts: out }
}

/// Shannon entropy (bits) of a probability vector, ignoring zeros.
fn entropy(p: &[f64]) -> f64 {
    p.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.log2()).sum()
}

/// The 25 IBSI GLCM features of one matrix, in [`DEFS`] order. Row and column marginals are
/// kept apart so an asymmetric matrix (symmetric = false) is handled as Haralick defines it.
pub(crate) fn features(m: &Glcm) -> Vec<f64> {
    let n = m.n;
    let total: f64 = m.counts.iter().sum();
    if total <= 0.0 {
        return vec![f64::NAN; DEFS.len()];
    }
    let p: Vec<f64> = m.counts.iter().map(|c| c / total).collect();
    let mut px = vec![0.0; n];
    let mut py = vec![0.0; n];
    let mut p_diff = vec![0.0; n];
    let mut p_sum = vec![0.0; 2 * n + 1];
    for (k, &v) in p.iter().enumerate() {
        let (i, j) = (k / n, k % n);
        px[i] += v;
        py[j] += v;
        p_diff[i.abs_diff(j)] += v;
        p_sum[i + j + 2] += v;
    }
    let level = |i: usize| (i + 1) as f64;
    let mu_x: f64 = px.iter().enumerate().map(|(i, v)| level(i) * v).sum();
    let mu_y: f64 = py.iter().enumerate().map(|(j, v)| level(j) * v).sum();
    let var_x: f64 = px
        .iter()
        .enumerate()
        .map(|(i, v)| (level(i) - mu_x).powi(2) * v)
        .sum();
    let var_y: f64 = py
        .iter()
        .enumerate()
        .map(|(j, v)| (level(j) - mu_y).powi(2) * v)
        .sum();

    let mut joint_max = 0.0f64;
    let mut joint_var = 0.0;
    let mut energy = 0.0;
    let mut auto_corr = 0.0;
    let mut clust = [0.0; 3];
    let mut hxy1 = 0.0;
    let mut hxy2 = 0.0;
    for (k, &v) in p.iter().enumerate() {
        let (i, j) = (k / n, k % n);
        let q = px[i] * py[j];
        if q > 0.0 {
            hxy2 -= q * q.log2();
        }
        if v == 0.0 {
            continue;
        }
        let (li, lj) = (level(i), level(j));
        joint_max = joint_max.max(v);
        joint_var += (li - mu_x).powi(2) * v;
        energy += v * v;
        auto_corr += li * lj * v;
        let c = li + lj - mu_x - mu_y;
        clust[0] += c * c * v;
        clust[1] += c * c * c * v;
        clust[2] += c * c * c * c * v;
        hxy1 -= v * q.log2();
    }
    let hxy = entropy(&p);
    let hx = entropy(&px);
    let hy = entropy(&py);

    let ng = n as f64;
    let mut diff_avg = 0.0;
    let mut contrast = 0.0;
    let mut inv_diff = 0.0;
    let mut inv_diff_norm = 0.0;
    let mut inv_diff_mom = 0.0;
    let mut inv_diff_mom_norm = 0.0;
    let mut inv_var = 0.0;
    for (k, &v) in p_diff.iter().enumerate() {
        let fk = k as f64;
        diff_avg += fk * v;
        contrast += fk * fk * v;
        inv_diff += v / (1.0 + fk);
        inv_diff_norm += v / (1.0 + fk / ng);
        inv_diff_mom += v / (1.0 + fk * fk);
        inv_diff_mom_norm += v / (1.0 + (fk / ng).powi(2));
        if k > 0 {
            inv_var += v / (fk * fk);
        }
    }
    let diff_var: f64 = p_diff
        .iter()
        .enumerate()
        .map(|(k, v)| (k as f64 - diff_avg).powi(2) * v)
        .sum();
    let sum_avg: f64 = p_sum.iter().enumerate().map(|(k, v)| k as f64 * v).sum();
    let sum_var: f64 = p_sum
        .iter()
        .enumerate()
        .map(|(k, v)| (k as f64 - sum_avg).powi(2) * v)
        .sum();
    let sigma = (var_x * var_y).sqrt();
    let corr = if sigma > 0.0 {
        (auto_corr - mu_x * mu_y) / sigma
    } else {
        f64::NAN
    };
    let h_max = hx.max(hy);
    let info_corr1 = if h_max > 0.0 {
        (hxy - hxy1) / h_max
    } else {
        f64::NAN
    };
    // HXY2 >= HXY analytically; clamp rounding so the root stays real.
    let info_corr2 = (1.0 - (-2.0 * (hxy2 - hxy)).exp()).max(0.0).sqrt();

    vec![
        joint_max,
        mu_x,
        joint_var,
        hxy,
        diff_avg,
        diff_var,
        entropy(&p_diff),
        sum_avg,
        sum_var,
        entropy(&p_sum),
        energy,
        contrast,
        diff_avg,
        inv_diff,
        inv_diff_norm,
        inv_diff_mom,
        inv_diff_mom_norm,
        inv_var,
        corr,
        auto_corr,
        clust[0],
        clust[1],
        clust[2],
        info_corr1,
        info_corr2,
    ]
}

/// The 13 symmetric 3D matrices at distance 1, each built once on first use: PyRadiomics'
/// MCC reads them whatever the texture settings, and the GLCM family under its default
/// settings reads the same ones.
pub(crate) struct Volume3dPairs {
    matrices: [OnceLock<Glcm>; 13],
}

impl Volume3dPairs {
    pub fn new() -> Self {
        Self {
            matrices: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The symmetric distance-1 matrix of 3D direction `d` of `grid`.
    pub fn get(&self, grid: &Grid, d: usize) -> &Glcm {
        self.matrices[d].get_or_init(|| build(grid, DIRECTIONS_3D[d], 0..grid.nz, true))
    }
}

/// All GLCM features for the requested aggregations (3D matrices from `shared` when the
/// settings ask for the ones it holds).
pub(crate) fn compute(
    grid: &Grid,
    settings: &TextureSettings,
    shared: &Volume3dPairs,
) -> Vec<Feature> {
    let delta = grid.clamp_distance(settings.glcm_distance_voxels);
    let symmetric = settings.glcm_symmetric;
    let build_2d =
        |z: usize, d: usize| build(grid, scaled(DIRECTIONS_2D[d], delta), z..z + 1, symmetric);
    let build_3d = |d: usize| {
        if delta == 1 && symmetric {
            shared.get(grid, d).clone()
        } else {
            build(grid, scaled(DIRECTIONS_3D[d], delta), 0..grid.nz, symmetric)
        }
    };
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
    fn two_level_symmetric_matrix() {
        // One pair (1, 2) counted both ways: p_12 = p_21 = 0.5.
        let m = Glcm {
            n: 2,
            counts: vec![0.0, 1.0, 1.0, 0.0],
        };
        let f = features(&m);
        assert!((f[0] - 0.5).abs() < 1e-12); // joint max
        assert!((f[1] - 1.5).abs() < 1e-12); // joint average
        assert!((f[3] - 1.0).abs() < 1e-12); // joint entropy
        assert!((f[11] - 1.0).abs() < 1e-12); // contrast
        assert!((f[18] + 1.0).abs() < 1e-12); // perfectly anti-correlated
        assert!((f[17] - 1.0).abs() < 1e-12); // inverse variance
    }

    #[test]
    fn constant_matrix_defined_values() {
        let m = Glcm {
            n: 2,
            counts: vec![4.0, 0.0, 0.0, 0.0],
        };
        let f = features(&m);
        assert_eq!(f[0], 1.0);
        assert!(f[18].is_nan()); // correlation: zero variance
        assert!(f[23].is_nan()); // info corr 1: zero marginal entropy
        assert_eq!(f[24], 0.0);
    }

    #[test]
    fn builds_symmetric_pairs_along_x() {
        let g = grid_from(&[&[&[1, 2], &[2, 1]]], 2);
        let m = build(&g, [1, 0, 0], 0..1, true);
        // Pairs (1,2) and (2,1), each also counted transposed.
        assert_eq!(m.counts, vec![0.0, 2.0, 2.0, 0.0]);
        let one_sided = build(&g, [1, 0, 0], 0..1, false);
        assert_eq!(one_sided.counts, vec![0.0, 1.0, 1.0, 0.0]);
        // The anti-diagonal (-1, 1) pairs (2,2) only.
        let anti = build(&g, [-1, 1, 0], 0..1, true);
        assert_eq!(anti.counts, vec![0.0, 0.0, 0.0, 2.0]);
    }
}
