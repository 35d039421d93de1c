//! The IBSI image-processing chain (IBSI 1 chapter 2): interpolation → re-segmentation →
//! intensity and morphological masks → discretisation, with the IBSI diagnostics recorded
//! after each step.

pub mod diagnostics;
pub mod discretise;
pub mod resample;
pub mod resegment;
pub mod spline;

use ndarray::{Array3, Slice};
use oncolens_core::{LabelMap, Volume};

use crate::settings::{Interpolation, Settings};
use crate::{DiscretisedRoi, RadiomicsError};
pub use diagnostics::Diagnostics;
use discretise::Discretised;
use resample::GridMap;

/// The region of interest ready for the feature families.
///
/// Arrays are `[z, y, x]`, cropped to the morphological mask's bounding box plus a margin wide
/// enough for the local-intensity sphere (which also reads voxels outside the ROI).
#[derive(Debug, Clone)]
pub struct PreparedRoi {
    /// Intensities after interpolation (and rounding), before re-segmentation.
    pub image: Array3<f64>,
    /// Voxels of the ROI after interpolation (shape features use this mask).
    pub morph_mask: Array3<bool>,
    /// Voxels of the ROI after re-segmentation (intensity features use this mask).
    pub int_mask: Array3<bool>,
    /// Voxel spacing `[x, y, z]` in mm on the analysis grid.
    pub spacing_mm: [f64; 3],
    /// Intensities of the intensity mask in `indexed_iter` order.
    pub values: Vec<f64>,
    /// Grey levels of `values` (same order).
    pub discretised: Discretised,
    /// Grey-level grid for the texture families (cropped to the morphological bounding box).
    pub texture_roi: DiscretisedRoi,
    pub diagnostics: Diagnostics,
}

/// Runs the preparation chain on `label` of `mask` over `image`.
pub fn prepare(
    image: &Volume<f32>,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<PreparedRoi, RadiomicsError> {
    settings.validate()?;
    mask.check_matches(image)
        .map_err(RadiomicsError::GridMismatch)?;
    // The label's bounding box doubles as the emptiness check (one pass over the mask).
    let Some(lbb) = (label != 0)
        .then(|| label_bounding_box(mask.data(), label))
        .flatten()
    else {
        return Err(RadiomicsError::EmptyMask {
            label,
            present: mask.labels_present(),
        });
    };
    let spacing_init = image.spacing_mm();
    let (nz, ny, nx) = image.data().dim();
    let full_dims = [nz, ny, nx];
    // One pass over the whole image, in f32: finiteness and the `init_img` statistics. Nothing
    // else reads the whole image unless it is resampled.
    let init_stats = whole_image_stats(image.data())?;
    let mut diag = Diagnostics::new();
    diagnostics::record_image_stats(&mut diag, "init_img", full_dims, spacing_init, init_stats);
    let radius_mm = (3.0 * settings.local_intensity.sphere_volume_cm3 * 1000.0
        / (4.0 * std::f64::consts::PI))
        .cbrt();

    // `crop_dims`: the whole grid's size when the arrays below are a crop of it.
    let (img, morph_mask, spacing_mm, crop_dims) = match settings.resampling.spacing_mm {
        None => {
            // Without interpolation every later step reads only the ROI and, for the
            // local-intensity peak, a sphere around it: crop to the label's bounding box plus
            // that margin (the same crop as below) before converting to f64, so the cost no
            // longer scales with the whole image.
            let labels = mask.data();
            let ranges = margin_ranges(lbb, radius_mm, spacing_init, full_dims);
            let img0 = crop_map(image.data(), &ranges, f64::from);
            let roi0 = crop_map(labels, &ranges, |l| l == label);
            diagnostics::record_roi(&mut diag, "init_roi", &img0, &roi0, &roi0, Some(full_dims));
            diagnostics::record_image_stats(
                &mut diag,
                "interp_img",
                full_dims,
                spacing_init,
                init_stats,
            );
            (img0, roi0, spacing_init, Some(full_dims))
        }
        Some(target) => {
            let img0 = image.data().mapv(f64::from);
            let roi0 = mask.data().mapv(|l| l == label);
            diagnostics::record_roi(&mut diag, "init_roi", &img0, &roi0, &roi0, None);
            let keep = [false, false, settings.resampling.in_plane_only];
            let map = GridMap::ibsi(image.size(), spacing_init, target, keep);
            let mut img = match settings.resampling.image_interpolation {
                Interpolation::Linear => resample::interpolate(&img0, &map)?,
                Interpolation::CubicBspline => spline::interpolate_cubic(&img0, &map)?,
            };
            if settings.resampling.round_intensities {
                img.mapv_inplace(f64::round);
            }
            let roi_f = resample::interpolate(&roi0.mapv(|m| if m { 1.0 } else { 0.0 }), &map)?;
            // A little slack so that exactly 0.5 survives float noise of the weights.
            let threshold = settings.resampling.mask_threshold - 1e-9;
            let morph = roi_f.mapv(|v| v >= threshold);
            diagnostics::record_image(&mut diag, "interp_img", &img, map.spacing_mm);
            (img, morph, map.spacing_mm, None)
        }
    };
    if !morph_mask.iter().any(|m| *m) {
        return Err(RadiomicsError::EmptyRoi {
            step: "mask interpolation",
        });
    }
    diagnostics::record_roi(
        &mut diag,
        "interp_roi",
        &img,
        &morph_mask,
        &morph_mask,
        crop_dims,
    );

    let mut int_mask = morph_mask.clone();
    resegment::resegment(&img, &mut int_mask, &settings.resegmentation);
    diagnostics::record_roi(
        &mut diag,
        "reseg_roi",
        &img,
        &int_mask,
        &morph_mask,
        crop_dims,
    );
    if !int_mask.iter().any(|m| *m) {
        return Err(RadiomicsError::EmptyRoi {
            step: "re-segmentation",
        });
    }

    // Crop around the ROI: the margin covers the local-intensity sphere radius.
    let bb = diagnostics::bounding_box(&morph_mask).ok_or(RadiomicsError::EmptyRoi {
        step: "mask interpolation",
    })?;
    let (dz, dy, dx) = img.dim();
    let ranges = margin_ranges(bb, radius_mm, spacing_mm, [dz, dy, dx]);
    let image = crop(&img, &ranges);
    let morph_mask = crop(&morph_mask, &ranges);
    let int_mask = crop(&int_mask, &ranges);

    let values: Vec<f64> = image
        .iter()
        .zip(int_mask.iter())
        .filter(|(_, m)| **m)
        .map(|(v, _)| *v)
        .collect();
    let discretised =
        discretise::discretise(&values, &settings.discretisation, &settings.resegmentation)?;
    let texture_roi = texture_roi(
        &int_mask,
        &morph_mask,
        &discretised,
        spacing_mm,
        bb,
        [ranges[0].start, ranges[1].start, ranges[2].start],
    );
    Ok(PreparedRoi {
        image,
        morph_mask,
        int_mask,
        spacing_mm,
        values,
        discretised,
        texture_roi,
        diagnostics: diag,
    })
}

/// Builds the texture grid, cropped to the morphological mask's bounding box `bb` (given in
/// uncropped indices; `offset` is where the cropped arrays start).
fn texture_roi(
    int_mask: &Array3<bool>,
    morph_mask: &Array3<bool>,
    discretised: &Discretised,
    spacing_mm: [f64; 3],
    bb: [[usize; 2]; 3],
    offset: [usize; 3],
) -> DiscretisedRoi {
    let mut levels = Array3::<u32>::zeros(int_mask.dim());
    let mut next = discretised.levels.iter();
    for (l, m) in levels.iter_mut().zip(int_mask.iter()) {
        if *m {
            *l = next.next().copied().unwrap_or(0);
        }
    }
    let ranges = [0, 1, 2].map(|a| (bb[a][0] - offset[a])..(bb[a][1] - offset[a] + 1));
    DiscretisedRoi {
        levels: crop(&levels, &ranges),
        n_levels: discretised.n_levels,
        morph_mask: crop(morph_mask, &ranges),
        spacing_mm,
    }
}

/// Index ranges (`[z, y, x]`) of bounding box `bb` widened by the local-intensity sphere
/// radius plus one voxel on each side, clipped to `dims`.
fn margin_ranges(
    bb: [[usize; 2]; 3],
    radius_mm: f64,
    spacing_mm: [f64; 3],
    dims: [usize; 3],
) -> [std::ops::Range<usize>; 3] {
    let spacing_zyx = [spacing_mm[2], spacing_mm[1], spacing_mm[0]];
    [0, 1, 2].map(|a| {
        let margin = (radius_mm / spacing_zyx[a]).ceil() as usize + 1;
        bb[a][0].saturating_sub(margin)..(bb[a][1] + margin + 1).min(dims[a])
    })
}

/// Inclusive `[lo, hi]` index range per axis `[z, y, x]` of the voxels labelled `label`.
/// Mean, minimum and maximum of the whole image, or the first non-finite value.
///
/// This is the one pass over the whole image when nothing is resampled, so it is written to
/// vectorise (eight independent lanes, no branch per voxel) and runs over blocks in parallel.
/// A non-finite voxel makes the `f64` sum non-finite (finite `f32` values cannot overflow it),
/// and only then is it searched for.
fn whole_image_stats(data: &Array3<f32>) -> Result<(f64, f64, f64), RadiomicsError> {
    const LANES: usize = 8;
    let values = diagnostics::contiguous(data);
    let values: &[f32] = &values;
    // Eight independent lanes per block; blocks in parallel (the pass is memory-bound).
    let lanes = |block: &[f32]| {
        let mut sum = [0.0f64; LANES];
        let mut lo = [f32::INFINITY; LANES];
        let mut hi = [f32::NEG_INFINITY; LANES];
        let mut groups = block.chunks_exact(LANES);
        for g in &mut groups {
            for k in 0..LANES {
                let v = g[k];
                sum[k] += f64::from(v);
                lo[k] = if v < lo[k] { v } else { lo[k] };
                hi[k] = if v > hi[k] { v } else { hi[k] };
            }
        }
        for (k, v) in groups.remainder().iter().enumerate() {
            sum[k] += f64::from(*v);
            lo[k] = lo[k].min(*v);
            hi[k] = hi[k].max(*v);
        }
        (sum, lo, hi)
    };
    use rayon::prelude::*;
    // Per-block results collected in order and combined sequentially: the same sum, to the
    // last bit, whatever the thread count.
    let blocks: Vec<([f64; LANES], [f32; LANES], [f32; LANES])> =
        values.par_chunks(1 << 18).map(lanes).collect();
    let mut sum = [0.0f64; LANES];
    let mut lo = [f32::INFINITY; LANES];
    let mut hi = [f32::NEG_INFINITY; LANES];
    for (s, l, h) in blocks {
        for k in 0..LANES {
            sum[k] += s[k];
            lo[k] = lo[k].min(l[k]);
            hi[k] = hi[k].max(h[k]);
        }
    }
    let total: f64 = sum.iter().sum();
    if !total.is_finite()
        && let Some(v) = values.iter().find(|v| !v.is_finite())
    {
        return Err(RadiomicsError::NonFiniteIntensity { value: *v });
    }
    let min = lo.iter().copied().fold(f32::INFINITY, f32::min);
    let max = hi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Ok((
        total / values.len().max(1) as f64,
        f64::from(min),
        f64::from(max),
    ))
}

/// Inclusive `[z, y, x]` index ranges of the voxels carrying `label`, if any.
pub(crate) fn label_bounding_box(labels: &Array3<u16>, label: u16) -> Option<[[usize; 2]; 3]> {
    diagnostics::bounding_box_where(labels, |l| l == label)
}

/// `f` of each element of `a` restricted to index ranges per axis `[z, y, x]`, in one pass
/// (no intermediate copy of the crop).
fn crop_map<T: Copy, U>(
    a: &Array3<T>,
    ranges: &[std::ops::Range<usize>; 3],
    f: impl Fn(T) -> U,
) -> Array3<U> {
    a.slice_each_axis(|ax| {
        let r = &ranges[ax.axis.index()];
        Slice::from(r.start..r.end)
    })
    .mapv(f)
}

/// Copy of `a` restricted to index ranges per axis `[z, y, x]`.
pub(crate) fn crop<T: Clone>(a: &Array3<T>, ranges: &[std::ops::Range<usize>; 3]) -> Array3<T> {
    a.slice_each_axis(|ax| {
        let r = &ranges[ax.axis.index()];
        Slice::from(r.start..r.end)
    })
    .to_owned()
}
