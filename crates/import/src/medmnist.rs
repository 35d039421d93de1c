//! MedMNIST (v2/v3) `.npz` → cohort: one `image.nii.gz` per sample, the official split kept.
//!
//! MedMNIST stores each split as `{split}_images` (`uint8`, N×D×H×W for the 3D sets, N×H×W for
//! the 2D ones, which become one-slice volumes) and `{split}_labels` (N×1 or N). MedMNIST
//! records no physical geometry: the samples were resized to 28³ or 64³ from CT crops of varied
//! spacing. The NIfTI files therefore carry a placeholder grid, 1 mm isotropic, origin 0,
//! identity direction, and voxel values are the `uint8` values as `float32` (for
//! AdrenalMNIST3D these are 3D shape masks, not Hounsfield units). Millimetre measurements on
//! these images are in voxel units. Array axes are taken as (z, y, x), as NumPy's C order and
//! our `[z, y, x]` volumes agree.

use std::path::Path;

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, Volume};
use rayon::prelude::*;
use serde_json::json;

use crate::error::{ImportError, Result};
use crate::npz::NpzArchive;
use crate::output::{
    ImportSummary, Staging, check_site_name, create_dir, write_csv, write_manifest,
};

/// Options of [`import_medmnist`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedmnistOptions {
    /// Site folder name (default `medmnist`).
    pub site_name: String,
    /// Keep only the first N samples of each split (for quick tests).
    pub limit_per_split: Option<usize>,
}

impl Default for MedmnistOptions {
    fn default() -> Self {
        MedmnistOptions {
            site_name: "medmnist".into(),
            limit_per_split: None,
        }
    }
}

/// The splits MedMNIST defines, in this order.
pub const SPLITS: [&str; 3] = ["train", "val", "test"];

/// Samples written per parallel batch (and progress step).
const BATCH: usize = 32;

/// Name and class meaning of the MedMNIST sets we know, by lower-case file stem.
fn known_set(stem: &str) -> (String, serde_json::Value) {
    let base = stem
        .trim_end_matches("_64")
        .trim_end_matches("_28")
        .trim_end_matches("_128")
        .trim_end_matches("_224");
    match base {
        "adrenalmnist3d" => (
            "AdrenalMNIST3D".into(),
            json!({"0": "normal adrenal gland", "1": "adrenal mass"}),
        ),
        "nodulemnist3d" => (
            "NoduleMNIST3D".into(),
            json!({"0": "benign nodule", "1": "malignant nodule"}),
        ),
        "vesselmnist3d" => (
            "VesselMNIST3D".into(),
            json!({"0": "vessel", "1": "aneurysm"}),
        ),
        "synapsemnist3d" => (
            "SynapseMNIST3D".into(),
            json!({"0": "inhibitory synapse", "1": "excitatory synapse"}),
        ),
        "breastmnist" => (
            "BreastMNIST".into(),
            json!({"0": "malignant", "1": "normal or benign"}),
        ),
        _ => (
            stem.to_owned(),
            json!("see the MedMNIST INFO table for this set"),
        ),
    }
}

struct SplitPlan {
    split: &'static str,
    n: usize,
    available: usize,
    labels: Vec<i64>,
    dims: [usize; 3],
}

/// Converts a MedMNIST `.npz` into a cohort at `out` (which must be new or empty).
/// `progress(done, total)` is called after each batch of samples.
pub fn import_medmnist(
    npz: &Path,
    out: &Path,
    opts: &MedmnistOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    check_site_name(&opts.site_name)?;
    let staging = Staging::new(out)?;
    let mut ar = NpzArchive::open(npz)?;
    let stem = npz
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let (dataset, classes) = known_set(&stem);
    let mut summary = ImportSummary::new(&dataset, out);
    let mut plans = Vec::new();
    for split in SPLITS {
        let images = format!("{split}_images");
        let labels_name = format!("{split}_labels");
        if !ar.contains(&images) {
            summary.warnings.push(format!(
                "{}: no `{images}` array: split {split} is absent",
                npz.display()
            ));
            continue;
        }
        let header = ar.header(&images)?;
        if header.descr != "|u1" && header.descr != "<u1" {
            return Err(ImportError::field(
                npz,
                &images,
                format!("dtype `{}`, expected uint8 (`|u1`)", header.descr),
            ));
        }
        let dims = match header.shape.as_slice() {
            [_, d, h, w] => [*d, *h, *w],
            [_, h, w] => [1, *h, *w],
            other => {
                return Err(ImportError::field(
                    npz,
                    &images,
                    format!(
                        "shape {other:?}: expected N×D×H×W (3D) or N×H×W (2D, grey); colour images are not supported"
                    ),
                ));
            }
        };
        if dims.contains(&0) {
            return Err(ImportError::field(npz, &images, "an image axis has size 0"));
        }
        let available = header.shape[0];
        let (lh, labels) = ar.read_ints(&labels_name)?;
        let per_sample = match lh.shape.as_slice() {
            [n] if *n == available => 1,
            [n, k] if *n == available => *k,
            other => {
                return Err(ImportError::field(
                    npz,
                    &labels_name,
                    format!("shape {other:?} does not match {available} images"),
                ));
            }
        };
        if per_sample != 1 {
            return Err(ImportError::field(
                npz,
                &labels_name,
                format!("{per_sample} labels per sample: multi-label sets are not supported"),
            ));
        }
        if let Some((i, v)) = labels
            .iter()
            .enumerate()
            .find(|(_, v)| !(0..=255).contains(*v))
        {
            return Err(ImportError::field(
                npz,
                format!("{labels_name}[{i}]"),
                format!("label {v} is not a class index in 0..=255"),
            ));
        }
        let n = opts.limit_per_split.map_or(available, |l| l.min(available));
        plans.push(SplitPlan {
            split,
            n,
            available,
            labels,
            dims,
        });
    }
    if plans.is_empty() {
        return Err(ImportError::format(
            npz,
            "no `train_images`, `val_images` or `test_images` array: not a MedMNIST file",
        ));
    }
    let total: usize = plans.iter().map(|p| p.n).sum();
    progress(0, total);
    let site_dir = staging.path().join(&opts.site_name);
    create_dir(&site_dir)?;
    let mut rows = Vec::with_capacity(total);
    let mut done = 0;
    for plan in &plans {
        let [d, h, w] = plan.dims;
        let geometry = Geometry::new([w, h, d], [1.0; 3], [0.0; 3], Direction::identity())
            .map_err(|e| ImportError::Geometry {
                path: npz.to_path_buf(),
                message: e.to_string(),
            })?;
        let mut stream = ar.stream(&format!("{}_images", plan.split))?;
        let mut start = 0;
        while start < plan.n {
            let end = (start + BATCH).min(plan.n);
            let mut batch = Vec::with_capacity(end - start);
            for i in start..end {
                let mut buf = Vec::new();
                stream.next_item(&mut buf)?;
                batch.push((i, buf));
            }
            batch
                .par_iter()
                .map(|(i, bytes)| {
                    let id = case_id(plan.split, *i);
                    let dir = site_dir.join(&id);
                    create_dir(&dir)?;
                    let voxels: Vec<f32> = bytes.iter().map(|v| f32::from(*v)).collect();
                    let data = Array3::from_shape_vec((d, h, w), voxels)
                        .map_err(|e| ImportError::format(npz, format!("sample {i}: {e}")))?;
                    let volume =
                        Volume::new(data, geometry.clone()).map_err(|e| ImportError::Geometry {
                            path: npz.to_path_buf(),
                            message: e.to_string(),
                        })?;
                    oncolens_nifti::write_volume(&dir.join("image.nii.gz"), &volume)?;
                    Ok(())
                })
                .collect::<Result<Vec<()>>>()?;
            for (i, _) in &batch {
                let label = plan.labels[*i].to_string();
                summary.count(&opts.site_name, Some(&label), Some(plan.split));
                rows.push(vec![
                    case_id(plan.split, *i),
                    opts.site_name.clone(),
                    label,
                    plan.split.to_owned(),
                ]);
            }
            done += end - start;
            progress(done, total);
            start = end;
        }
    }
    write_csv(
        &staging.path().join("labels.csv"),
        &["case_id", "site", "label", "split"],
        &rows,
    )?;
    let available: serde_json::Map<String, serde_json::Value> = plans
        .iter()
        .map(|p| (p.split.to_owned(), json!(p.available)))
        .collect();
    let [d, h, w] = plans[0].dims;
    write_manifest(
        staging.path(),
        &summary,
        json!({
            "name": dataset,
            "file": npz.display().to_string(),
            "collection": "MedMNIST v2/v3 (Yang et al., Scientific Data 2023)",
            "licence": "CC BY 4.0 (MedMNIST; DermaMNIST is CC BY-NC 4.0)",
            "samples_in_source": available,
            "limit_per_split": opts.limit_per_split,
        }),
        json!({
            "label": {"column": "label", "classes": classes},
            "split": "MedMNIST's official split, kept as is (train/val/test)",
            "image": {
                "size_xyz": [w, h, d],
                "values": "the uint8 MedMNIST values as float32 (not Hounsfield units)",
                "geometry": "placeholder: MedMNIST has no physical spacing; 1 mm isotropic, origin 0, identity direction, so millimetres here are voxel units",
                "axes": "array axes (z, y, x) in NumPy C order",
            },
            "layout": {
                "case_dir": "<site>/<split>_<index>/ (index within the split, 5 digits)",
                "image": "image.nii.gz (float32)",
                "labels": "labels.csv (case_id, site, label, split)",
            },
        }),
    )?;
    staging.commit()?;
    Ok(summary)
}

/// `train_00042`.
pub fn case_id(split: &str, index: usize) -> String {
    format!("{split}_{index:05}")
}
