//! Reading a cohort into what training needs: one image crop per patient (computed once, in
//! Hounsfield units, on a fixed physical grid), the clinical record, the report and the omics
//! profile. Full volumes are dropped after cropping, so a cohort of hundreds of CTs fits in a
//! few hundred megabytes.

use std::path::PathBuf;

use oncolens_core::{ClinicalRecord, Cohort, CohortEntry, Geometry, OmicsProfile, Volume};
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
    pub clinical: Option<ClinicalRecord>,
    pub report: Option<String>,
    pub omics: Option<OmicsProfile>,
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
        clinical: case.clinical,
        report: case.report.map(|r| r.text),
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
