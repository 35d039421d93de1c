//! CT slices as pictures, with attribution heatmaps and mask outlines drawn on top.
//!
//! Conventions, chosen so that a radiologist reads the picture the way they read a workstation:
//!
//! * **Radiological display.** Axial slices are seen from the feet: the patient's right is on the
//!   image's left and anterior is up. Coronal slices are seen from the front (patient's right on
//!   the left, superior up). Sagittal slices have anterior on the left and superior up.
//! * **Orientation comes from the direction matrix**, not from array order: each view is built
//!   from the voxel axis closest to the patient axis it needs (LPS, as in
//!   [`oncolens_core::Geometry`]), flipped where that axis runs the other way. Under the identity
//!   direction x (column) runs to the patient's left, y (row) posterior and z (slice) superior,
//!   so an axial slice is the `[z]` plane of the array shown as stored, and the coronal and
//!   sagittal views put the last slice at the top. Oblique acquisitions are shown along their
//!   nearest patient axes without resampling to true anatomical planes.
//! * **Physical aspect ratio.** Output pixels are square in millimetres (by default the finest
//!   spacing among the axes shown), so a 2.5 mm slice spacing stretches a coronal view instead of
//!   squashing the anatomy.
//! * **Heatmaps** are scaled by a robust maximum (the 99th percentile of |value| over the non-zero
//!   voxels of the slices shown), so one hot voxel does not wash out the rest; values under
//!   `heat_threshold` of that scale are left transparent, so the anatomy under weak attributions
//!   stays readable.
//!
//! The pictures are plain RGB buffers ([`RgbImage`]) encoded with the `png` crate; no image
//! library is needed.

use std::path::Path;

use ndarray::{Array3, Axis};
use oncolens_core::label::GRID_TOLERANCE_MM;
use oncolens_core::{Geometry, LabelMap, Volume};

use crate::error::{ReportError, Result};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Default colour of the primary mask outline: saturated green stands out against grey
/// anatomy and against every heatmap colour map offered here.
pub const CONTOUR_GREEN: Rgb = [0, 255, 0];
/// A second outline colour that stays distinct from green for colour-blind readers.
pub const CONTOUR_MAGENTA: Rgb = [255, 0, 255];
/// A further outline colour (e.g. a reference segmentation).
pub const CONTOUR_CYAN: Rgb = [0, 230, 255];

/// Largest picture side, in pixels. Rendering a bigger one is an error rather than a silent
/// multi-gigabyte allocation (a mistyped `pixel_size_mm` or spacing would otherwise do that).
pub const MAX_SIDE_PX: usize = 8192;

/// Gap, in pixels, between the panels of [`render_three_views`].
pub const PANEL_GAP_PX: usize = 4;

/// An 8-bit RGB picture, rows top to bottom, 3 bytes per pixel.
///
/// The fields are private so that the buffer always holds exactly `width * height * 3` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl RgbImage {
    /// A picture filled with one colour.
    pub fn new(width: usize, height: usize, fill: Rgb) -> Result<Self> {
        check_side(width, height)?;
        let mut pixels = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            pixels.extend_from_slice(&fill);
        }
        Ok(RgbImage {
            width,
            height,
            pixels,
        })
    }

    /// Wraps an existing buffer (`width * height * 3` bytes, rows top to bottom).
    pub fn from_pixels(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self> {
        check_side(width, height)?;
        let want = width * height * 3;
        if pixels.len() != want {
            return Err(ReportError::PixelCount {
                width,
                height,
                got: pixels.len(),
                want,
            });
        }
        Ok(RgbImage {
            width,
            height,
            pixels,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    /// The raw bytes, `width * height * 3`, rows top to bottom.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// The colour at column `x`, row `y` (0 = top), if inside.
    pub fn get(&self, x: usize, y: usize) -> Option<Rgb> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// Sets one pixel; outside the picture nothing happens.
    pub fn set(&mut self, x: usize, y: usize, c: Rgb) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.pixels[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Copies `src` with its top-left corner at (`x0`, `y0`), clipped to this picture.
    fn blit(&mut self, src: &RgbImage, x0: usize, y0: usize) {
        for y in 0..src.height {
            for x in 0..src.width {
                if let Some(c) = src.get(x, y) {
                    self.set(x0 + x, y0 + y, c);
                }
            }
        }
    }

    /// PNG bytes of this picture; see [`to_png`].
    pub fn to_png(&self) -> Result<Vec<u8>> {
        to_png(self)
    }

    /// Writes the picture as a PNG file; see [`write_png`].
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<()> {
        write_png(self, path)
    }
}

fn check_side(width: usize, height: usize) -> Result<()> {
    if width > MAX_SIDE_PX || height > MAX_SIDE_PX {
        return Err(ReportError::TooLarge {
            width,
            height,
            max: MAX_SIDE_PX,
        });
    }
    Ok(())
}

/// Encodes the picture as an 8-bit RGB PNG.
///
/// Fails only for a picture with a zero side, which PNG cannot represent.
pub fn to_png(image: &RgbImage) -> Result<Vec<u8>> {
    let png_err = |e: png::EncodingError| ReportError::Png(e.to_string());
    if image.width == 0 || image.height == 0 {
        return Err(ReportError::Png(format!(
            "picture is {}x{} pixels; PNG needs at least 1x1",
            image.width, image.height
        )));
    }
    // Sides are at most MAX_SIDE_PX, so they fit in u32.
    let (w, h) = (image.width as u32, image.height as u32);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&image.pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

/// Writes the picture as a PNG file atomically (temporary sibling, then rename), so a crash
/// never leaves a truncated picture behind.
pub fn write_png(image: &RgbImage, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_png(image)?;
    oncolens_core::fs::write_atomic(path, &bytes).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Which anatomical plane to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SliceView {
    /// Transverse plane, seen from the feet.
    Axial,
    /// Frontal plane, seen from the front.
    Coronal,
    /// Side plane, anterior on the left.
    Sagittal,
}

/// Patient (LPS) axes.
const L: usize = 0;
const P: usize = 1;
const S: usize = 2;

impl SliceView {
    /// The three views in the order [`render_three_views`] places them.
    pub const ALL: [SliceView; 3] = [SliceView::Axial, SliceView::Coronal, SliceView::Sagittal];

    pub fn name(self) -> &'static str {
        match self {
            SliceView::Axial => "axial",
            SliceView::Coronal => "coronal",
            SliceView::Sagittal => "sagittal",
        }
    }

    /// (normal patient axis, (horizontal patient axis, sign of its direction when moving right),
    /// (vertical patient axis, sign of its direction when moving down)).
    fn layout(self) -> (usize, (usize, f64), (usize, f64)) {
        match self {
            // Right-to-left across (+L), anterior-to-posterior down (+P).
            SliceView::Axial => (S, (L, 1.0), (P, 1.0)),
            // Right-to-left across (+L), superior-to-inferior down (-S).
            SliceView::Coronal => (P, (L, 1.0), (S, -1.0)),
            // Anterior-to-posterior across (+P), superior-to-inferior down (-S).
            SliceView::Sagittal => (L, (P, 1.0), (S, -1.0)),
        }
    }

    /// The voxel axis (0 = x, 1 = y, 2 = z) that this view steps through, i.e. the axis the
    /// `index` of [`render_slice`] counts along: z for an axial view of a usual CT.
    pub fn slice_axis(self, geometry: &Geometry) -> usize {
        let (normal, _, _) = self.layout();
        axis_for_patient(geometry)[normal].0
    }
}

impl std::fmt::Display for SliceView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// For each patient axis (L, P, S): the voxel axis closest to it and the sign with which that
/// voxel axis runs along it. Chosen as the axis permutation with the largest total alignment, so
/// that the three views always use three different voxel axes, even for 45° obliques.
fn axis_for_patient(geometry: &Geometry) -> [(usize, f64); 3] {
    const PERMS: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let m = &geometry.direction.0;
    let mut best = PERMS[0];
    let mut best_score = f64::NEG_INFINITY;
    for perm in PERMS {
        // perm[p] = voxel axis used for patient axis p; m[p][a] = patient component p of axis a.
        let score: f64 = (0..3).map(|p| m[p][perm[p]].abs()).sum();
        if score > best_score + 1e-12 {
            best_score = score;
            best = perm;
        }
    }
    [0, 1, 2].map(|p| {
        let a = best[p];
        (a, if m[p][a] < 0.0 { -1.0 } else { 1.0 })
    })
}

/// How values are read between voxel centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Blocky but exact voxel values, for checking what a model saw.
    Nearest,
    /// Smooth, for reading anatomy.
    #[default]
    Bilinear,
}

/// Colour maps for attribution heatmaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Perceptually uniform black-purple-orange-yellow (matplotlib's inferno), for non-negative
    /// evidence (Grad-CAM, occlusion drop). Negative values are treated as no evidence.
    #[default]
    Inferno,
    /// The classic rainbow, because many published saliency figures use it; not perceptually
    /// uniform, prefer Inferno for new work. Negative values are treated as no evidence.
    Jet,
    /// Blue (negative) through white to red (positive), for signed attributions such as
    /// integrated gradients or SHAP, where evidence against the prediction matters too.
    Diverging,
}

/// Matplotlib's inferno sampled at every 16th of its 256 entries (index / 255, r, g, b).
const INFERNO: [(f32, [f32; 3]); 17] = [
    (0.0 / 255.0, [0.001462, 0.000466, 0.013866]),
    (16.0 / 255.0, [0.042253, 0.028139, 0.141141]),
    (32.0 / 255.0, [0.129285, 0.047293, 0.290788]),
    (48.0 / 255.0, [0.238273, 0.036621, 0.396353]),
    (64.0 / 255.0, [0.341500, 0.062325, 0.429425]),
    (80.0 / 255.0, [0.441207, 0.099338, 0.431594]),
    (96.0 / 255.0, [0.540920, 0.134729, 0.415123]),
    (112.0 / 255.0, [0.640135, 0.171438, 0.381065]),
    (128.0 / 255.0, [0.735683, 0.215906, 0.330245]),
    (144.0 / 255.0, [0.822386, 0.275197, 0.266085]),
    (160.0 / 255.0, [0.894305, 0.353399, 0.193584]),
    (176.0 / 255.0, [0.946965, 0.449191, 0.115272]),
    (192.0 / 255.0, [0.978422, 0.557937, 0.034931]),
    (208.0 / 255.0, [0.987874, 0.675267, 0.065257]),
    (224.0 / 255.0, [0.974638, 0.797692, 0.206332]),
    (240.0 / 255.0, [0.947594, 0.917399, 0.410665]),
    (1.0, [0.988362, 0.998364, 0.644924]),
];

/// ColorBrewer RdBu (5 classes), reversed so that positive is red: (position in [-1, 1], rgb).
const DIVERGING: [(f32, [f32; 3]); 5] = [
    (-1.0, [5.0 / 255.0, 113.0 / 255.0, 176.0 / 255.0]),
    (-0.5, [146.0 / 255.0, 197.0 / 255.0, 222.0 / 255.0]),
    (0.0, [247.0 / 255.0, 247.0 / 255.0, 247.0 / 255.0]),
    (0.5, [244.0 / 255.0, 165.0 / 255.0, 130.0 / 255.0]),
    (1.0, [202.0 / 255.0, 0.0, 32.0 / 255.0]),
];

fn piecewise(stops: &[(f32, [f32; 3])], t: f32) -> [f32; 3] {
    let Some(first) = stops.first() else {
        return [0.0; 3];
    };
    if t <= first.0 {
        return first.1;
    }
    for w in stops.windows(2) {
        let (t0, c0) = w[0];
        let (t1, c1) = w[1];
        if t <= t1 {
            let f = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
            return [0, 1, 2].map(|i| c0[i] + f * (c1[i] - c0[i]));
        }
    }
    stops.last().map_or([0.0; 3], |s| s.1)
}

impl Colormap {
    /// Colour of a value already divided by the heatmap scale (so mostly in [-1, 1]), in 0..=1
    /// floats.
    fn colour(self, m: f32) -> [f32; 3] {
        match self {
            Colormap::Inferno => piecewise(&INFERNO, m.clamp(0.0, 1.0)),
            Colormap::Jet => {
                let t = m.clamp(0.0, 1.0);
                let f = |c: f32| (1.5 - (4.0 * t - c).abs()).clamp(0.0, 1.0);
                [f(3.0), f(2.0), f(1.0)]
            }
            Colormap::Diverging => piecewise(&DIVERGING, m.clamp(-1.0, 1.0)),
        }
    }

    /// Strength of a scaled value for the transparency threshold: signed maps count both signs,
    /// the others only positive evidence.
    fn strength(self, m: f32) -> f32 {
        match self {
            Colormap::Diverging => m.abs(),
            Colormap::Inferno | Colormap::Jet => m,
        }
    }
}

/// What to draw and how. `Default` gives a soft-tissue window (centre 40 HU, width 400 HU),
/// no overlays, bilinear resampling.
#[derive(Debug, Clone, Copy)]
pub struct OverlayOptions<'a> {
    /// Centre of the grey-level window, in HU.
    pub window_center_hu: f32,
    /// Width of the grey-level window, in HU; must be > 0.
    pub window_width_hu: f32,
    /// Attribution map on the image's grid.
    pub heatmap: Option<&'a Volume<f32>>,
    /// Opacity of the heatmap where it is shown, 0..=1.
    pub heat_alpha: f32,
    pub heat_colormap: Colormap,
    /// Fraction of the heatmap scale below which the heatmap is transparent, 0..1.
    pub heat_threshold: f32,
    /// Fixed heatmap scale (value mapped to the top of the colour map). `None` uses the robust
    /// per-picture scale; set it to compare several pictures on one scale.
    pub heat_max: Option<f32>,
    /// Mask whose outline (label > 0) is drawn in `contour_colour`.
    pub contour: Option<&'a LabelMap>,
    pub contour_colour: Rgb,
    /// A second mask (e.g. the model's segmentation next to the reference) and its colour; drawn
    /// under the first outline where they coincide.
    pub second_contour: Option<(&'a LabelMap, Rgb)>,
    /// Resampling of the CT and the heatmap; masks are always sampled nearest-neighbour.
    pub interpolation: Interpolation,
    /// Output pixel size in millimetres; `None` uses the finest spacing of the axes shown.
    /// Smaller values give bigger pictures.
    pub pixel_size_mm: Option<f64>,
}

impl Default for OverlayOptions<'_> {
    fn default() -> Self {
        OverlayOptions {
            window_center_hu: 40.0,
            window_width_hu: 400.0,
            heatmap: None,
            heat_alpha: 0.5,
            heat_colormap: Colormap::Inferno,
            heat_threshold: 0.1,
            heat_max: None,
            contour: None,
            contour_colour: CONTOUR_GREEN,
            second_contour: None,
            interpolation: Interpolation::Bilinear,
            pixel_size_mm: None,
        }
    }
}

impl OverlayOptions<'_> {
    /// Rejects options that cannot produce a meaningful picture, before any work is done.
    fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, value: String, reason: &'static str| {
            Err(ReportError::InvalidOption {
                name,
                value,
                reason,
            })
        };
        if !self.window_center_hu.is_finite() {
            return bad(
                "window_center_hu",
                self.window_center_hu.to_string(),
                "must be finite",
            );
        }
        if !(self.window_width_hu.is_finite() && self.window_width_hu > 0.0) {
            return bad(
                "window_width_hu",
                self.window_width_hu.to_string(),
                "must be finite and > 0",
            );
        }
        if !(0.0..=1.0).contains(&self.heat_alpha) {
            return bad(
                "heat_alpha",
                self.heat_alpha.to_string(),
                "must be between 0 and 1",
            );
        }
        if !(0.0..1.0).contains(&self.heat_threshold) {
            return bad(
                "heat_threshold",
                self.heat_threshold.to_string(),
                "must be in [0, 1)",
            );
        }
        if let Some(m) = self.heat_max.filter(|m| !(m.is_finite() && *m > 0.0)) {
            return bad("heat_max", m.to_string(), "must be finite and > 0");
        }
        if let Some(px) = self.pixel_size_mm.filter(|p| !(p.is_finite() && *p > 0.0)) {
            return bad("pixel_size_mm", px.to_string(), "must be finite and > 0");
        }
        Ok(())
    }

    /// Errors unless every overlay sits on the image's grid.
    fn check_grids(&self, image: &Volume<f32>) -> Result<()> {
        let g = image.geometry();
        if let Some(h) = self.heatmap {
            check_grid("heatmap", g, h.geometry())?;
        }
        if let Some(c) = self.contour {
            check_grid("contour", g, c.geometry())?;
        }
        if let Some((c, _)) = self.second_contour {
            check_grid("second contour", g, c.geometry())?;
        }
        Ok(())
    }
}

fn check_grid(which: &'static str, image: &Geometry, other: &Geometry) -> Result<()> {
    if image.same_grid(other, GRID_TOLERANCE_MM) {
        Ok(())
    } else {
        Err(ReportError::GridMismatch {
            which,
            image_size: image.size,
            other_size: other.size,
            detail: other.describe_difference(image),
        })
    }
}

/// One display axis: which voxel axis it reads, and for each output pixel the continuous voxel
/// coordinate of its centre.
struct DisplayAxis {
    voxel_axis: usize,
    len: usize,
    coords: Vec<f64>,
}

impl DisplayAxis {
    /// Number of output pixels that cover `axis` at `px` millimetres per pixel (saturating, so an
    /// absurd request is caught by the size check instead of overflowing).
    fn pixel_count(geometry: &Geometry, axis: usize, px: f64) -> usize {
        let mm = geometry.size[axis] as f64 * geometry.spacing_mm[axis];
        ((mm / px).round() as usize).max(1)
    }

    fn new(geometry: &Geometry, (axis, sign): (usize, f64), want: f64, px: f64) -> Self {
        let len = geometry.size[axis];
        let spacing = geometry.spacing_mm[axis];
        let pixels = Self::pixel_count(geometry, axis, px);
        // Voxel centres sit at (i + 0.5) * spacing from the edge; pixel centres likewise.
        let forward = sign == want;
        let coords = (0..pixels)
            .map(|c| {
                let t = (c as f64 + 0.5) * px / spacing - 0.5;
                if forward { t } else { (len - 1) as f64 - t }
            })
            .collect();
        DisplayAxis {
            voxel_axis: axis,
            len,
            coords,
        }
    }

    /// Nearest voxel index for each pixel.
    fn nearest(&self) -> Vec<usize> {
        let max = self.len.saturating_sub(1);
        self.coords
            .iter()
            .map(|t| (t.round().max(0.0) as usize).min(max))
            .collect()
    }

    /// Two neighbouring voxel indices and the weight of the second, for each pixel; the edges
    /// repeat the outermost voxel.
    fn linear(&self) -> Vec<(usize, usize, f32)> {
        let max = self.len.saturating_sub(1);
        self.coords
            .iter()
            .map(|t| {
                let t = t.clamp(0.0, max as f64);
                let i0 = (t.floor() as usize).min(max);
                let i1 = (i0 + 1).min(max);
                (i0, i1, (t - i0 as f64) as f32)
            })
            .collect()
    }
}

/// The mapping from one view of one slice to output pixels.
struct Plane {
    slice_axis: usize,
    slice: usize,
    h: DisplayAxis,
    v: DisplayAxis,
}

impl Plane {
    fn new(geometry: &Geometry, view: SliceView, index: usize, px: f64) -> Result<Self> {
        let axes = axis_for_patient(geometry);
        let (normal, (h_axis, h_sign), (v_axis, v_sign)) = view.layout();
        let slice_axis = axes[normal].0;
        let len = geometry.size[slice_axis];
        if index >= len {
            return Err(ReportError::IndexOutOfRange {
                what: format!("{view} slice ({} axis)", AXIS_NAMES[slice_axis]),
                index,
                len,
            });
        }
        check_side(
            DisplayAxis::pixel_count(geometry, axes[h_axis].0, px),
            DisplayAxis::pixel_count(geometry, axes[v_axis].0, px),
        )?;
        let h = DisplayAxis::new(geometry, axes[h_axis], h_sign, px);
        let v = DisplayAxis::new(geometry, axes[v_axis], v_sign, px);
        Ok(Plane {
            slice_axis,
            slice: index,
            h,
            v,
        })
    }

    fn width(&self) -> usize {
        self.h.coords.len()
    }

    fn height(&self) -> usize {
        self.v.coords.len()
    }

    /// Array index `[z, y, x]` of in-plane voxel (`i` along the horizontal axis, `j` vertical).
    fn index(&self, i: usize, j: usize) -> [usize; 3] {
        let mut xyz = [0usize; 3];
        xyz[self.slice_axis] = self.slice;
        xyz[self.h.voxel_axis] = i;
        xyz[self.v.voxel_axis] = j;
        [xyz[2], xyz[1], xyz[0]]
    }

    /// The slice resampled to output pixels, row-major.
    fn sample_f32(&self, data: &Array3<f32>, interpolation: Interpolation) -> Vec<f32> {
        let at = |i: usize, j: usize| data.get(self.index(i, j)).copied().unwrap_or(f32::NAN);
        let mut out = Vec::with_capacity(self.width() * self.height());
        match interpolation {
            Interpolation::Nearest => {
                let (hs, vs) = (self.h.nearest(), self.v.nearest());
                for &j in &vs {
                    out.extend(hs.iter().map(|&i| at(i, j)));
                }
            }
            Interpolation::Bilinear => {
                let (hs, vs) = (self.h.linear(), self.v.linear());
                for &(j0, j1, wv) in &vs {
                    for &(i0, i1, wh) in &hs {
                        let top = lerp(at(i0, j0), at(i1, j0), wh);
                        let bottom = lerp(at(i0, j1), at(i1, j1), wh);
                        out.push(lerp(top, bottom, wv));
                    }
                }
            }
        }
        out
    }

    /// Which output pixels fall on a voxel with label > 0 (nearest neighbour, so the outline
    /// follows voxel boundaries exactly).
    fn sample_mask(&self, labels: &Array3<u16>) -> Vec<bool> {
        let (hs, vs) = (self.h.nearest(), self.v.nearest());
        let mut out = Vec::with_capacity(self.width() * self.height());
        for &j in &vs {
            out.extend(
                hs.iter()
                    .map(|&i| labels.get(self.index(i, j)).is_some_and(|l| *l > 0)),
            );
        }
        out
    }

    /// The voxel values of this slice (not resampled), for the heatmap scale.
    fn voxel_values<'d>(&self, data: &'d Array3<f32>) -> impl Iterator<Item = f32> + 'd {
        // Array axes are [z, y, x], so voxel axis a is array axis 2 - a.
        data.index_axis(Axis(2 - self.slice_axis), self.slice)
            .into_iter()
            .copied()
    }
}

const AXIS_NAMES: [&str; 3] = ["x", "y", "z"];

/// Linear interpolation that lets a NaN on a side with zero weight not spoil the result.
fn lerp(a: f32, b: f32, w: f32) -> f32 {
    if w <= 0.0 {
        a
    } else if w >= 1.0 {
        b
    } else {
        a + w * (b - a)
    }
}

/// The value the top of the colour map stands for: the 99th percentile of |value| over the
/// finite non-zero voxels, so isolated extremes do not wash the map out. `None` if there is no
/// such voxel (nothing to draw).
fn robust_scale(values: impl Iterator<Item = f32>) -> Option<f32> {
    let mut mags: Vec<f32> = values
        .filter(|v| v.is_finite() && *v != 0.0)
        .map(f32::abs)
        .collect();
    if mags.is_empty() {
        return None;
    }
    let k = ((mags.len() as f64 * 0.99).ceil() as usize)
        .saturating_sub(1)
        .min(mags.len() - 1);
    let (_, v, _) = mags.select_nth_unstable_by(k, f32::total_cmp);
    Some(*v)
}

/// Draws one plane: grey-level CT, heatmap (scaled by `heat_scale`), then outlines.
fn draw(
    image: &Volume<f32>,
    plane: &Plane,
    options: &OverlayOptions<'_>,
    heat_scale: Option<f32>,
) -> Result<RgbImage> {
    let (w, h) = (plane.width(), plane.height());
    let hu = plane.sample_f32(image.data(), options.interpolation);
    let lo = options.window_center_hu - options.window_width_hu / 2.0;
    let mut pixels = Vec::with_capacity(w * h * 3);
    for v in &hu {
        let g = ((v - lo) / options.window_width_hu).clamp(0.0, 1.0);
        let g = if g.is_nan() {
            0
        } else {
            (g * 255.0).round() as u8
        };
        pixels.extend_from_slice(&[g, g, g]);
    }
    let mut out = RgbImage::from_pixels(w, h, pixels)?;

    if let (Some(heat), Some(scale)) = (options.heatmap, heat_scale) {
        let values = plane.sample_f32(heat.data(), options.interpolation);
        let cmap = options.heat_colormap;
        let alpha = options.heat_alpha;
        for (p, v) in values.iter().enumerate() {
            let m = v / scale;
            if !m.is_finite() || cmap.strength(m) < options.heat_threshold {
                continue;
            }
            let c = cmap.colour(m);
            let px = &mut out.pixels[p * 3..p * 3 + 3];
            for (dst, src) in px.iter_mut().zip(c) {
                let blended = (1.0 - alpha) * f32::from(*dst) + alpha * src * 255.0;
                *dst = blended.round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    if let Some((mask, colour)) = options.second_contour {
        outline(&mut out, &plane.sample_mask(mask.data()), colour);
    }
    if let Some(mask) = options.contour {
        outline(
            &mut out,
            &plane.sample_mask(mask.data()),
            options.contour_colour,
        );
    }
    Ok(out)
}

/// Paints the 1-pixel inner border of `inside`: pixels inside whose 4-neighbour is outside (or
/// off the picture, so a mask touching the edge is still closed).
fn outline(img: &mut RgbImage, inside: &[bool], colour: Rgb) {
    let (w, h) = (img.width, img.height);
    let at = |x: usize, y: usize| inside.get(y * w + x).copied().unwrap_or(false);
    for y in 0..h {
        for x in 0..w {
            if !at(x, y) {
                continue;
            }
            let border = x == 0
                || y == 0
                || x + 1 == w
                || y + 1 == h
                || !at(x - 1, y)
                || !at(x + 1, y)
                || !at(x, y - 1)
                || !at(x, y + 1);
            if border {
                img.set(x, y, colour);
            }
        }
    }
}

fn check_not_empty(image: &Volume<f32>) -> Result<()> {
    let size = image.size();
    if size.contains(&0) {
        return Err(ReportError::EmptyImage(size));
    }
    Ok(())
}

fn finest_spacing(spacings: impl Iterator<Item = f64>) -> f64 {
    spacings.fold(f64::INFINITY, f64::min)
}

/// Renders one slice of `image` in radiological display with the overlays of `options`.
///
/// `index` counts along the voxel axis the view steps through ([`SliceView::slice_axis`]: the z
/// index for an axial view of a usual CT). Errors if the index is outside the volume, an overlay
/// is on another grid, or an option is out of range.
pub fn render_slice(
    image: &Volume<f32>,
    view: SliceView,
    index: usize,
    options: &OverlayOptions<'_>,
) -> Result<RgbImage> {
    options.validate()?;
    check_not_empty(image)?;
    options.check_grids(image)?;
    let g = image.geometry();
    let px = match options.pixel_size_mm {
        Some(px) => px,
        None => {
            let slice_axis = view.slice_axis(g);
            finest_spacing((0..3).filter(|a| *a != slice_axis).map(|a| g.spacing_mm[a]))
        }
    };
    let plane = Plane::new(g, view, index, px)?;
    let scale = heat_scale(options, std::slice::from_ref(&plane));
    draw(image, &plane, options, scale)
}

fn heat_scale(options: &OverlayOptions<'_>, planes: &[Plane]) -> Option<f32> {
    let heat = options.heatmap?;
    if let Some(m) = options.heat_max {
        return Some(m);
    }
    robust_scale(planes.iter().flat_map(|p| p.voxel_values(heat.data())))
}

/// Axial, coronal and sagittal slices through `centre_voxel` (`[x, y, z]` voxel indices), side
/// by side in that order on a black background, [`PANEL_GAP_PX`] apart.
///
/// All three share one pixel size (the finest spacing, unless `pixel_size_mm` is set) and one
/// heatmap scale, so sizes and colours compare across the panels; shorter panels are centred
/// vertically, which gives every panel the height of the tallest.
pub fn render_three_views(
    image: &Volume<f32>,
    centre_voxel: [usize; 3],
    options: &OverlayOptions<'_>,
) -> Result<RgbImage> {
    options.validate()?;
    check_not_empty(image)?;
    options.check_grids(image)?;
    let g = image.geometry();
    for (a, (&c, &n)) in centre_voxel.iter().zip(g.size.iter()).enumerate() {
        if c >= n {
            return Err(ReportError::IndexOutOfRange {
                what: format!("centre voxel {}", AXIS_NAMES[a]),
                index: c,
                len: n,
            });
        }
    }
    let px = options
        .pixel_size_mm
        .unwrap_or_else(|| finest_spacing(g.spacing_mm.iter().copied()));
    let planes = SliceView::ALL
        .iter()
        .map(|&view| Plane::new(g, view, centre_voxel[view.slice_axis(g)], px))
        .collect::<Result<Vec<_>>>()?;
    let scale = heat_scale(options, &planes);
    let panels = planes
        .iter()
        .map(|p| draw(image, p, options, scale))
        .collect::<Result<Vec<_>>>()?;
    let height = panels.iter().map(RgbImage::height).max().unwrap_or(1);
    let width = panels.iter().map(RgbImage::width).sum::<usize>()
        + PANEL_GAP_PX * panels.len().saturating_sub(1);
    let mut out = RgbImage::new(width, height, [0, 0, 0])?;
    let mut x = 0;
    for p in &panels {
        out.blit(p, x, (height - p.height()) / 2);
        x += p.width() + PANEL_GAP_PX;
    }
    Ok(out)
}

/// The voxel `[x, y, z]` nearest the centroid of the voxels with label > 0, to centre
/// [`render_three_views`] on a lesion; `None` for an empty mask.
pub fn mask_centre(mask: &LabelMap) -> Option<[usize; 3]> {
    let mut sum = [0.0f64; 3];
    let mut n = 0usize;
    for ((z, y, x), l) in mask.data().indexed_iter() {
        if *l > 0 {
            sum[0] += x as f64;
            sum[1] += y as f64;
            sum[2] += z as f64;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    Some(sum.map(|s| (s / n as f64).round() as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncolens_core::Direction;

    fn vol(size: [usize; 3], spacing: [f64; 3], dir: Direction) -> Volume<f32> {
        let g = Geometry::new(size, spacing, [0.0; 3], dir).unwrap();
        Volume::new(Array3::zeros((size[2], size[1], size[0])), g).unwrap()
    }

    #[test]
    fn robust_scale_ignores_one_outlier() {
        let mut v = vec![1.0f32; 999];
        v.push(1000.0);
        assert_eq!(robust_scale(v.into_iter()), Some(1.0));
        assert_eq!(robust_scale([0.0f32, f32::NAN].into_iter()), None);
        assert_eq!(robust_scale([-3.0f32].into_iter()), Some(3.0));
    }

    #[test]
    fn colormaps_hit_their_ends() {
        let c = Colormap::Inferno.colour(1.0);
        assert!((c[0] - 0.988362).abs() < 1e-6);
        assert_eq!(Colormap::Diverging.colour(-5.0), DIVERGING[0].1);
        let j = Colormap::Jet.colour(0.0);
        assert_eq!(j, [0.0, 0.0, 0.5]);
    }

    #[test]
    fn flipped_direction_still_shows_patient_right_on_the_left() {
        // x axis runs to the patient's right: voxel x = last is then the patient's right side.
        let dir = Direction::from_axes([-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]);
        let mut v = vol([5, 3, 2], [1.0; 3], dir);
        v.data_mut()[[0, 1, 4]] = 1000.0;
        let opts = OverlayOptions {
            interpolation: Interpolation::Nearest,
            ..Default::default()
        };
        let img = render_slice(&v, SliceView::Axial, 0, &opts).unwrap();
        assert_eq!(img.get(0, 1), Some([255; 3]));
        // 0 HU in the 40/400 window.
        assert_eq!(img.get(4, 1), Some([102; 3]));
    }

    #[test]
    fn permuted_axes_pick_the_right_slice_axis() {
        // A coronal acquisition: k runs posterior, j runs inferior.
        let dir = Direction::from_axes([1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]);
        let g = Geometry::new([4, 5, 6], [1.0; 3], [0.0; 3], dir).unwrap();
        assert_eq!(SliceView::Axial.slice_axis(&g), 1);
        assert_eq!(SliceView::Coronal.slice_axis(&g), 2);
        assert_eq!(SliceView::Sagittal.slice_axis(&g), 0);
    }

    #[test]
    fn bad_options_are_rejected() {
        let v = vol([2, 2, 2], [1.0; 3], Direction::identity());
        for opts in [
            OverlayOptions {
                window_width_hu: 0.0,
                ..Default::default()
            },
            OverlayOptions {
                heat_alpha: f32::NAN,
                ..Default::default()
            },
            OverlayOptions {
                pixel_size_mm: Some(-1.0),
                ..Default::default()
            },
        ] {
            let err = render_slice(&v, SliceView::Axial, 0, &opts).unwrap_err();
            assert!(matches!(err, ReportError::InvalidOption { .. }), "{err}");
        }
        let tiny = OverlayOptions {
            pixel_size_mm: Some(1e-6),
            ..Default::default()
        };
        assert!(matches!(
            render_slice(&v, SliceView::Axial, 0, &tiny),
            Err(ReportError::TooLarge { .. })
        ));
    }

    #[test]
    fn hand_built_bad_geometry_does_not_panic() {
        // Geometry's fields are public, so its checks can be bypassed.
        for spacing in [[0.0, 1.0, 1.0], [f64::NAN, 1.0, 1.0], [1e300, 1.0, 1.0]] {
            let g = Geometry {
                size: [3, 3, 3],
                spacing_mm: spacing,
                origin_mm: [0.0; 3],
                direction: Direction([[f64::NAN; 3]; 3]),
            };
            let v = Volume::new(Array3::<f32>::zeros((3, 3, 3)), g).unwrap();
            for view in SliceView::ALL {
                let _ = render_slice(&v, view, 1, &OverlayOptions::default());
            }
            let _ = render_three_views(&v, [1, 1, 1], &OverlayOptions::default());
        }
    }

    #[test]
    fn zero_sided_picture_is_a_png_error_not_a_panic() {
        let img = RgbImage::new(0, 3, [0; 3]).unwrap();
        assert!(matches!(to_png(&img), Err(ReportError::Png(_))));
        assert!(RgbImage::from_pixels(2, 2, vec![0; 5]).is_err());
    }
}
