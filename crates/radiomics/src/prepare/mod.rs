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
    if label == 0 || mask.count(label) == 0 {
        return Err(RadiomicsError::EmptyMask {
            label,
            present: mask.labels_present(),
        });
    }
    if let Some(bad) = image.data().iter().find(|v| !v.is_finite()) {
        return Err(RadiomicsError::NonFiniteIntensity { value: *bad });
    }
    let spacing_init = image.spacing_mm();
    let img0 = image.data().mapv(f64::from);
    let roi0 = mask.data().mapv(|l| l == label);
    let mut diag = Diagnostics::new();
    diagnostics::record_image(&mut diag, "init_img", &img0, spacing_init);
    diagnostics::record_roi(&mut diag, "init_roi", &img0, &roi0, &roi0);

    let (img, morph_mask, spacing_mm) = match settings.resampling.spacing_mm {
        None => (img0, roi0, spacing_init),
        Some(target) => {
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
            (img, roi_f.mapv(|v| v >= threshold), map.spacing_mm)
        }
    };
    if !morph_mask.iter().any(|m| *m) {
        return Err(RadiomicsError::EmptyRoi {
            step: "mask interpolation",
        });
    }
    diagnostics::record_image(&mut diag, "interp_img", &img, spacing_mm);
    diagnostics::record_roi(&mut diag, "interp_roi", &img, &morph_mask, &morph_mask);

    let mut int_mask = morph_mask.clone();
    resegment::resegment(&img, &mut int_mask, &settings.resegmentation);
    diagnostics::record_roi(&mut diag, "reseg_roi", &img, &int_mask, &morph_mask);
    if !int_mask.iter().any(|m| *m) {
        return Err(RadiomicsError::EmptyRoi {
            step: "re-segmentation",
        });
    }

    // Crop around the ROI: the margin covers the local-intensity sphere radius.
    let bb = diagnostics::bounding_box(&morph_mask).ok_or(RadiomicsError::EmptyRoi {
        step: "mask interpolation",
    })?;
    let radius_mm = (3.0 * settings.local_intensity.sphere_volume_cm3 * 1000.0
        / (4.0 * std::f64::consts::PI))
        .cbrt();
    let dims = img.dim();
    let dims = [dims.0, dims.1, dims.2];
    let spacing_zyx = [spacing_mm[2], spacing_mm[1], spacing_mm[0]];
    let range = |a: usize| {
        let margin = (radius_mm / spacing_zyx[a]).ceil() as usize + 1;
        (
            bb[a][0].saturating_sub(margin),
            (bb[a][1] + margin + 1).min(dims[a]),
        )
    };
    let (z, y, x) = (range(0), range(1), range(2));
    let ranges = [z.0..z.1, y.0..y.1, x.0..x.1];
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
        [z.0, y.0, x.0],
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

/// Copy of `a` restricted to index ranges per axis `[z, y, x]`.
fn crop<T: Clone>(a: &Array3<T>, ranges: &[std::ops::Range<usize>; 3]) -> Array3<T> {
    a.slice_each_axis(|ax| {
        let r = &ranges[ax.axis.index()];
        Slice::from(r.start..r.end)
    })
    .to_owned()
}
