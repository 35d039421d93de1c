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

/// What the preparation needs to know of a whole image when it is given only a region of it
/// ([`region_for`]): its size and the `init_img` statistics, gathered while the image was read
/// ([`WholeImageStream`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WholeImage {
    /// Size `[z, y, x]` of the whole grid.
    pub dims_zyx: [usize; 3],
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

/// Runs the preparation chain on `label` of `mask` over `image`.
pub fn prepare(
    image: &Volume<f32>,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Result<PreparedRoi, RadiomicsError> {
    prepare_with(image, mask, label, settings, None)
}

/// The part of the grid (`[z, y, x]` index ranges) that the preparation of `label` reads when
/// nothing is resampled: the label's bounding box widened by the local-intensity margin. `None`
/// when the settings resample (the IBSI grid is laid over the whole image) or the label is
/// absent. [`extract_region`](crate::extract_region) on this region of the image and the mask
/// gives the same features as [`extract`](crate::extract) on the whole of them.
pub fn region_for(
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
) -> Option<[std::ops::Range<usize>; 3]> {
    if settings.resampling.spacing_mm.is_some() || label == 0 {
        return None;
    }
    let lbb = label_bounding_box(mask.data(), label)?;
    let (nz, ny, nx) = mask.data().dim();
    region_for_box(lbb, [nz, ny, nx], mask.geometry().spacing_mm, settings)
}

/// [`region_for`] from the label's bounding box (`[z, y, x]`, inclusive index bounds) on a grid
/// of `dims_zyx` voxels of `spacing_mm` (`[x, y, z]`), for a reader that finds the box while it
/// streams the mask. `None` when the settings resample.
pub fn region_for_box(
    bounding_box_zyx: [[usize; 2]; 3],
    dims_zyx: [usize; 3],
    spacing_mm: [f64; 3],
    settings: &Settings,
) -> Option<[std::ops::Range<usize>; 3]> {
    if settings.resampling.spacing_mm.is_some() {
        return None;
    }
    Some(margin_ranges(
        bounding_box_zyx,
        local_intensity_radius_mm(settings),
        spacing_mm,
        dims_zyx,
    ))
}

/// Radius of the local-intensity sphere, the margin the crop keeps around the ROI; 0 when the
/// local-intensity features are not computed (nothing else reads voxels outside the ROI's box,
/// so the crop is then the box plus the one-voxel border the mesh needs).
fn local_intensity_radius_mm(settings: &Settings) -> f64 {
    if !settings.local_intensity.enabled {
        return 0.0;
    }
    (3.0 * settings.local_intensity.sphere_volume_cm3 * 1000.0 / (4.0 * std::f64::consts::PI))
        .cbrt()
}

/// [`prepare`], or, with `whole`, the same chain on a region of an image (see [`region_for`])
/// whose whole-image facts are given instead of read.
pub(crate) fn prepare_with(
    image: &Volume<f32>,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
    whole: Option<&WholeImage>,
) -> Result<PreparedRoi, RadiomicsError> {
    settings.validate()?;
    if whole.is_some() && settings.resampling.spacing_mm.is_some() {
        return Err(RadiomicsError::InvalidSetting {
            field: "resampling.spacing_mm",
            reason: "an image region can only be analysed without resampling (the IBSI grid \
                     is laid over the whole image)"
                .into(),
        });
    }
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
    let (full_dims, init_stats) = match whole {
        Some(w) => (w.dims_zyx, (w.mean, w.min, w.max)),
        None => {
            let (nz, ny, nx) = image.data().dim();
            // One pass over the whole image, in f32: finiteness and the `init_img` statistics.
            // Nothing else reads the whole image unless it is resampled.
            ([nz, ny, nx], whole_image_stats(image.data())?)
        }
    };
    let mut diag = Diagnostics::new();
    diagnostics::record_image_stats(&mut diag, "init_img", full_dims, spacing_init, init_stats);
    let radius_mm = local_intensity_radius_mm(settings);

    // `crop_dims`: the whole grid's size when the arrays below are a crop of it.
    let (img, morph_mask, spacing_mm, crop_dims) = match settings.resampling.spacing_mm {
        None => {
            // Without interpolation every later step reads only the ROI and, for the
            // local-intensity peak, a sphere around it: crop to the label's bounding box plus
            // that margin (the same crop as below) before converting to f64, so the cost no
            // longer scales with the whole image.
            let labels = mask.data();
            let (nz, ny, nx) = labels.dim();
            let ranges = margin_ranges(lbb, radius_mm, spacing_init, [nz, ny, nx]);
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
    // Without resampling the arrays are those of `init_roi`, and without re-segmentation the
    // intensity mask is the morphological one: the same diagnostics under the next name.
    if settings.resampling.spacing_mm.is_none() {
        diagnostics::copy_roi(&mut diag, "init_roi", "interp_roi");
    } else {
        diagnostics::record_roi(
            &mut diag,
            "interp_roi",
            &img,
            &morph_mask,
            &morph_mask,
            crop_dims,
        );
    }

    let mut int_mask = morph_mask.clone();
    let r = &settings.resegmentation;
    if r.range_min.is_none() && r.range_max.is_none() && r.outlier_sigma.is_none() {
        diagnostics::copy_roi(&mut diag, "interp_roi", "reseg_roi");
    } else {
        resegment::resegment(&img, &mut int_mask, r);
        diagnostics::record_roi(
            &mut diag,
            "reseg_roi",
            &img,
            &int_mask,
            &morph_mask,
            crop_dims,
        );
    }
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
    // Without resampling the arrays are already this crop (the same box and margin).
    let covers_all = ranges
        .iter()
        .zip([dz, dy, dx])
        .all(|(r, n)| r.start == 0 && r.end == n);
    let (image, morph_mask, int_mask) = if covers_all {
        (img, morph_mask, int_mask)
    } else {
        (
            crop(&img, &ranges),
            crop(&morph_mask, &ranges),
            crop(&int_mask, &ranges),
        )
    };

    let values: Vec<f64> = image
        .iter()
        .zip(int_mask.iter())
        .filter(|(_, m)| **m)
        .map(|(v, _)| *v)
        .collect();
    let discretised =
        discretise::discretise(&values, &settings.discretisation, &settings.resegmentation)?;
    discretise::check_grey_levels(&discretised, &settings.discretisation)?;
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

/// Mean, minimum and maximum of the whole image, or the first non-finite value.
///
/// This is the one pass over the whole image when nothing is resampled, so it is written to
/// vectorise (eight independent lanes, no branch per voxel) and runs over blocks in parallel.
/// A non-finite voxel makes the `f64` sum non-finite (finite `f32` values cannot overflow it),
/// and only then is it searched for.
fn whole_image_stats(data: &Array3<f32>) -> Result<(f64, f64, f64), RadiomicsError> {
    let values = diagnostics::contiguous(data);
    let values: &[f32] = &values;
    use rayon::prelude::*;
    // Per-block results collected in order and combined sequentially: the same sum, to the
    // last bit, whatever the thread count (and the same as [`WholeImageStream`]).
    let blocks: Vec<Lanes> = values.par_chunks(STATS_BLOCK).map(Lanes::of).collect();
    let mut total = Lanes::EMPTY;
    for b in &blocks {
        total.add(b);
    }
    if !total.sum().is_finite()
        && let Some(v) = values.iter().find(|v| !v.is_finite())
    {
        return Err(RadiomicsError::NonFiniteIntensity { value: *v });
    }
    Ok(total.finish(values.len()))
}

/// Voxels per block of the whole-image statistics.
const STATS_BLOCK: usize = 1 << 18;
const LANES: usize = 8;

/// Sum, minimum and maximum in eight independent lanes (no branch per voxel, so it vectorises).
/// A non-finite voxel makes the `f64` sum non-finite (finite `f32` values cannot overflow it),
/// and only then is it searched for.
#[derive(Debug, Clone, Copy)]
struct Lanes {
    sum: [f64; LANES],
    lo: [f32; LANES],
    hi: [f32; LANES],
}

impl Lanes {
    const EMPTY: Lanes = Lanes {
        sum: [0.0; LANES],
        lo: [f32::INFINITY; LANES],
        hi: [f32::NEG_INFINITY; LANES],
    };

    // Indexing the eight lanes by position is what lets the loop vectorise.
    #[allow(clippy::needless_range_loop)]
    fn of(block: &[f32]) -> Lanes {
        let mut l = Lanes::EMPTY;
        let mut groups = block.chunks_exact(LANES);
        for g in &mut groups {
            for k in 0..LANES {
                let v = g[k];
                l.sum[k] += f64::from(v);
                l.lo[k] = if v < l.lo[k] { v } else { l.lo[k] };
                l.hi[k] = if v > l.hi[k] { v } else { l.hi[k] };
            }
        }
        for (k, v) in groups.remainder().iter().enumerate() {
            l.sum[k] += f64::from(*v);
            l.lo[k] = l.lo[k].min(*v);
            l.hi[k] = l.hi[k].max(*v);
        }
        l
    }

    fn add(&mut self, o: &Lanes) {
        for k in 0..LANES {
            self.sum[k] += o.sum[k];
            self.lo[k] = self.lo[k].min(o.lo[k]);
            self.hi[k] = self.hi[k].max(o.hi[k]);
        }
    }

    fn sum(&self) -> f64 {
        self.sum.iter().sum()
    }

    fn finish(&self, n: usize) -> (f64, f64, f64) {
        let min = self.lo.iter().copied().fold(f32::INFINITY, f32::min);
        let max = self.hi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        (self.sum() / n.max(1) as f64, f64::from(min), f64::from(max))
    }
}

/// The `init_img` statistics of an image fed in file order, block by block as a reader decodes
/// it, so that the image itself need not be kept ([`region_for`]). The result is bit-identical
/// to the pass [`prepare`] makes over an image in memory, whatever the block sizes fed.
#[derive(Debug, Clone)]
pub struct WholeImageStream {
    pending: Vec<f32>,
    total: Lanes,
    count: usize,
    first_non_finite: Option<f32>,
}

impl Default for WholeImageStream {
    fn default() -> Self {
        Self::new()
    }
}

impl WholeImageStream {
    pub fn new() -> Self {
        Self {
            pending: Vec::with_capacity(STATS_BLOCK),
            total: Lanes::EMPTY,
            count: 0,
            first_non_finite: None,
        }
    }

    /// Adds the next voxels of the image (file order).
    pub fn push(&mut self, mut values: &[f32]) {
        while !values.is_empty() {
            if self.pending.is_empty() && values.len() >= STATS_BLOCK {
                let (block, rest) = values.split_at(STATS_BLOCK);
                self.close(block);
                values = rest;
                continue;
            }
            let take = (STATS_BLOCK - self.pending.len()).min(values.len());
            self.pending.extend_from_slice(&values[..take]);
            values = &values[take..];
            if self.pending.len() == STATS_BLOCK {
                let block = std::mem::take(&mut self.pending);
                self.close(&block);
                self.pending = block;
                self.pending.clear();
            }
        }
    }

    fn close(&mut self, block: &[f32]) {
        let lanes = Lanes::of(block);
        if self.first_non_finite.is_none() && !lanes.sum().is_finite() {
            self.first_non_finite = block.iter().copied().find(|v| !v.is_finite());
        }
        self.total.add(&lanes);
        self.count += block.len();
    }

    /// The whole image's facts, given its size `[z, y, x]` (which must account for every voxel
    /// pushed), or the first non-finite intensity.
    pub fn finish(mut self, dims_zyx: [usize; 3]) -> Result<WholeImage, RadiomicsError> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.close(&rest);
        }
        if let Some(value) = self.first_non_finite {
            return Err(RadiomicsError::NonFiniteIntensity { value });
        }
        if dims_zyx.iter().product::<usize>() != self.count {
            return Err(RadiomicsError::InvalidSetting {
                field: "image",
                reason: format!("{} voxels were read for a {dims_zyx:?} grid", self.count),
            });
        }
        let (mean, min, max) = self.total.finish(self.count);
        Ok(WholeImage {
            dims_zyx,
            mean,
            min,
            max,
        })
    }
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
