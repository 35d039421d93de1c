//! Reading a cohort into what training needs: one image crop per patient (computed once, in
//! Hounsfield units, on a fixed physical grid), the clinical record, the report and the omics
//! profile. Full volumes are dropped after cropping, so a cohort of hundreds of CTs fits in a
//! few hundred megabytes.

use std::path::PathBuf;

use oncolens_core::{
    ClinicalRecord, Cohort, CohortEntry, Geometry, LabelMap, OmicsProfile, Volume,
};
use oncolens_records::omics::ExpressionTable;
use oncolens_transforms::{CropSpec, centroid_mm, crop_around, grid_centered_at, resample_to_grid};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// How the image modality is turned into a fixed-size model input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageInput {
    /// A cube around the lesion-mask centroid (organ mask, then image centre, when absent).
    LesionCrop(CropSpec),
    /// The whole volume resampled to `side^3` voxels (for sets without lesion masks, such as
    /// MedMNIST).
    Whole { side: usize },
}

impl ImageInput {
    /// The default for CT cohorts: 32^3 voxels of 3 mm (a 96 mm cube: renal masses up to 8 cm).
    pub const DEFAULT_CROP: Self = ImageInput::LesionCrop(CropSpec {
        side: 32,
        spacing_mm: 3.0,
    });

    pub fn side(&self) -> usize {
        match self {
            ImageInput::LesionCrop(c) => c.side,
            ImageInput::Whole { side } => *side,
        }
    }
}

/// Where the crop came from: enough to put a heatmap back onto the patient's image.
#[derive(Debug, Clone, PartialEq)]
pub struct CropOrigin {
    /// Grid of the crop in the patient's physical space.
    pub grid: Geometry,
    /// How the centre was chosen: `lesion_mask`, `organ_mask` or `image_centre`.
    pub centred_on: &'static str,
}

/// One patient, ready for preprocessing.
#[derive(Debug, Clone)]
pub struct PreparedCase {
    pub id: String,
    pub site: String,
    pub label: Option<u8>,
    pub split: Option<String>,
    pub dir: PathBuf,
    /// Crop intensities (`side^3`, z-y-x order) in the scan's units (HU for CT).
    pub image: Option<Vec<f32>>,
    /// The lesion mask on the crop grid (trilinear, so partial-volume fractions in [0, 1]).
    pub lesion: Option<Vec<f32>>,
    pub crop: Option<CropOrigin>,
    /// Radiomic features of the lesion on the full-resolution image ([`LESION_FEATURES`]),
    /// when the case has an image and a non-empty lesion mask on its grid.
    pub lesion_radiomics: Option<Vec<f64>>,
    pub clinical: Option<ClinicalRecord>,
    pub report: Option<String>,
    pub omics: Option<OmicsProfile>,
}

/// The lesion's radiomic features that enter the image encoder, in input order (IBSI tags;
/// `stat_sd` is the square root of IBSI `stat_var`). Each reads one image factor a
/// radiologist weighs: size (the logarithm of the mesh volume, as lesion size acts on
/// malignancy multiplicatively), margin (sphericity), enhancement (mean) and heterogeneity
/// (spread of the intensities).
pub const LESION_FEATURES: [&str; 4] = [
    "log_morph_volume",
    "morph_sphericity",
    "stat_mean",
    "stat_sd",
];

/// [`LESION_FEATURES`] of the voxels of `mask` that are not 0, on the full-resolution image:
/// shape through `oncolens-radiomics` (PyRadiomics' settings: the native grid, mesh from
/// marching cubes), intensities over the mask's voxels. `None` when the mask is empty, is on
/// another grid, or its mesh is degenerate.
pub fn lesion_radiomics(image: &Volume<f32>, mask: &LabelMap) -> Option<Vec<f64>> {
    if mask.data().dim() != image.data().dim() {
        return None;
    }
    let (mut n, mut sum, mut sum_sq) = (0usize, 0.0f64, 0.0f64);
    for (&v, &l) in image.data().iter().zip(mask.data().iter()) {
        if l != 0 {
            let v = f64::from(v);
            n += 1;
            sum += v;
            sum_sq += v * v;
        }
    }
    if n == 0 {
        return None;
    }
    let binary = LabelMap::new(
        mask.data().mapv(|l| u16::from(l != 0)),
        mask.geometry().clone(),
    )
    .ok()?;
    let settings = oncolens_radiomics::Settings::pyradiomics();
    let shape = oncolens_radiomics::extract_shape(&binary, 1, &settings).ok()?;
    let value = |name: &str| shape.get(name).map(|f| f.value).filter(|v| v.is_finite());
    let volume_mm3 = value("morph_volume").filter(|v| *v > 0.0)?;
    let sphericity = value("morph_sphericity")?;
    let mean = sum / n as f64;
    let sd = (sum_sq / n as f64 - mean * mean).max(0.0).sqrt();
    Some(vec![volume_mm3.ln(), sphericity, mean, sd])
}

fn whole_grid(g: &Geometry, side: usize) -> Result<Geometry, TrainError> {
    let extent: [f64; 3] = std::array::from_fn(|i| g.size[i] as f64 * g.spacing_mm[i]);
    let spacing = extent.map(|e| e / side as f64);
    let centre = g.index_to_physical(std::array::from_fn(|i| (g.size[i] as f64 - 1.0) / 2.0));
    Ok(grid_centered_at(g, centre, [side; 3], spacing)?)
}

/// An image reduced to the model's input grid.
#[derive(Debug, Clone)]
pub struct CroppedImage {
    /// Intensities, `side^3` in z-y-x order.
    pub values: Vec<f32>,
    /// The lesion mask on the same grid, when the case has one.
    pub lesion: Option<Vec<f32>>,
    pub origin: CropOrigin,
}

/// Crops (or resamples) one image as `input` says; returns the values and the crop grid.
pub fn image_input(
    image: &Volume<f32>,
    lesion: Option<&oncolens_core::LabelMap>,
    organ: Option<&oncolens_core::LabelMap>,
    input: &ImageInput,
) -> Result<CroppedImage, TrainError> {
    let fill = image
        .data()
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min)
        .min(0.0);
    let (volume, centred_on) = match input {
        ImageInput::LesionCrop(spec) => {
            let (centre, how) = match lesion.and_then(centroid_mm) {
                Some(c) => (c, "lesion_mask"),
                None => match organ.and_then(centroid_mm) {
                    Some(c) => (c, "organ_mask"),
                    None => {
                        let g = image.geometry();
                        (
                            g.index_to_physical(std::array::from_fn(|i| {
                                (g.size[i] as f64 - 1.0) / 2.0
                            })),
                            "image_centre",
                        )
                    }
                },
            };
            (crop_around(image, centre, spec, fill)?, how)
        }
        ImageInput::Whole { side } => {
            let grid = whole_grid(image.geometry(), *side)?;
            (resample_to_grid(image, &grid, fill)?, "whole_image")
        }
    };
    let grid = volume.geometry().clone();
    let lesion_crop = match lesion {
        Some(mask) => {
            let binary = mask.volume().map(|&l| f32::from(u8::from(l != 0)));
            let r = resample_to_grid(&binary, &grid, 0.0)?;
            Some(r.data().iter().copied().collect())
        }
        None => None,
    };
    let (data, _) = volume.into_parts();
    Ok(CroppedImage {
        values: data.iter().copied().collect(),
        lesion: lesion_crop,
        origin: CropOrigin { grid, centred_on },
    })
}

/// Loads one case and reduces its image to the model input.
pub fn prepare_case(
    entry: &CohortEntry,
    omics: Option<&ExpressionTable>,
    input: &ImageInput,
) -> Result<PreparedCase, TrainError> {
    let case = oncolens_io::load_case(entry, omics)?;
    let lesion_radiomics = match (&case.image, &case.lesion_mask) {
        (Some(img), Some(mask)) => lesion_radiomics(img, mask),
        _ => None,
    };
    let (image, lesion, crop) = match &case.image {
        Some(img) => {
            let c = image_input(
                img,
                case.lesion_mask.as_ref(),
                case.organ_mask.as_ref(),
                input,
            )
            .map_err(|e| TrainError::Case {
                case_id: entry.id.clone(),
                message: e.to_string(),
            })?;
            (Some(c.values), c.lesion, Some(c.origin))
        }
        None => (None, None, None),
    };
    Ok(PreparedCase {
        id: entry.id.clone(),
        site: entry.site.0.clone(),
        label: entry.label.map(|l| l.0),
        split: entry.split.clone(),
        dir: entry.dir.clone(),
        image,
        lesion,
        crop,
        lesion_radiomics,
        clinical: case.clinical,
        // Learned from without the patient's identity (see `report_for_learning`).
        report: case
            .report
            .map(|r| oncolens_io::deid::report_for_learning(entry, &r.text)),
        omics: case.omics,
    })
}

/// Prepares every case of a cohort in parallel; `progress(done, total)` is called as cases
/// finish. The first failing case stops the run with its id in the error.
pub fn prepare_cohort(
    cohort: &Cohort,
    input: &ImageInput,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<PreparedCase>, TrainError> {
    let table = match &cohort.omics_table {
        Some(p) => Some(
            oncolens_records::omics::read_expression_table(p).map_err(|e| TrainError::File {
                path: p.clone(),
                message: e.to_string(),
            })?,
        ),
        None => None,
    };
    let total = cohort.entries.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    cohort
        .entries
        .par_iter()
        .map(|entry| {
            let r = prepare_case(entry, table.as_ref(), input);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(n, total);
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use oncolens_core::Direction;

    fn grid(n: usize, spacing: f64) -> Geometry {
        Geometry::new([n; 3], [spacing; 3], [0.0; 3], Direction::default()).unwrap()
    }

    /// A ball of radius `r_mm` (centre of the grid) with intensity `inside(k)` at its voxels.
    fn ball(n: usize, spacing: f64, r_mm: f64) -> (Volume<f32>, LabelMap) {
        let c = (n as f64 - 1.0) / 2.0;
        let inside = |z: usize, y: usize, x: usize| {
            let d2 = [z, y, x]
                .iter()
                .map(|&i| ((i as f64 - c) * spacing).powi(2))
                .sum::<f64>();
            d2 <= r_mm * r_mm
        };
        let labels = Array3::from_shape_fn((n, n, n), |(z, y, x)| u16::from(inside(z, y, x)) * 2);
        // Alternating 60 / 100 HU inside (mean 80, sd 20), -50 outside.
        let image = Array3::from_shape_fn((n, n, n), |(z, y, x)| {
            if inside(z, y, x) {
                if (z + y + x) % 2 == 0 { 60.0 } else { 100.0 }
            } else {
                -50.0
            }
        });
        (
            Volume::new(image, grid(n, spacing)).unwrap(),
            LabelMap::new(labels, grid(n, spacing)).unwrap(),
        )
    }

    #[test]
    fn lesion_radiomics_read_size_roundness_and_intensities() {
        let (image, mask) = ball(40, 1.0, 12.0);
        let f = lesion_radiomics(&image, &mask).unwrap();
        assert_eq!(f.len(), LESION_FEATURES.len());
        // Any non-zero label counts (here 2); the mesh volume of a voxelised ball is within a few
        // per cent of 4/3 pi r^3.
        let analytic = 4.0 / 3.0 * std::f64::consts::PI * 12f64.powi(3);
        assert!((f[0].exp() / analytic - 1.0).abs() < 0.05, "{f:?}");
        assert!(f[1] > 0.9 && f[1] <= 1.0, "sphericity {f:?}");
        assert!(
            (f[2] - 80.0).abs() < 0.5 && (f[3] - 20.0).abs() < 0.5,
            "{f:?}"
        );
        // A larger ball is larger by the cube of the radius ratio.
        let (image2, mask2) = ball(40, 1.0, 16.0);
        let g = lesion_radiomics(&image2, &mask2).unwrap();
        assert!(
            ((g[0] - f[0]) - 3.0 * (16f64 / 12.0).ln()).abs() < 0.05,
            "{f:?} {g:?}"
        );
    }

    #[test]
    fn lesion_radiomics_refuse_empty_and_mismatched_masks() {
        let (image, mask) = ball(20, 1.0, 5.0);
        let empty = LabelMap::new(Array3::zeros((20, 20, 20)), grid(20, 1.0)).unwrap();
        assert!(lesion_radiomics(&image, &empty).is_none());
        let other = LabelMap::new(Array3::ones((10, 10, 10)), grid(10, 1.0)).unwrap();
        assert!(lesion_radiomics(&image, &other).is_none());
        assert!(lesion_radiomics(&image, &mask).is_some());
    }
}
