//! IBSI grid interpolation (IBSI 1 section 2.4): a centre-aligned grid with the new spacing,
//! filled by (tri)linear interpolation in voxel-index space.
//!
//! The generic physical-space resampler in `oncolens-transforms` keeps the origin voxel fixed;
//! IBSI instead keeps the grid *centre* fixed (`x_new0 = x0 + (s(n-1) - s'(n'-1)) / 2`), and
//! the CT phantom reference values (configurations B–E) depend on that alignment, hence this
//! module.

use ndarray::Array3;
use rayon::prelude::*;

use crate::RadiomicsError;

/// Where the new grid lies in the old grid's voxel indices, per axis `[x, y, z]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridMap {
    /// Number of voxels of the new grid.
    pub size: [usize; 3],
    /// Spacing of the new grid in mm.
    pub spacing_mm: [f64; 3],
    /// Old continuous index of new voxel 0.
    pub start_index: [f64; 3],
    /// Old-index step per new voxel (`new spacing / old spacing`).
    pub step_index: [f64; 3],
}

impl GridMap {
    /// The IBSI centre-aligned grid for `old_size`/`old_spacing_mm` at `new_spacing_mm`.
    /// `keep` marks axes that stay as they are (slice axis of 2D configurations).
    pub fn ibsi(
        old_size: [usize; 3],
        old_spacing_mm: [f64; 3],
        new_spacing_mm: [f64; 3],
        keep: [bool; 3],
    ) -> Self {
        let mut map = GridMap {
            size: old_size,
            spacing_mm: old_spacing_mm,
            start_index: [0.0; 3],
            step_index: [1.0; 3],
        };
        for a in 0..3 {
            if keep[a] {
                continue;
            }
            let (n, s, t) = (old_size[a] as f64, old_spacing_mm[a], new_spacing_mm[a]);
            // A small tolerance keeps 2.0000000001 voxels from becoming 3 through float noise.
            let n_new = ((n * s / t) - 1e-9).ceil().max(1.0);
            map.size[a] = n_new as usize;
            map.spacing_mm[a] = t;
            map.step_index[a] = t / s;
            map.start_index[a] = (s * (n - 1.0) - t * (n_new - 1.0)) / 2.0 / s;
        }
        map
    }

    /// Physical offset (mm, along the old axes) of new voxel 0 relative to old voxel 0.
    pub fn origin_shift_mm(&self, old_spacing_mm: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|a| self.start_index[a] * old_spacing_mm[a])
    }
}

/// Interpolates `data` (`[z, y, x]`) onto `map`'s grid. Points beyond the border take the value
/// of the nearest border voxel (as IBSI's reference implementation does with `mode="nearest"`).
pub fn interpolate(data: &Array3<f64>, map: &GridMap) -> Result<Array3<f64>, RadiomicsError> {
    let (nz, ny, nx) = data.dim();
    let [sx, sy, sz] = map.size;
    let axis_weights = |a: usize, n: usize, count: usize| -> Vec<(usize, usize, f64)> {
        (0..count)
            .map(|i| {
                let v =
                    (map.start_index[a] + i as f64 * map.step_index[a]).clamp(0.0, (n - 1) as f64);
                let f = v.floor();
                let i0 = f as usize;
                (i0, (i0 + 1).min(n - 1), v - f)
            })
            .collect()
    };
    let wx = axis_weights(0, nx, sx);
    let wy = axis_weights(1, ny, sy);
    let wz = axis_weights(2, nz, sz);
    let mut out = vec![0.0f64; sx * sy * sz];
    out.par_chunks_mut(sx * sy)
        .enumerate()
        .for_each(|(z, plane)| {
            let (z0, z1, fz) = wz[z];
            for (y, row) in plane.chunks_mut(sx).enumerate() {
                let (y0, y1, fy) = wy[y];
                for (x, v) in row.iter_mut().enumerate() {
                    let (x0, x1, fx) = wx[x];
                    let g = |zz: usize, yy: usize, xx: usize| data[[zz, yy, xx]];
                    let c00 = g(z0, y0, x0) * (1.0 - fx) + g(z0, y0, x1) * fx;
                    let c01 = g(z0, y1, x0) * (1.0 - fx) + g(z0, y1, x1) * fx;
                    let c10 = g(z1, y0, x0) * (1.0 - fx) + g(z1, y0, x1) * fx;
                    let c11 = g(z1, y1, x0) * (1.0 - fx) + g(z1, y1, x1) * fx;
                    let c0 = c00 * (1.0 - fy) + c01 * fy;
                    let c1 = c10 * (1.0 - fy) + c11 * fy;
                    *v = c0 * (1.0 - fz) + c1 * fz;
                }
            }
        });
    Array3::from_shape_vec((sz, sy, sx), out).map_err(|source| RadiomicsError::Shape {
        context: "interpolation",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibsi_grid_is_centre_aligned() {
        // 204 voxels of 0.977 mm -> ceil(199.308 / 2) = 100 voxels of 2 mm.
        let m = GridMap::ibsi(
            [204, 201, 60],
            [0.977, 0.977, 3.0],
            [2.0, 2.0, 2.0],
            [false; 3],
        );
        assert_eq!(m.size, [100, 99, 90]);
        let centre_old = 0.977 * 203.0 / 2.0;
        let centre_new = m.start_index[0] * 0.977 + 2.0 * 99.0 / 2.0;
        assert!((centre_old - centre_new).abs() < 1e-9);
    }

    #[test]
    fn identity_grid_reproduces_data() {
        let data = Array3::from_shape_fn((2, 3, 4), |(z, y, x)| (z * 100 + y * 10 + x) as f64);
        let m = GridMap::ibsi([4, 3, 2], [1.0; 3], [1.0; 3], [false; 3]);
        assert_eq!(interpolate(&data, &m).ok(), Some(data));
    }
}
