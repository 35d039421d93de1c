//! The grey level × "size" count matrix shared by GLRLM (run length), GLSZM (zone size),
//! GLDZM (zone distance) and NGLDM (dependence count), and the features they have in common.
//!
//! The matrix is stored sparsely because zone sizes can reach the ROI voxel count: a dense
//! `N_g × N_v` matrix would be gigabytes for a large homogeneous ROI.

use super::aggregation::TextureMatrix;

/// Sparse counts `s_ij` of grey level `i` (1-based) with size `j` (1-based), plus `N_v`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SizeMatrix {
    /// `(i, j, count)`, sorted by `(i, j)`, unique, counts > 0.
    entries: Vec<(u32, u32, f64)>,
    /// Voxels the matrix was built from (denominator of run/zone/dependence percentage).
    pub n_voxels: f64,
}

impl SizeMatrix {
    /// Builds from unsorted `(i, j, count)` triples (duplicates are summed).
    pub fn from_triples(mut triples: Vec<(u32, u32, f64)>, n_voxels: f64) -> Self {
        triples.sort_unstable_by_key(|&(i, j, _)| (i, j));
        let mut entries: Vec<(u32, u32, f64)> = Vec::with_capacity(triples.len());
        for (i, j, c) in triples {
            if c <= 0.0 {
                continue;
            }
            match entries.last_mut() {
                Some(last) if last.0 == i && last.1 == j => last.2 += c,
                _ => entries.push((i, j, c)),
            }
        }
        SizeMatrix { entries, n_voxels }
    }

    /// Builds from a dense row-major `counts[(i - 1) * width + j]` table (column 0 unused).
    pub fn from_dense(counts: &[u64], width: usize, n_voxels: f64) -> Self {
        let entries = counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(k, &c)| ((k / width + 1) as u32, (k % width) as u32, c as f64))
            .collect();
        SizeMatrix { entries, n_voxels }
    }

    #[cfg(test)]
    pub fn entries(&self) -> &[(u32, u32, f64)] {
        &self.entries
    }
}

impl TextureMatrix for SizeMatrix {
    fn merge(&mut self, other: &Self) {
        let mut all = std::mem::take(&mut self.entries);
        all.extend_from_slice(&other.entries);
        let n_voxels = self.n_voxels + other.n_voxels;
        *self = SizeMatrix::from_triples(all, n_voxels);
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Features common to the size-type matrices, in the IBSI order of GLRLM/GLSZM/GLDZM/NGLDM:
/// small-size emphasis, large-size emphasis, low/high grey level emphasis, the four joint
/// emphases, grey level and size non-uniformity (raw, normalised), percentage, grey level
/// variance, size variance, entropy; then energy (NGLDM only).
pub(crate) fn features(m: &SizeMatrix, with_energy: bool) -> Vec<f64> {
    let n_out = if with_energy { 17 } else { 16 };
    let n_s: f64 = m.entries.iter().map(|e| e.2).sum();
    if n_s <= 0.0 {
        return vec![f64::NAN; n_out];
    }
    let mut small = 0.0;
    let mut large = 0.0;
    let mut low_gl = 0.0;
    let mut high_gl = 0.0;
    let mut small_low = 0.0;
    let mut small_high = 0.0;
    let mut large_low = 0.0;
    let mut large_high = 0.0;
    let mut mu_i = 0.0;
    let mut mu_j = 0.0;
    let mut entropy = 0.0;
    let mut energy = 0.0;
    // Row marginals s_i. (entries are sorted by i) and column marginals s_.j.
    let mut row_sq = 0.0;
    let mut row_acc = 0.0;
    let mut row_level = None;
    let mut cols: Vec<(u32, f64)> = Vec::with_capacity(m.entries.len());
    for &(i, j, c) in &m.entries {
        let fi = f64::from(i);
        let fj = f64::from(j);
        let (i2, j2) = (fi * fi, fj * fj);
        small += c / j2;
        large += c * j2;
        low_gl += c / i2;
        high_gl += c * i2;
        small_low += c / (i2 * j2);
        small_high += c * i2 / j2;
        large_low += c * j2 / i2;
        large_high += c * i2 * j2;
        let p = c / n_s;
        mu_i += fi * p;
        mu_j += fj * p;
        entropy -= p * p.log2();
        energy += p * p;
        if row_level != Some(i) {
            row_sq += row_acc * row_acc;
            row_acc = 0.0;
            row_level = Some(i);
        }
        row_acc += c;
        cols.push((j, c));
    }
    row_sq += row_acc * row_acc;
    cols.sort_unstable_by_key(|&(j, _)| j);
    let mut col_sq = 0.0;
    let mut col_acc = 0.0;
    let mut col_level = None;
    for (j, c) in cols {
        if col_level != Some(j) {
            col_sq += col_acc * col_acc;
            col_acc = 0.0;
            col_level = Some(j);
        }
        col_acc += c;
    }
    col_sq += col_acc * col_acc;
    let mut var_i = 0.0;
    let mut var_j = 0.0;
    for &(i, j, c) in &m.entries {
        let p = c / n_s;
        var_i += (f64::from(i) - mu_i).powi(2) * p;
        var_j += (f64::from(j) - mu_j).powi(2) * p;
    }
    let percentage = if m.n_voxels > 0.0 {
        n_s / m.n_voxels
    } else {
        f64::NAN
    };
    let mut out = vec![
        small / n_s,
        large / n_s,
        low_gl / n_s,
        high_gl / n_s,
        small_low / n_s,
        small_high / n_s,
        large_low / n_s,
        large_high / n_s,
        row_sq / n_s,
        row_sq / (n_s * n_s),
        col_sq / n_s,
        col_sq / (n_s * n_s),
        percentage,
        var_i,
        var_j,
        entropy,
    ];
    if with_energy {
        out.push(energy);
    }
    out
}

/// Features of a zone-based family (GLSZM: zone size, GLDZM: zone distance to the edge) for
/// each slice aggregation: one matrix per slice (2D, 2.5D) and one for the volume (3D), rows
/// the grey level and columns `column(zone)`.
pub(crate) fn zone_family(
    spec: &super::naming::FamilySpec,
    column: fn(&super::zones::Zone) -> u32,
    slice_zones: &[Vec<super::zones::Zone>],
    slice_voxels: &[usize],
    volume_zones: Option<&[super::zones::Zone]>,
    volume_voxels: usize,
    methods: &[super::aggregation::SliceAggregation],
) -> Vec<crate::Feature> {
    let matrix = |zones: &[super::zones::Zone], n_voxels: usize| {
        SizeMatrix::from_triples(
            zones.iter().map(|z| (z.level, column(z), 1.0)).collect(),
            n_voxels as f64,
        )
    };
    let per_slice: Vec<SizeMatrix> = slice_zones
        .iter()
        .zip(slice_voxels)
        .map(|(z, &n)| matrix(z, n))
        .collect();
    let volume = volume_zones.map(|z| matrix(z, volume_voxels));
    let features = |m: &SizeMatrix| features(m, false);
    methods
        .iter()
        .flat_map(|&method| {
            let agg = super::aggregation::slice_based(
                &per_slice,
                volume.as_ref(),
                method,
                spec.defs.len(),
                &features,
            );
            super::naming::emit(spec, method.tag_suffix(), &agg)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_sums_counts_and_voxels() {
        let mut a = SizeMatrix::from_triples(vec![(1, 1, 2.0), (2, 3, 1.0)], 5.0);
        let b = SizeMatrix::from_triples(vec![(2, 3, 1.0), (1, 2, 1.0)], 5.0);
        a.merge(&b);
        assert_eq!(a.entries(), &[(1, 1, 2.0), (1, 2, 1.0), (2, 3, 2.0)]);
        assert_eq!(a.n_voxels, 10.0);
    }

    #[test]
    fn hand_computed_features() {
        // Two zones: level 1 size 1, level 2 size 2; N_v = 3.
        let m = SizeMatrix::from_triples(vec![(1, 1, 1.0), (2, 2, 1.0)], 3.0);
        let f = features(&m, true);
        assert!((f[0] - (1.0 + 0.25) / 2.0).abs() < 1e-12); // small emphasis
        assert!((f[1] - (1.0 + 4.0) / 2.0).abs() < 1e-12); // large emphasis
        assert!((f[8] - 1.0).abs() < 1e-12); // glnu = (1 + 1) / 2
        assert!((f[12] - 2.0 / 3.0).abs() < 1e-12); // percentage
        assert!((f[13] - 0.25).abs() < 1e-12); // grey level variance
        assert!((f[15] - 1.0).abs() < 1e-12); // entropy of two equiprobable cells
        assert!((f[16] - 0.5).abs() < 1e-12); // energy
    }
}
