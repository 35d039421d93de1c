//! Flat voxel grid and neighbourhood geometry shared by every texture family.
//!
//! The families walk the ROI millions of times, so they read a flat row-major `[z, y, x]`
//! buffer (index `(z * ny + y) * nx + x`) instead of going through `ndarray` indexing.

use crate::DiscretisedRoi;

/// Direction vector `[dx, dy, dz]` in voxels.
pub(crate) type Direction = [isize; 3];

/// The 4 unique in-plane direction vectors of IBSI (0°, 45°, 90°, 135°), `[dx, dy, dz]`.
pub(crate) const DIRECTIONS_2D: [Direction; 4] = [[1, 0, 0], [1, 1, 0], [0, 1, 0], [-1, 1, 0]];

/// The 13 unique 3D direction vectors of IBSI (26-neighbourhood, one of each ± pair).
pub(crate) const DIRECTIONS_3D: [Direction; 13] = [
    [0, 0, 1],
    [0, 1, 0],
    [1, 0, 0],
    [0, 1, 1],
    [0, 1, -1],
    [1, 0, 1],
    [1, 0, -1],
    [1, 1, 0],
    [1, -1, 0],
    [1, 1, 1],
    [1, 1, -1],
    [1, -1, 1],
    [1, -1, -1],
];

/// Discretised grey levels of the intensity ROI and the morphological mask as flat buffers,
/// with a border of `pad` voxels on every side that are outside both masks (level 0, not in
/// the morphological mask). Within Chebyshev distance `pad` every neighbour of a grid voxel
/// is then an index of the buffers, and a neighbour beyond the image reads as a voxel outside
/// the ROI, which is how every family treats it: the inner loops step by a constant flat offset
/// with no bounds checks.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// 0 outside the intensity mask, `1..=n_levels` inside; padded layout (see [`Grid::index`]).
    pub levels: Vec<u32>,
    /// Morphological mask (GLDZM distances), same layout as `levels`.
    pub morph: Vec<bool>,
    /// Number of grey levels: the larger of the declared `n_levels` and the largest level
    /// present, so a level above the declared count can never index out of a matrix.
    pub n_levels: usize,
    /// Extents of the image (without the border).
    pub nx: usize,
    pub ny: usize,
    pub nz: usize,
    pad: usize,
}

impl Grid {
    /// Flattens `roi` with a border of `pad` (at least 1) voxels. A morphological mask whose
    /// shape differs from `levels` is replaced by the intensity mask (`levels > 0`), rather than
    /// failing: the two masks coincide in the common case of no re-segmentation.
    pub fn from_roi(roi: &DiscretisedRoi, pad: usize) -> Self {
        let (nz, ny, nx) = roi.levels.dim();
        let same = roi.morph_mask.dim() == roi.levels.dim();
        let levels: Vec<u32> = roi.levels.iter().copied().collect();
        let morph: Vec<bool> = if same {
            roi.morph_mask.iter().copied().collect()
        } else {
            levels.iter().map(|&l| l > 0).collect()
        };
        Self::new(&levels, &morph, roi.n_levels as usize, [nz, ny, nx], pad)
    }

    /// A grid from unpadded `[z, y, x]` buffers.
    pub fn new(
        levels: &[u32],
        morph: &[bool],
        declared_levels: usize,
        [nz, ny, nx]: [usize; 3],
        pad: usize,
    ) -> Self {
        let pad = pad.max(1);
        let mut g = Grid {
            levels: Vec::new(),
            morph: Vec::new(),
            n_levels: 0,
            nx,
            ny,
            nz,
            pad,
        };
        let total = (nz + 2 * pad) * (ny + 2 * pad) * (nx + 2 * pad);
        g.levels = vec![0; total];
        g.morph = vec![false; total];
        for z in 0..nz {
            for y in 0..ny {
                let src = (z * ny + y) * nx;
                let dst = g.index(z, y, 0);
                g.levels[dst..dst + nx].copy_from_slice(&levels[src..src + nx]);
                g.morph[dst..dst + nx].copy_from_slice(&morph[src..src + nx]);
            }
        }
        let max_present = levels.iter().copied().max().unwrap_or(0) as usize;
        g.n_levels = declared_levels.max(max_present);
        g
    }

    fn padded_x(&self) -> usize {
        self.nx + 2 * self.pad
    }

    fn padded_y(&self) -> usize {
        self.ny + 2 * self.pad
    }

    /// Flat index of image voxel `(z, y, x)`.
    pub fn index(&self, z: usize, y: usize, x: usize) -> usize {
        ((z + self.pad) * self.padded_y() + y + self.pad) * self.padded_x() + x + self.pad
    }

    /// Flat-index step of `offset`: the neighbour of any image voxel at Chebyshev distance up to
    /// [`Grid::pad`] is `index + linear_offset`.
    pub fn linear_offset(&self, offset: Direction) -> isize {
        (offset[2] * self.padded_y() as isize + offset[1]) * self.padded_x() as isize + offset[0]
    }

    /// Flat steps to the voxels within Chebyshev distance `delta` (centre excluded; in-plane
    /// only when `in_plane`). Panics if `delta` exceeds the border (a construction bug: the
    /// border is sized from the settings before the grid is built).
    pub fn flat_neighbourhood(&self, delta: usize, in_plane: bool) -> Vec<isize> {
        assert!(
            delta <= self.pad,
            "neighbourhood radius {delta} exceeds the grid's border {}",
            self.pad
        );
        chebyshev_offsets(delta, in_plane)
            .into_iter()
            .map(|o| self.linear_offset(o))
            .collect()
    }

    /// Flat indices of the padded plane holding slice `z` (its border rows included).
    pub fn plane(&self, z: usize) -> std::ops::Range<usize> {
        let len = self.padded_x() * self.padded_y();
        let start = (z + self.pad) * len;
        start..start + len
    }

    /// A user distance in voxels made usable: at least 1, at most the largest image extent
    /// (farther voxels do not exist), so a huge setting cannot allocate a huge neighbourhood.
    pub fn clamp_distance(&self, distance_voxels: u32) -> usize {
        clamp_distance([self.nz, self.ny, self.nx], distance_voxels)
    }

    /// Number of ROI voxels in slices `z_range`.
    pub fn count_voxels(&self, z_range: std::ops::Range<usize>) -> usize {
        if z_range.is_empty() {
            return 0;
        }
        let from = self.plane(z_range.start).start;
        let to = self.plane(z_range.end - 1).end;
        self.levels[from..to].iter().filter(|&&l| l > 0).count()
    }

    /// Slices (z indices) holding at least one ROI voxel; 2D aggregation averages over these.
    pub fn occupied_slices(&self) -> Vec<usize> {
        (0..self.nz)
            .filter(|&z| self.count_voxels(z..z + 1) > 0)
            .collect()
    }

    /// Neighbour of `(z, y, x)` at `offset` (`[dx, dy, dz]`) if it lies inside the image: the
    /// bounds-checked reference the border is tested against.
    #[cfg(test)]
    pub fn neighbour(&self, z: usize, y: usize, x: usize, offset: Direction) -> Option<usize> {
        let nx = x.checked_add_signed(offset[0]).filter(|&v| v < self.nx)?;
        let ny = y.checked_add_signed(offset[1]).filter(|&v| v < self.ny)?;
        let nz = z.checked_add_signed(offset[2]).filter(|&v| v < self.nz)?;
        Some(self.index(nz, ny, nx))
    }
}

/// [`Grid::clamp_distance`] for a grid of extents `dims` (before the grid exists: the border
/// must be as wide as the largest neighbourhood).
pub(crate) fn clamp_distance(dims: [usize; 3], distance_voxels: u32) -> usize {
    let extent = dims.into_iter().max().unwrap_or(1).max(1);
    (distance_voxels as usize).clamp(1, extent)
}

/// Coordinates `start..end` along one axis of length `n` for which `c + d` stays inside.
pub(crate) fn valid_range(n: usize, d: isize) -> std::ops::Range<usize> {
    let shift = d.unsigned_abs();
    if shift >= n {
        return 0..0;
    }
    if d >= 0 { 0..n - shift } else { shift..n }
}

/// Offsets of all voxels within Chebyshev distance `delta` of the centre (centre excluded);
/// in-plane only when `in_plane` (2D neighbourhoods never reach into other slices).
pub(crate) fn chebyshev_offsets(delta: usize, in_plane: bool) -> Vec<Direction> {
    let d = delta as isize;
    let z_reach = if in_plane { 0 } else { d };
    let mut out = Vec::new();
    for dz in -z_reach..=z_reach {
        for dy in -d..=d {
            for dx in -d..=d {
                if (dx, dy, dz) != (0, 0, 0) {
                    out.push([dx, dy, dz]);
                }
            }
        }
    }
    out
}

/// Offsets of the face neighbours (4 in-plane, 6 in 3D): the Manhattan distance-1 neighbourhood.
pub(crate) fn face_offsets(in_plane: bool) -> Vec<Direction> {
    let mut out = vec![[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]];
    if !in_plane {
        out.push([0, 0, 1]);
        out.push([0, 0, -1]);
    }
    out
}

/// Scales a unit direction vector by the (Chebyshev) distance `delta`.
pub(crate) fn scaled(dir: Direction, delta: usize) -> Direction {
    let d = delta as isize;
    [dir[0] * d, dir[1] * d, dir[2] * d]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A grid from `[z][y][x]` nested rows; the morphological mask is `levels > 0`.
    pub(crate) fn grid_from(rows: &[&[&[u32]]], n_levels: usize) -> Grid {
        let nz = rows.len();
        let ny = rows.first().map_or(0, |s| s.len());
        let nx = rows.first().and_then(|s| s.first()).map_or(0, |r| r.len());
        let levels: Vec<u32> = rows
            .iter()
            .flat_map(|s| s.iter())
            .flat_map(|r| r.iter())
            .copied()
            .collect();
        let morph: Vec<bool> = levels.iter().map(|&l| l > 0).collect();
        Grid::new(&levels, &morph, n_levels, [nz, ny, nx], 1)
    }

    #[test]
    fn valid_range_clips_to_the_partner_voxel() {
        assert_eq!(valid_range(5, 1), 0..4);
        assert_eq!(valid_range(5, -2), 2..5);
        assert_eq!(valid_range(2, 3), 0..0);
    }

    #[test]
    fn the_border_reads_as_outside_the_roi() {
        let g = grid_from(&[&[&[1, 2], &[3, 4]]], 4);
        assert_eq!(g.levels.len(), 4 * 4 * 3);
        assert_eq!(g.levels.iter().filter(|&&l| l > 0).count(), 4);
        let corner = g.index(0, 1, 1);
        assert_eq!(g.levels[corner], 4);
        // Every neighbour of the image is an index; those beyond it are level 0.
        for off in chebyshev_offsets(1, false) {
            let nb = corner.wrapping_add_signed(g.linear_offset(off));
            let inside = g.neighbour(0, 1, 1, off);
            assert_eq!(inside.is_some(), g.levels[nb] > 0, "{off:?}");
            assert_eq!(inside.map_or(0, |i| g.levels[i]), g.levels[nb]);
        }
        assert_eq!(g.count_voxels(0..1), 4);
        assert_eq!(g.occupied_slices(), vec![0]);
    }

    #[test]
    fn neighbourhood_sizes() {
        assert_eq!(chebyshev_offsets(1, true).len(), 8);
        assert_eq!(chebyshev_offsets(1, false).len(), 26);
        assert_eq!(chebyshev_offsets(2, false).len(), 124);
        assert_eq!(face_offsets(false).len(), 6);
    }
}
