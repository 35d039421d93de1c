//! Trilinear resampling between grids in physical space.

use ndarray::{Array3, Axis};
use oncolens_core::{Geometry, LabelMap, Volume};
use rayon::prelude::*;

use crate::TransformError;

/// The affine map from a target voxel index `(x, y, z)` to a continuous source index, as a
/// 3x3 matrix (columns: one step along target x, y, z) and an offset.
fn index_map(src: &Geometry, target: &Geometry) -> ([[f64; 3]; 3], [f64; 3]) {
    let o = src.physical_to_index(target.index_to_physical([0.0; 3]));
    let mut m = [[0.0; 3]; 3];
    for axis in 0..3 {
        let mut e = [0.0; 3];
        e[axis] = 1.0;
        let p = src.physical_to_index(target.index_to_physical(e));
        for r in 0..3 {
            m[r][axis] = p[r] - o[r];
        }
    }
    (m, o)
}

/// Trilinear interpolation at a continuous voxel index `(x, y, z)` of `data` (`[z, y, x]`);
/// `outside` beyond the grid. Points within half a voxel of the border are clamped to it, as
/// ITK's linear interpolator does, so a crop touching the edge is not darkened.
#[inline]
fn trilinear(data: &Array3<f32>, ijk: [f64; 3], outside: f32) -> f32 {
    let (nz, ny, nx) = data.dim();
    let dims = [nx, ny, nz];
    let mut base = [0usize; 3];
    let mut frac = [0f64; 3];
    for a in 0..3 {
        let n = dims[a] as f64;
        let v = ijk[a];
        if !(v > -0.5 && v < n - 0.5) {
            return outside;
        }
        let v = v.clamp(0.0, n - 1.0);
        let f = v.floor();
        base[a] = f as usize;
        frac[a] = v - f;
    }
    let [x0, y0, z0] = base;
    let x1 = (x0 + 1).min(nx - 1);
    let y1 = (y0 + 1).min(ny - 1);
    let z1 = (z0 + 1).min(nz - 1);
    let [fx, fy, fz] = frac;
    let g = |z: usize, y: usize, x: usize| f64::from(data[[z, y, x]]);
    let c00 = g(z0, y0, x0) * (1.0 - fx) + g(z0, y0, x1) * fx;
    let c01 = g(z0, y1, x0) * (1.0 - fx) + g(z0, y1, x1) * fx;
    let c10 = g(z1, y0, x0) * (1.0 - fx) + g(z1, y0, x1) * fx;
    let c11 = g(z1, y1, x0) * (1.0 - fx) + g(z1, y1, x1) * fx;
    let c0 = c00 * (1.0 - fy) + c01 * fy;
    let c1 = c10 * (1.0 - fy) + c11 * fy;
    (c0 * (1.0 - fz) + c1 * fz) as f32
}

/// Value of `volume` at a physical point (trilinear), `outside` beyond the grid.
pub fn sample_trilinear(volume: &Volume<f32>, point_mm: [f64; 3], outside: f32) -> f32 {
    let ijk = volume.geometry().physical_to_index(point_mm);
    trilinear(volume.data(), ijk, outside)
}

/// Resamples `src` onto `target` with trilinear interpolation; voxels of `target` outside `src`
/// get `outside` (for CT, air: -1000 HU; for heatmaps, 0).
pub fn resample_to_grid(
    src: &Volume<f32>,
    target: &Geometry,
    outside: f32,
) -> Result<Volume<f32>, TransformError> {
    let (m, o) = index_map(src.geometry(), target);
    let [nx, ny, nz] = target.size;
    let mut out = Array3::<f32>::from_elem((nz, ny, nx), outside);
    let data = src.data();
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(z, mut plane)| {
            for y in 0..ny {
                for x in 0..nx {
                    let t = [x as f64, y as f64, z as f64];
                    let ijk: [f64; 3] = std::array::from_fn(|r| {
                        o[r] + m[r][0] * t[0] + m[r][1] * t[1] + m[r][2] * t[2]
                    });
                    plane[[y, x]] = trilinear(data, ijk, outside);
                }
            }
        });
    Ok(Volume::new(out, target.clone())?)
}

/// Resamples an image to isotropic `spacing_mm` over the same physical extent (IBSI image
/// interpolation, grid aligned at the origin voxel).
pub fn resample_isotropic(
    src: &Volume<f32>,
    spacing_mm: f64,
) -> Result<Volume<f32>, TransformError> {
    let target = isotropic_grid(src.geometry(), spacing_mm)?;
    resample_to_grid(src, &target, 0.0)
}

fn isotropic_grid(g: &Geometry, spacing_mm: f64) -> Result<Geometry, TransformError> {
    if !(spacing_mm.is_finite() && spacing_mm > 0.0) {
        return Err(TransformError::Parameter(format!(
            "spacing {spacing_mm} mm must be positive"
        )));
    }
    let size = std::array::from_fn(|i| {
        ((g.size[i] as f64 * g.spacing_mm[i]) / spacing_mm)
            .round()
            .max(1.0) as usize
    });
    Ok(Geometry::new(
        size,
        [spacing_mm; 3],
        g.origin_mm,
        g.direction,
    )?)
}

/// Resamples a label map (label `label` versus the rest) onto `target`: the binary mask is
/// interpolated trilinearly and thresholded at 0.5, as IBSI prescribes for masks.
pub fn resample_label_map(
    mask: &LabelMap,
    label: u16,
    target: &Geometry,
) -> Result<LabelMap, TransformError> {
    let binary = mask
        .volume()
        .map(|&v| if v == label { 1.0f32 } else { 0.0 });
    let r = resample_to_grid(&binary, target, 0.0)?;
    let labels = r.data().mapv(|v| u16::from(v >= 0.5));
    Ok(LabelMap::new(labels, target.clone())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncolens_core::Direction;

    fn ramp(size: [usize; 3], spacing: [f64; 3]) -> Volume<f32> {
        let g = Geometry::new(size, spacing, [10.0, -5.0, 3.0], Direction::default()).unwrap();
        let data = Array3::from_shape_fn((size[2], size[1], size[0]), |(z, y, x)| {
            let p = g.index_to_physical([x as f64, y as f64, z as f64]);
            (2.0 * p[0] - p[1] + 0.5 * p[2]) as f32
        });
        Volume::new(data, g).unwrap()
    }

    #[test]
    fn linear_fields_are_reproduced_exactly_on_any_grid() {
        let v = ramp([20, 18, 10], [1.0, 1.5, 2.5]);
        let target =
            crate::grid_centered_at(v.geometry(), [18.0, 5.0, 12.0], [7, 7, 7], [0.7, 0.7, 0.7])
                .unwrap();
        let r = resample_to_grid(&v, &target, f32::NAN).unwrap();
        for ((z, y, x), value) in r.data().indexed_iter() {
            let p = target.index_to_physical([x as f64, y as f64, z as f64]);
            let expected = 2.0 * p[0] - p[1] + 0.5 * p[2];
            assert!(
                (f64::from(*value) - expected).abs() < 1e-3,
                "{value} vs {expected}"
            );
        }
    }

    #[test]
    fn outside_points_get_the_fill_value() {
        let v = ramp([4, 4, 4], [1.0; 3]);
        assert_eq!(sample_trilinear(&v, [-100.0, 0.0, 0.0], -1000.0), -1000.0);
    }

    #[test]
    fn isotropic_resampling_keeps_extent_and_masks_stay_binary() {
        let v = ramp([10, 10, 4], [1.0, 1.0, 2.5]);
        let r = resample_isotropic(&v, 1.0).unwrap();
        assert_eq!(r.size(), [10, 10, 10]);
        let labels = Array3::from_shape_fn((4, 10, 10), |(z, y, x)| {
            u16::from((3..7).contains(&x) && (3..7).contains(&y) && (1..=2).contains(&z))
        });
        let mask = LabelMap::new(labels, v.geometry().clone()).unwrap();
        let m = resample_label_map(&mask, 1, r.geometry()).unwrap();
        assert!(m.data().iter().all(|&l| l <= 1));
        let ratio = m.volume_mm3(1) / mask.volume_mm3(1);
        assert!((0.6..1.4).contains(&ratio), "volume ratio {ratio}");
        assert!(resample_isotropic(&v, 0.0).is_err());
    }
}
