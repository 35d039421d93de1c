//! Local intensity features (IBSI 1 section 3.2): mean intensity in a sphere of 1 cm³ around
//! the brightest voxel (local peak) or around whichever ROI voxel maximises it (global peak).
//!
//! The sphere reads every image voxel whose centre lies inside it, also outside the ROI, which
//! is why [`crate::prepare::PreparedRoi`] keeps a margin around the mask.

use ndarray::Array3;
use rayon::prelude::*;

use crate::util::FeatureBuilder;
use crate::{Family, Feature};

/// Voxel offsets `[dz, dy, dx]` whose centres lie within `radius_mm` of the origin.
fn sphere_offsets(spacing_mm: [f64; 3], radius_mm: f64) -> Vec<[isize; 3]> {
    let reach = |s: f64| (radius_mm / s).floor() as isize;
    let (rx, ry, rz) = (
        reach(spacing_mm[0]),
        reach(spacing_mm[1]),
        reach(spacing_mm[2]),
    );
    let mut out = Vec::new();
    for dz in -rz..=rz {
        for dy in -ry..=ry {
            for dx in -rx..=rx {
                let d2 = (dx as f64 * spacing_mm[0]).powi(2)
                    + (dy as f64 * spacing_mm[1]).powi(2)
                    + (dz as f64 * spacing_mm[2]).powi(2);
                // Tolerance: the IBSI digital phantom puts voxel centres exactly on the radius
                // grid only by coincidence; 1e-9 mm keeps such ties inside.
                if d2 <= radius_mm * radius_mm + 1e-9 {
                    out.push([dz, dy, dx]);
                }
            }
        }
    }
    out
}

/// Mean image intensity over the sphere around `centre` (voxels beyond the image are
/// skipped). `flat` holds the linear offsets of `offsets` in the standard-layout `data`, used
/// when the whole sphere lies inside the image (the usual case thanks to the crop margin).
fn sphere_mean(
    data: &[f64],
    dims: [usize; 3],
    centre: [usize; 3],
    offsets: &[[isize; 3]],
    flat: &[isize],
    reach: [usize; 3],
) -> f64 {
    let inside = (0..3).all(|a| centre[a] >= reach[a] && centre[a] + reach[a] < dims[a]);
    let c = ((centre[0] * dims[1] + centre[1]) * dims[2] + centre[2]) as isize;
    if inside {
        let sum: f64 = flat.iter().map(|o| data[(c + o) as usize]).sum();
        return sum / flat.len() as f64;
    }
    let (mut sum, mut n) = (0.0, 0usize);
    for o in offsets {
        let p = [
            centre[0] as isize + o[0],
            centre[1] as isize + o[1],
            centre[2] as isize + o[2],
        ];
        if (0..3).all(|a| p[a] >= 0 && p[a] < dims[a] as isize) {
            sum += data[(p[0] as usize * dims[1] + p[1] as usize) * dims[2] + p[2] as usize];
            n += 1;
        }
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Local and global intensity peaks of the intensity ROI.
/// Both peaks as NaN with the reason, when the settings turn the family off.
pub fn not_computed() -> Vec<Feature> {
    let note = Some("not computed: local_intensity.enabled = false");
    let mut b = FeatureBuilder::new(Family::LocalIntensity);
    b.push("loc_peak_loc", "VJGA", None, f64::NAN, note);
    b.push("loc_peak_glob", "0F91", None, f64::NAN, note);
    b.finish()
}

pub fn compute(
    image: &Array3<f64>,
    int_mask: &Array3<bool>,
    spacing_mm: [f64; 3],
    sphere_volume_cm3: f64,
) -> Vec<Feature> {
    let radius_mm = (3.0 * sphere_volume_cm3 * 1000.0 / (4.0 * std::f64::consts::PI)).cbrt();
    let offsets = sphere_offsets(spacing_mm, radius_mm);
    let standard = image.as_standard_layout();
    let data = standard.as_slice().unwrap_or(&[]);
    let (nz, ny, nx) = image.dim();
    let dims = [nz, ny, nx];
    let flat: Vec<isize> = offsets
        .iter()
        .map(|o| (o[0] * ny as isize + o[1]) * nx as isize + o[2])
        .collect();
    let reach = [2, 1, 0].map(|a| (radius_mm / spacing_mm[a]).floor() as usize);
    let mean_at = |c: [usize; 3]| sphere_mean(data, dims, c, &offsets, &flat, reach);
    let roi: Vec<([usize; 3], f64)> = int_mask
        .indexed_iter()
        .filter(|(_, m)| **m)
        .map(|((z, y, x), _)| ([z, y, x], image[[z, y, x]]))
        .collect();
    let max_intensity = roi
        .iter()
        .map(|(_, v)| *v)
        .fold(f64::NEG_INFINITY, f64::max);
    let local = roi
        .iter()
        .filter(|(_, v)| *v == max_intensity)
        .map(|(c, _)| mean_at(*c))
        .fold(f64::NAN, f64::max);
    let global = roi
        .par_iter()
        .map(|(c, _)| mean_at(*c))
        .reduce(|| f64::NAN, f64::max);
    let mut b = FeatureBuilder::new(Family::LocalIntensity);
    b.push("loc_peak_loc", "VJGA", None, local, None);
    b.push("loc_peak_glob", "0F91", None, global, None);
    b.finish()
}
