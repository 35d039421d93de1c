//! IBSI diagnostic values (image and ROI size, spacing and intensities after each step), keyed
//! by the IBSI reference tags (`img_dim_x_init_img`, `int_mask_mean_int_reseg_roi`, ...).
//!
//! They are what IBSI asks implementers to compare first: a wrong resampling grid shows up here
//! long before it shows up as a slightly-off texture feature.

use std::collections::BTreeMap;

use ndarray::Array3;

/// Diagnostic values by IBSI tag.
pub type Diagnostics = BTreeMap<String, f64>;

/// Records dimensions, spacing and intensity mean/min/max of a whole image (`suffix` is
/// `init_img` or `interp_img`).
pub fn record_image(d: &mut Diagnostics, suffix: &str, image: &Array3<f64>, spacing_mm: [f64; 3]) {
    let (nz, ny, nx) = image.dim();
    record_image_stats(
        d,
        suffix,
        [nz, ny, nx],
        spacing_mm,
        mean_min_max(image.iter().copied()),
    );
}

/// [`record_image`] from precomputed `(mean, min, max)` of an image of size `dims` (`[z, y, x]`),
/// so the input image need not be converted to `f64` as a whole.
pub fn record_image_stats(
    d: &mut Diagnostics,
    suffix: &str,
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    (mean, min, max): (f64, f64, f64),
) {
    let [nz, ny, nx] = dims;
    for (axis, n, s) in [
        ("x", nx, spacing_mm[0]),
        ("y", ny, spacing_mm[1]),
        ("z", nz, spacing_mm[2]),
    ] {
        d.insert(format!("img_dim_{axis}_{suffix}"), n as f64);
        d.insert(format!("vox_dim_{axis}_{suffix}"), s);
    }
    d.insert(format!("mean_int_{suffix}"), mean);
    d.insert(format!("min_int_{suffix}"), min);
    d.insert(format!("max_int_{suffix}"), max);
}

/// Copies the entries [`record_roi`] made under suffix `from` to suffix `to` (for a step that
/// left the image and both masks as they were).
pub fn copy_roi(d: &mut Diagnostics, from: &str, to: &str) {
    let tail = format!("_{from}");
    let copies: Vec<(String, f64)> = d
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("int_mask_") || k.starts_with("morph_mask_")) && k.ends_with(&tail)
        })
        .map(|(k, v)| (format!("{}_{to}", &k[..k.len() - tail.len()]), *v))
        .collect();
    d.extend(copies);
}

/// Records the intensity and morphological masks (`suffix` is `init_roi`, `interp_roi` or
/// `reseg_roi`).
///
/// `full_dims` (`[z, y, x]`) is the size of the whole image grid when the arrays passed are a
/// crop of it (the crop must hold every ROI voxel; bounding boxes, counts and intensities do
/// not change); `None` means the arrays are the whole grid.
pub fn record_roi(
    d: &mut Diagnostics,
    suffix: &str,
    image: &Array3<f64>,
    int_mask: &Array3<bool>,
    morph_mask: &Array3<bool>,
    full_dims: Option<[usize; 3]>,
) {
    let [nz, ny, nx] = full_dims.unwrap_or_else(|| {
        let (z, y, x) = int_mask.dim();
        [z, y, x]
    });
    // One mask serving as both (before re-segmentation): one pass for each statistic.
    let same = std::ptr::eq(int_mask, morph_mask);
    let int_bb = bounding_box(int_mask);
    let morph_bb = if same {
        int_bb
    } else {
        bounding_box(morph_mask)
    };
    for (a, axis, n) in [(2usize, "x", nx), (1, "y", ny), (0, "z", nz)] {
        d.insert(format!("int_mask_dim_{axis}_{suffix}"), n as f64);
        let extent =
            |bb: &Option<[[usize; 2]; 3]>| bb.map_or(0.0, |b| (b[a][1] - b[a][0] + 1) as f64);
        d.insert(format!("int_mask_bb_dim_{axis}_{suffix}"), extent(&int_bb));
        d.insert(
            format!("morph_mask_bb_dim_{axis}_{suffix}"),
            extent(&morph_bb),
        );
    }
    let count = |m: &Array3<bool>| m.iter().filter(|v| **v).count() as f64;
    let int_count = count(int_mask);
    let morph_count = if same { int_count } else { count(morph_mask) };
    d.insert(format!("int_mask_vox_count_{suffix}"), int_count);
    d.insert(format!("morph_mask_vox_count_{suffix}"), morph_count);
    let values = image
        .iter()
        .zip(int_mask.iter())
        .filter(|(_, m)| **m)
        .map(|(v, _)| *v);
    let (mean, min, max) = mean_min_max(values);
    d.insert(format!("int_mask_mean_int_{suffix}"), mean);
    d.insert(format!("int_mask_min_int_{suffix}"), min);
    d.insert(format!("int_mask_max_int_{suffix}"), max);
}

/// Mean, minimum and maximum (NaN for an empty sequence).
pub fn mean_min_max(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let (mut sum, mut n, mut min, mut max) = (0.0, 0usize, f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        sum += v;
        n += 1;
        min = min.min(v);
        max = max.max(v);
    }
    if n == 0 {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        (sum / n as f64, min, max)
    }
}

/// Inclusive `[lo, hi]` index range per array axis `[z, y, x]` of the true voxels, if any.
pub fn bounding_box(mask: &Array3<bool>) -> Option<[[usize; 2]; 3]> {
    bounding_box_where(mask, |m| m)
}

/// The elements of `a` in standard (`[z, y, x]`, x fastest) order as one slice: borrowed when
/// `a` is already laid out so, else copied.
pub fn contiguous<T: Clone>(a: &Array3<T>) -> std::borrow::Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().cloned().collect()),
    }
}

/// Inclusive `[lo, hi]` index range per array axis `[z, y, x]` of the voxels where `hit`, if any.
///
/// Row by row over contiguous memory, with a branch-free "any" per row first (it vectorises):
/// this runs on whole masks and several times per extraction, where per-voxel indexed iteration
/// was a visible share of the preparation.
pub fn bounding_box_where<T: Copy>(
    a: &Array3<T>,
    hit: impl Fn(T) -> bool + Copy,
) -> Option<[[usize; 2]; 3]> {
    let (_, ny, nx) = a.dim();
    let data = contiguous(a);
    let mut bb: Option<[[usize; 2]; 3]> = None;
    for (r, row) in data.chunks_exact(nx.max(1)).enumerate() {
        if !row.iter().fold(false, |any, v| any | hit(*v)) {
            continue;
        }
        let (z, y) = (r / ny.max(1), r % ny.max(1));
        let first = row.iter().position(|v| hit(*v)).unwrap_or(0);
        let last = row.iter().rposition(|v| hit(*v)).unwrap_or(first);
        let b = bb.get_or_insert([[z, z], [y, y], [first, last]]);
        b[0] = [b[0][0].min(z), b[0][1].max(z)];
        b[1] = [b[1][0].min(y), b[1][1].max(y)];
        b[2] = [b[2][0].min(first), b[2][1].max(last)];
    }
    bb
}
