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

/// Discretised grey levels of the intensity ROI and the morphological mask as flat buffers.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// 0 outside the intensity mask, `1..=n_levels` inside.
    pub levels: Vec<u32>,
    /// Morphological mask (GLDZM distances), same layout as `levels`.
    pub morph: Vec<bool>,
    /// Number of grey levels: the larger of the declared `n_levels` and the largest level
    /// present, so a level above the declared count can never index out of a matrix.
    pub n_levels: usize,
    pub nx: usize,
    pub ny: usize,
    pub nz: usize,
}

impl Grid {
    /// Flattens `roi`. A morphological mask whose shape differs from `levels` is replaced by the
    /// intensity mask (`levels > 0`), rather than failing: the two masks coincide in the common
    /// case of no re-segmentation.
    pub fn from_roi(roi: &DiscretisedRoi) -> Self {
        let (nz, ny, nx) = roi.levels.dim();
        let levels: Vec<u32> = roi.levels.iter().copied().collect();
        let morph: Vec<bool> = if roi.morph_mask.dim() == roi.levels.dim() {
            roi.morph_mask.iter().copied().collect()
        } else {
            levels.iter().map(|&l| l > 0).collect()
        };
        let max_present = levels.iter().copied().max().unwrap_or(0);
        let n_levels = roi.n_levels.max(max_present) as usize;
        Grid {
            levels,
            morph,
            n_levels,
            nx,
            ny,
            nz,
        }
    }

    pub fn index(&self, z: usize, y: usize, x: usize) -> usize {
        (z * self.ny + y) * self.nx + x
    }

    /// `(z, y, x)` of flat index `idx`.
    pub fn coords(&self, idx: usize) -> (usize, usize, usize) {
        let slice = self.slice_len();
        let rem = idx % slice;
        (idx / slice, rem / self.nx, rem % self.nx)
    }

    /// Flat-index step of `offset`; valid only where the neighbour is inside the image.
    pub fn linear_offset(&self, offset: Direction) -> isize {
        (offset[2] * self.ny as isize + offset[1]) * self.nx as isize + offset[0]
    }

    /// A user distance in voxels made usable: at least 1, at most the largest image extent
    /// (farther voxels do not exist), so a huge setting cannot allocate a huge neighbourhood.
    pub fn clamp_distance(&self, distance_voxels: u32) -> usize {
        let extent = self.nx.max(self.ny).max(self.nz).max(1);
        (distance_voxels as usize).clamp(1, extent)
    }

    pub fn slice_len(&self) -> usize {
        self.nx * self.ny
    }

    /// Number of ROI voxels in slices `z_range`.
    pub fn count_voxels(&self, z_range: std::ops::Range<usize>) -> usize {
        let len = self.slice_len();
        self.levels[z_range.start * len..z_range.end * len]
            .iter()
            .filter(|&&l| l > 0)
            .count()
    }

    /// Slices (z indices) holding at least one ROI voxel; 2D aggregation averages over these.
    pub fn occupied_slices(&self) -> Vec<usize> {
        (0..self.nz)
            .filter(|&z| self.count_voxels(z..z + 1) > 0)
            .collect()
    }

    /// Neighbour of `(z, y, x)` at `offset` (`[dx, dy, dz]`) if it lies inside the image.
    pub fn neighbour(&self, z: usize, y: usize, x: usize, offset: Direction) -> Option<usize> {
        let nx = x.checked_add_signed(offset[0]).filter(|&v| v < self.nx)?;
        let ny = y.checked_add_signed(offset[1]).filter(|&v| v < self.ny)?;
        let nz = z.checked_add_signed(offset[2]).filter(|&v| v < self.nz)?;
        Some(self.index(nz, ny, nx))
    }
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
        let morph = levels.iter().map(|&l| l > 0).collect();
        Grid {
            levels,
            morph,
            n_levels,
            nx,
            ny,
            nz,
        }
    }

    #[test]
    fn valid_range_clips_to_the_partner_voxel() {
        assert_eq!(valid_range(5, 1), 0..4);
        assert_eq!(valid_range(5, -2), 2..5);
        assert_eq!(valid_range(2, 3), 0..0);
    }

    #[test]
    fn neighbourhood_sizes() {
        assert_eq!(chebyshev_offsets(1, true).len(), 8);
        assert_eq!(chebyshev_offsets(1, false).len(), 26);
        assert_eq!(chebyshev_offsets(2, false).len(), 124);
        assert_eq!(face_offsets(false).len(), 6);
    }
}
