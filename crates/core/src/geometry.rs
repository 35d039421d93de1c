//! Physical geometry of a voxel grid, in the patient coordinate system of DICOM (LPS: x to the
//! patient's left, y to the posterior, z to the head), millimetres.
//!
//! The conventions are those of ITK/SimpleITK so numbers can be compared with them directly:
//! `physical = origin_mm + direction * diag(spacing_mm) * [i, j, k]`, where `i` indexes columns
//! (x), `j` rows (y) and `k` slices (z). The *columns* of `direction` are the unit vectors of the
//! i, j and k axes; [`Direction::row_major`] lists it row by row, like `GetDirection()`.

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// A 3x3 orthonormal direction matrix; `m[r][c]`, column `c` is the direction of voxel axis `c`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Direction(pub [[f64; 3]; 3]);

impl Default for Direction {
    fn default() -> Self {
        Self::identity()
    }
}

impl Direction {
    pub const fn identity() -> Self {
        Direction([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    }

    /// Builds a direction from the unit vectors of the three voxel axes.
    pub fn from_axes(i: [f64; 3], j: [f64; 3], k: [f64; 3]) -> Self {
        Direction([[i[0], j[0], k[0]], [i[1], j[1], k[1]], [i[2], j[2], k[2]]])
    }

    /// Builds a direction from nine numbers listed row by row (SimpleITK's order).
    pub fn from_row_major(v: [f64; 9]) -> Self {
        Direction([[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]])
    }

    /// The nine numbers row by row, as SimpleITK's `GetDirection()` returns them.
    pub fn row_major(&self) -> [f64; 9] {
        let m = &self.0;
        [
            m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2],
        ]
    }

    /// Unit vector of voxel axis `axis` (0 = i/x, 1 = j/y, 2 = k/z).
    pub fn axis(&self, axis: usize) -> [f64; 3] {
        [self.0[0][axis], self.0[1][axis], self.0[2][axis]]
    }

    /// True when the columns are unit length and mutually orthogonal within `tol`.
    pub fn is_orthonormal(&self, tol: f64) -> bool {
        (0..3).all(|a| {
            (0..3).all(|b| {
                let d: f64 = (0..3).map(|r| self.0[r][a] * self.0[r][b]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                (d - want).abs() <= tol
            })
        })
    }

    /// Multiplies the matrix with a vector.
    pub fn apply(&self, v: [f64; 3]) -> [f64; 3] {
        let m = &self.0;
        [
            m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
        ]
    }

    /// The transpose, which is the inverse for an orthonormal matrix.
    pub fn transpose(&self) -> Self {
        let m = &self.0;
        Direction([
            [m[0][0], m[1][0], m[2][0]],
            [m[0][1], m[1][1], m[2][1]],
            [m[0][2], m[1][2], m[2][2]],
        ])
    }
}

/// Size and placement of a voxel grid. Sizes and spacings are listed x, y, z (i, j, k).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Number of voxels along i (columns), j (rows), k (slices).
    pub size: [usize; 3],
    /// Distance between voxel centres along i, j, k, in millimetres.
    pub spacing_mm: [f64; 3],
    /// Physical position of the centre of voxel (0,0,0), LPS millimetres.
    pub origin_mm: [f64; 3],
    /// Orientation of the voxel axes.
    pub direction: Direction,
}

impl Geometry {
    /// Checks spacing and direction and builds the geometry.
    pub fn new(
        size: [usize; 3],
        spacing_mm: [f64; 3],
        origin_mm: [f64; 3],
        direction: Direction,
    ) -> Result<Self, CoreError> {
        if spacing_mm.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(CoreError::InvalidSpacing(spacing_mm));
        }
        if !direction.is_orthonormal(1e-4) {
            return Err(CoreError::InvalidDirection(direction.row_major()));
        }
        Ok(Geometry {
            size,
            spacing_mm,
            origin_mm,
            direction,
        })
    }

    /// The grid of the voxels in `ranges_zyx` (index ranges per array axis `[z, y, x]`): the
    /// same spacing and direction, the origin at the region's first voxel, so the region's
    /// voxels keep their physical positions.
    pub fn region(&self, ranges_zyx: &[std::ops::Range<usize>; 3]) -> Result<Geometry, CoreError> {
        let size_xyz = [2, 1, 0].map(|a| ranges_zyx[a].len());
        let inside = (0..3).all(|a| ranges_zyx[a].end <= self.size[2 - a]);
        if !inside || size_xyz.contains(&0) {
            return Err(CoreError::RegionOutside {
                ranges: ranges_zyx.clone().map(|r| [r.start, r.end]),
                size: self.size,
            });
        }
        let first = [2, 1, 0].map(|a| ranges_zyx[a].start as f64);
        Geometry::new(
            size_xyz,
            self.spacing_mm,
            self.index_to_physical(first),
            self.direction,
        )
    }

    /// Number of voxels.
    pub fn voxel_count(&self) -> usize {
        self.size.iter().product()
    }

    /// Volume of one voxel in cubic millimetres.
    pub fn voxel_volume_mm3(&self) -> f64 {
        self.spacing_mm.iter().product()
    }

    /// Physical LPS position (mm) of a continuous voxel index (i, j, k).
    pub fn index_to_physical(&self, ijk: [f64; 3]) -> [f64; 3] {
        let scaled = [
            ijk[0] * self.spacing_mm[0],
            ijk[1] * self.spacing_mm[1],
            ijk[2] * self.spacing_mm[2],
        ];
        let d = self.direction.apply(scaled);
        [
            self.origin_mm[0] + d[0],
            self.origin_mm[1] + d[1],
            self.origin_mm[2] + d[2],
        ]
    }

    /// Continuous voxel index of a physical LPS position (mm).
    pub fn physical_to_index(&self, p: [f64; 3]) -> [f64; 3] {
        let rel = [
            p[0] - self.origin_mm[0],
            p[1] - self.origin_mm[1],
            p[2] - self.origin_mm[2],
        ];
        let r = self.direction.transpose().apply(rel);
        [
            r[0] / self.spacing_mm[0],
            r[1] / self.spacing_mm[1],
            r[2] / self.spacing_mm[2],
        ]
    }

    /// The 4x4 voxel-to-LPS affine (row-major), the LPS counterpart of a NIfTI affine.
    pub fn affine_lps(&self) -> [[f64; 4]; 4] {
        let mut a = [[0.0; 4]; 4];
        for (r, row) in a.iter_mut().take(3).enumerate() {
            for (c, v) in row.iter_mut().take(3).enumerate() {
                *v = self.direction.0[r][c] * self.spacing_mm[c];
            }
            row[3] = self.origin_mm[r];
        }
        a[3][3] = 1.0;
        a
    }

    /// True when both grids have the same size and, within `tol_mm`, the same placement of every
    /// voxel (the corner voxels are compared, which bounds every voxel for affine grids).
    pub fn same_grid(&self, other: &Geometry, tol_mm: f64) -> bool {
        if self.size != other.size {
            return false;
        }
        let n = self.size.map(|s| s.saturating_sub(1) as f64);
        let corners = [
            [0.0, 0.0, 0.0],
            [n[0], 0.0, 0.0],
            [0.0, n[1], 0.0],
            [0.0, 0.0, n[2]],
            [n[0], n[1], n[2]],
        ];
        let spacing_ok = (0..3).all(|a| (self.spacing_mm[a] - other.spacing_mm[a]).abs() <= 1e-3);
        spacing_ok
            && corners.iter().all(|c| {
                let p = self.index_to_physical(*c);
                let q = other.index_to_physical(*c);
                (0..3).all(|a| (p[a] - q[a]).abs() <= tol_mm)
            })
    }

    /// Human-readable description of how two grids differ, for error messages.
    pub fn describe_difference(&self, other: &Geometry) -> String {
        if self.size != other.size {
            return format!("size {:?} vs {:?}", self.size, other.size);
        }
        if self.spacing_mm != other.spacing_mm {
            return format!(
                "spacing {:?} mm vs {:?} mm",
                self.spacing_mm, other.spacing_mm
            );
        }
        if self.origin_mm != other.origin_mm {
            return format!("origin {:?} mm vs {:?} mm", self.origin_mm, other.origin_mm);
        }
        format!(
            "direction {:?} vs {:?}",
            self.direction.row_major(),
            other.direction.row_major()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn index_physical_round_trip_with_oblique_direction() {
        let c = (0.3f64).cos();
        let s = (0.3f64).sin();
        let dir = Direction::from_axes([c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]);
        let g = Geometry::new([10, 20, 5], [0.7, 0.8, 2.5], [-100.0, 50.0, 12.0], dir).unwrap();
        let p = g.index_to_physical([3.0, 4.0, 2.0]);
        let back = g.physical_to_index(p);
        for a in 0..3 {
            assert_abs_diff_eq!(back[a], [3.0, 4.0, 2.0][a], epsilon = 1e-9);
        }
        // k axis only moves z.
        let p0 = g.index_to_physical([0.0, 0.0, 0.0]);
        let p1 = g.index_to_physical([0.0, 0.0, 1.0]);
        assert_abs_diff_eq!(p1[2] - p0[2], 2.5, epsilon = 1e-12);
    }

    #[test]
    fn rejects_bad_spacing_and_direction() {
        assert!(
            Geometry::new([1, 1, 1], [0.0, 1.0, 1.0], [0.0; 3], Direction::identity()).is_err()
        );
        let skew = Direction::from_row_major([1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(Geometry::new([1, 1, 1], [1.0; 3], [0.0; 3], skew).is_err());
    }

    #[test]
    fn row_major_matches_simpleitk_order() {
        let d = Direction::from_axes([1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]);
        // columns are the axes: first row holds the x components of i, j, k.
        assert_eq!(
            d.row_major(),
            [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0]
        );
        assert_eq!(Direction::from_row_major(d.row_major()), d);
    }

    /// A region keeps its voxels where they were: its first voxel sits at the parent's position
    /// of that index, also on a rotated, anisotropic grid; ranges outside or empty are refused.
    #[test]
    fn region_keeps_physical_positions() {
        let d = Direction::from_axes([0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]);
        let g = Geometry::new([10, 8, 6], [0.7, 0.9, 2.5], [5.0, -3.0, 40.0], d).unwrap();
        let r = g.region(&[2..5, 1..8, 3..10]).unwrap();
        assert_eq!(r.size, [7, 7, 3]);
        let within = [1.0, 2.0, 1.0];
        let parent = [3.0 + within[0], 1.0 + within[1], 2.0 + within[2]];
        let (a, b) = (r.index_to_physical(within), g.index_to_physical(parent));
        assert!((0..3).all(|k| (a[k] - b[k]).abs() < 1e-9), "{a:?} vs {b:?}");
        assert!(g.region(&[0..7, 0..8, 0..10]).is_err());
        assert!(g.region(&[2..2, 0..8, 0..10]).is_err());
        let v = crate::Volume::new(
            ndarray::Array3::from_shape_fn((6, 8, 10), |(z, y, x)| z * 100 + y * 10 + x),
            g,
        )
        .unwrap();
        let part = v.region(&[2..5, 1..8, 3..10]).unwrap();
        assert_eq!(part.get(0, 0, 0), Some(&213));
        assert_eq!(part.size(), [7, 7, 3]);
    }

    #[test]
    fn same_grid_detects_shift() {
        let g = Geometry::new([4, 4, 4], [1.0; 3], [0.0; 3], Direction::identity()).unwrap();
        let mut h = g.clone();
        assert!(g.same_grid(&h, 1e-3));
        h.origin_mm[2] += 0.5;
        assert!(!g.same_grid(&h, 1e-3));
        assert!(g.describe_difference(&h).contains("origin"));
    }
}
