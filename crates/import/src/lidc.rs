//! LIDC-IDRI → cohort: the CT series as DICOM, the readers' nodule outlines as masks on the CT
//! grid, and a malignancy label from the readers' ratings.
//!
//! Input: a folder holding, anywhere below it, LIDC reading XML files (`LidcReadMessage`) next to
//! the DICOM slices of the series they annotate (the TCIA layout). For every XML:
//! * `<site>/<case>/ct/`: the series' DICOM files, copied unchanged (the case id is the
//!   DICOM PatientID, e.g. `LIDC-IDRI-0001`); `lidc_annotation.xml`: the XML, copied.
//! * `reader_<n>_mask.nii.gz` (n = 1.. in XML order of `readingSession`): 1 inside any nodule
//!   ≥ 3 mm that reader outlined. Nodules < 3 mm (a single centre point) and non-nodules are not
//!   drawn. Contours are matched to slices by SOP Instance UID (by `imageZposition` if the UID is
//!   not in the series) and filled as described in [`crate::raster`] (contour pixels excluded);
//!   `inclusion = FALSE` contours (holes) are cut out with their outline. This is pylidc's
//!   `Annotation.boolean_mask()`; `fixtures/import/lidc_pylidc_check.py` compares the two.
//! * `lesion_agreement.nii.gz`: per voxel, how many readers put it inside a nodule (0..readers).
//! * `lesion_mask.nii.gz`: the consensus, 1 where at least `min_readers` (default 2, i.e. 50 %
//!   of LIDC's 4 readers, pylidc's usual consensus level) agree.
//! * Label (`labels.csv`, `malignant`): reader marks that overlap are grouped into nodules; a
//!   nodule's score is the mean of its malignancy ratings (1–5); the case score is the highest
//!   score among nodules marked by at least `min_readers` readers (all nodules if none is); the
//!   case is malignant when that score is ≥ `malignancy_threshold` (default 3). A scan without
//!   any nodule ≥ 3 mm is labelled 0. (Studies that drop "indeterminate" nodules with mean
//!   exactly 3 can refilter with `nodules.csv`.)
//! * `nodules.csv` at the cohort root: one row per grouped nodule (readers, ratings, mean,
//!   consensus volume, slices).
//!
//! No report is written (LIDC has none) and no split (LIDC defines none). Licence: TCIA
//! LIDC-IDRI, CC BY 3.0 (cite Armato et al. 2011 and the TCIA data DOI).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use ndarray::Array3;
use oncolens_core::{Geometry, LabelMap};
use oncolens_dicom::{CtSeries, ReadOptions};
use serde_json::json;

use crate::error::{ImportError, Result, read_err, write_err};
use crate::lidc_xml::{LidcAnnotation, is_lidc_xml, parse_lidc_xml};
use crate::output::{
    ImportSummary, Staging, check_site_name, create_dir, write_csv, write_manifest,
};
use crate::raster::fill_interior;

/// Options of [`import_lidc`].
#[derive(Debug, Clone, PartialEq)]
pub struct LidcOptions {
    /// Site folder name (default `lidc`).
    pub site_name: String,
    /// Readers who must agree for a voxel to be in `lesion_mask.nii.gz` and for a nodule to
    /// count as a consensus nodule (default 2).
    pub min_readers: usize,
    /// A case is malignant when its score (mean rating of its most suspicious consensus nodule)
    /// is at least this (default 3.0).
    pub malignancy_threshold: f64,
}

impl Default for LidcOptions {
    fn default() -> Self {
        LidcOptions {
            site_name: "lidc".into(),
            min_readers: 2,
            malignancy_threshold: 3.0,
        }
    }
}

/// One reader's outlined nodule, as voxel indices on the CT grid.
struct Mark {
    reader: usize,
    malignancy: Option<u8>,
    /// Linear indices (k·H·W + row·W + col) inside the outline.
    interior: Vec<usize>,
    /// Interior plus the outline itself: used to decide which marks are the same nodule.
    footprint: HashSet<usize>,
}

/// One nodule after grouping the readers' marks.
#[derive(Debug, Clone, PartialEq)]
pub struct LidcNoduleSummary {
    /// Reader numbers (1-based, XML order) who marked it.
    pub readers: Vec<usize>,
    pub ratings: Vec<u8>,
    pub mean_malignancy: Option<f64>,
    /// Voxels inside at least one reader's outline.
    pub voxels_any: usize,
    /// Voxels where at least `min_readers` readers agree.
    pub voxels_consensus: usize,
    pub volume_consensus_mm3: f64,
    /// First and last slice index (k) of the union.
    pub slices: (usize, usize),
}

/// Masks and nodules of one annotated series.
pub struct LidcMasks {
    /// Per reader, the sorted voxel indices inside their outlines.
    pub readers: Vec<Vec<usize>>,
    /// Readers agreeing per voxel.
    pub agreement: Array3<u16>,
    pub nodules: Vec<LidcNoduleSummary>,
    /// Case score (see the module doc) and whether it came from consensus nodules.
    pub score: Option<f64>,
    pub score_from_consensus: bool,
    pub warnings: Vec<String>,
}

/// Rasterises the readers' outlines of `ann` on the grid of `series`.
pub fn rasterise(
    ann: &LidcAnnotation,
    series: &CtSeries,
    sop_uids: &[String],
    min_readers: usize,
) -> LidcMasks {
    let g = series.volume.geometry();
    let [w, h, d] = g.size;
    let plane = w * h;
    let by_uid: HashMap<&str, usize> = sop_uids
        .iter()
        .enumerate()
        .map(|(k, u)| (u.as_str(), k))
        .collect();
    let slice_z: Vec<f64> = (0..d)
        .map(|k| g.index_to_physical([0.0, 0.0, k as f64])[2])
        .collect();
    let dz = g.spacing_mm[2];
    let mut warnings = Vec::new();
    let mut marks = Vec::new();
    for (r, reading) in ann.readings.iter().enumerate() {
        for nodule in reading.nodules.iter().filter(|n| n.is_outlined()) {
            let mut inside: BTreeSet<usize> = BTreeSet::new();
            let mut cut: Vec<usize> = Vec::new();
            let mut footprint = HashSet::new();
            for roi in &nodule.rois {
                let k = by_uid.get(roi.sop_uid.as_str()).copied().or_else(|| {
                    let z = roi.z_mm?;
                    slice_z
                        .iter()
                        .enumerate()
                        .min_by(|a, b| (a.1 - z).abs().total_cmp(&(b.1 - z).abs()))
                        .filter(|(_, zk)| (*zk - z).abs() <= 0.5 * dz)
                        .map(|(k, _)| k)
                });
                let Some(k) = k else {
                    warnings.push(format!(
                        "reader {} nodule {}: contour on SOP {} (z {:?}) matches no slice; skipped",
                        r + 1,
                        nodule.id,
                        roi.sop_uid,
                        roi.z_mm
                    ));
                    continue;
                };
                let px = fill_interior(&roi.points, w, h);
                let lin = px.iter().map(|[x, y]| k * plane + y * w + x);
                let outline = roi
                    .points
                    .iter()
                    .filter(|p| (0..w as i64).contains(&p[0]) && (0..h as i64).contains(&p[1]))
                    .map(|p| k * plane + p[1] as usize * w + p[0] as usize);
                if roi.inclusion {
                    inside.extend(lin.clone());
                    footprint.extend(lin);
                    footprint.extend(outline);
                } else {
                    // A hole: its interior and its outline leave the nodule (as in pylidc).
                    cut.extend(lin);
                    cut.extend(outline);
                }
            }
            for c in cut {
                inside.remove(&c);
            }
            marks.push(Mark {
                reader: r,
                malignancy: nodule.malignancy,
                interior: inside.into_iter().collect(),
                footprint,
            });
        }
    }
    let n_readers = ann.readings.len();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n_readers];
    for m in &marks {
        readers[m.reader].extend(&m.interior);
    }
    let mut agreement = Array3::<u16>::zeros((d, h, w));
    if let Some(flat) = agreement.as_slice_mut() {
        for r in &mut readers {
            r.sort_unstable();
            r.dedup();
            for &i in r.iter() {
                flat[i] += 1;
            }
        }
    }
    // Group marks that touch into nodules (union-find).
    let mut parent: Vec<usize> = (0..marks.len()).collect();
    fn find(p: &mut [usize], i: usize) -> usize {
        let mut i = i;
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for a in 0..marks.len() {
        for b in a + 1..marks.len() {
            let (small, large) = if marks[a].footprint.len() <= marks[b].footprint.len() {
                (a, b)
            } else {
                (b, a)
            };
            if marks[small]
                .footprint
                .iter()
                .any(|v| marks[large].footprint.contains(v))
            {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                parent[ra] = rb;
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..marks.len() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(i);
    }
    let voxel_mm3 = g.voxel_volume_mm3();
    let flat = agreement.as_slice();
    let mut nodules: Vec<LidcNoduleSummary> = groups
        .values()
        .map(|members| {
            let readers: BTreeSet<usize> = members.iter().map(|&i| marks[i].reader + 1).collect();
            let ratings: Vec<u8> = members
                .iter()
                .filter_map(|&i| marks[i].malignancy)
                .collect();
            let union: BTreeSet<usize> = members
                .iter()
                .flat_map(|&i| marks[i].interior.iter().copied())
                .collect();
            let consensus = flat.map_or(0, |f| {
                union
                    .iter()
                    .filter(|&&v| usize::from(f[v]) >= min_readers)
                    .count()
            });
            let slices = (
                union.first().map_or(0, |v| v / plane),
                union.last().map_or(0, |v| v / plane),
            );
            LidcNoduleSummary {
                readers: readers.into_iter().collect(),
                mean_malignancy: (!ratings.is_empty()).then(|| {
                    ratings.iter().map(|&r| f64::from(r)).sum::<f64>() / ratings.len() as f64
                }),
                ratings,
                voxels_any: union.len(),
                voxels_consensus: consensus,
                volume_consensus_mm3: consensus as f64 * voxel_mm3,
                slices,
            }
        })
        .collect();
    nodules.sort_by_key(|n| (n.slices.0, n.slices.1));
    let best = |iter: &mut dyn Iterator<Item = &LidcNoduleSummary>| {
        iter.filter_map(|n| n.mean_malignancy)
            .max_by(f64::total_cmp)
    };
    let consensus_score = best(&mut nodules.iter().filter(|n| n.readers.len() >= min_readers));
    let (score, score_from_consensus) = match consensus_score {
        Some(s) => (Some(s), true),
        None => (best(&mut nodules.iter()), false),
    };
    LidcMasks {
        readers,
        agreement,
        nodules,
        score,
        score_from_consensus,
        warnings,
    }
}

fn list_xmls(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let p = e.map_err(read_err(dir))?.path();
        if p.is_dir() {
            list_xmls(&p, out)?;
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x.eq_ignore_ascii_case("xml"))
            && is_lidc_xml(&p)
        {
            out.push(p);
        }
    }
    Ok(())
}

fn dicom_str(path: &Path, tag: dicom_object::Tag) -> Option<String> {
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .ok()?;
    let e = obj.element(tag).ok()?;
    let s = e.to_str().ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_owned())
}

fn plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !s.starts_with('.')
}

/// Converts the LIDC-IDRI series under `src` into a cohort at `out` (new or empty).
pub fn import_lidc(
    src: &Path,
    out: &Path,
    opts: &LidcOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    check_site_name(&opts.site_name)?;
    if opts.min_readers == 0 {
        return Err(ImportError::field(
            "options",
            "min_readers",
            "must be at least 1",
        ));
    }
    let mut xmls = Vec::new();
    list_xmls(src, &mut xmls)?;
    xmls.sort();
    if xmls.is_empty() {
        return Err(ImportError::format(
            src,
            "no LIDC reading XML (LidcReadMessage) found below this folder",
        ));
    }
    let staging = Staging::new(out)?;
    let mut summary = ImportSummary::new("LIDC-IDRI", out);
    // Progress units: one per DICOM file copied and one per case for the masks.
    let mut units = Vec::with_capacity(xmls.len());
    for x in &xmls {
        let dir = x.parent().unwrap_or(src);
        units.push(std::fs::read_dir(dir).map_err(read_err(dir))?.count() + 1);
    }
    let total: usize = units.iter().sum();
    progress(0, total);
    let mut done = 0;
    let site_dir = staging.path().join(&opts.site_name);
    create_dir(&site_dir)?;
    let mut label_rows = Vec::new();
    let mut nodule_rows = Vec::new();
    let mut seen_series = BTreeSet::new();
    let mut seen_cases = BTreeSet::new();
    let mut readers_max = 0;
    for (xml, case_units) in xmls.iter().zip(&units) {
        let case_start = done;
        let ann = parse_lidc_xml(xml)?;
        let dir = xml.parent().unwrap_or(src);
        if let Some(uid) = &ann.series_uid
            && !seen_series.insert(uid.clone())
        {
            summary.warnings.push(format!(
                "{}: a second annotation of series {uid}; skipped",
                xml.display()
            ));
            done = case_start + case_units;
            progress(done, total);
            continue;
        }
        let series = oncolens_dicom::read_series(
            dir,
            &ReadOptions {
                series_uid: ann.series_uid.clone(),
                ..ReadOptions::default()
            },
        )?;
        let sop_uids: Vec<String> = series
            .files
            .iter()
            .map(|f| dicom_str(f, tags::SOP_INSTANCE_UID).unwrap_or_default())
            .collect();
        let patient = series
            .files
            .first()
            .and_then(|f| dicom_str(f, tags::PATIENT_ID));
        let mut case_id = match patient.filter(|p| plain_id(p)) {
            Some(p) => p,
            None => dir
                .ancestors()
                .filter_map(|a| a.file_name().and_then(|n| n.to_str()))
                .find(|n| n.starts_with("LIDC-IDRI-"))
                .map(str::to_owned)
                .unwrap_or_else(|| format!("lidc_{:04}", label_rows.len() + 1)),
        };
        if !seen_cases.insert(case_id.clone()) {
            // A second series of the same patient.
            case_id = format!("{case_id}_{}", seen_cases.len());
            seen_cases.insert(case_id.clone());
        }
        let case_dir = site_dir.join(&case_id);
        let ct = case_dir.join("ct");
        create_dir(&ct)?;
        let mut names = BTreeSet::new();
        for (i, f) in series.files.iter().enumerate() {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = if names.insert(name.clone()) {
                name
            } else {
                format!("{i:05}_{name}")
            };
            let target = ct.join(&name);
            std::fs::copy(f, &target).map_err(write_err(&target))?;
            done += 1;
            if done % 16 == 0 {
                progress(done, total);
            }
        }
        let target = case_dir.join("lidc_annotation.xml");
        std::fs::copy(xml, &target).map_err(write_err(&target))?;
        let masks = rasterise(&ann, &series, &sop_uids, opts.min_readers);
        write_masks(
            &case_dir,
            series.volume.geometry(),
            &masks,
            opts.min_readers,
        )?;
        readers_max = readers_max.max(masks.readers.len());
        summary
            .warnings
            .extend(masks.warnings.iter().map(|w| format!("{case_id}: {w}")));
        if !masks.score_from_consensus && masks.score.is_some() {
            summary.warnings.push(format!(
                "{case_id}: no nodule marked by {} readers; label from all marked nodules",
                opts.min_readers
            ));
        }
        let malignant = masks.score.is_some_and(|s| s >= opts.malignancy_threshold);
        let label = if malignant { "1" } else { "0" };
        summary.count(&opts.site_name, Some(label), None);
        label_rows.push(vec![
            case_id.clone(),
            opts.site_name.clone(),
            label.to_owned(),
        ]);
        for (i, n) in masks.nodules.iter().enumerate() {
            nodule_rows.push(vec![
                case_id.clone(),
                (i + 1).to_string(),
                n.readers.len().to_string(),
                join(&n.readers),
                join(&n.ratings),
                n.mean_malignancy
                    .map(|m| format!("{m:.2}"))
                    .unwrap_or_default(),
                u8::from(n.readers.len() >= opts.min_readers).to_string(),
                n.voxels_any.to_string(),
                n.voxels_consensus.to_string(),
                format!("{:.1}", n.volume_consensus_mm3),
                n.slices.0.to_string(),
                n.slices.1.to_string(),
            ]);
        }
        // The masks, and the folder's files that are not slices (the XML), count as done.
        done = case_start + case_units;
        progress(done, total);
    }
    write_csv(
        &staging.path().join("labels.csv"),
        &["case_id", "site", "malignant"],
        &label_rows,
    )?;
    write_csv(
        &staging.path().join("nodules.csv"),
        &[
            "case_id",
            "nodule",
            "n_readers",
            "readers",
            "malignancy_ratings",
            "mean_malignancy",
            "consensus",
            "voxels_any_reader",
            "voxels_consensus",
            "volume_consensus_mm3",
            "first_slice",
            "last_slice",
        ],
        &nodule_rows,
    )?;
    write_manifest(
        staging.path(),
        &summary,
        json!({
            "name": "LIDC-IDRI (Lung Image Database Consortium and Image Database Resource Initiative)",
            "path": src.display().to_string(),
            "citation": "Armato SG III et al., Medical Physics 38:915-931 (2011); data: doi:10.7937/K9/TCIA.2015.LO9QL9SX (The Cancer Imaging Archive)",
            "licence": "CC BY 3.0 (TCIA)",
            "annotations": xmls.len(),
        }),
        json!({
            "label": {
                "column": "malignant",
                "classes": {"0": "no nodule with mean rating >= threshold", "1": "malignant (suspicious)"},
                "rule": format!("readers' marks that overlap form one nodule; nodule score = mean malignancy rating (1-5); case score = highest score among nodules marked by >= {} readers (all nodules if none); malignant = score >= {}; no nodule >= 3 mm = 0", opts.min_readers, opts.malignancy_threshold),
                "note": "ratings are the radiologists' suspicion, not pathology",
            },
            "split": "none: LIDC-IDRI defines no split",
            "image": "ct/: the original DICOM files of the annotated series, unchanged",
            "masks": {
                "lesion_mask": format!("lesion_mask.nii.gz: 1 where >= {} readers outlined a nodule >= 3 mm (consensus)", opts.min_readers),
                "lesion_agreement": "lesion_agreement.nii.gz: number of readers per voxel",
                "reader_masks": format!("reader_<n>_mask.nii.gz, n = 1..{readers_max} in XML readingSession order"),
                "rasterisation": "pixel centres inside the outline polygon (even-odd), outline pixels excluded (LIDC draws the outline just outside the nodule; as pylidc include_contour_points=False); inclusion=FALSE contours cut out with their outline (= pylidc Annotation.boolean_mask); contours matched to slices by SOP Instance UID, else imageZposition",
                "not_drawn": "nodules < 3 mm (centre point only) and non-nodules",
            },
            "nodules": "nodules.csv: one row per grouped nodule",
            "report": "absent: LIDC-IDRI has no report text, and none is invented",
            "layout": {
                "case_dir": "<site>/<PatientID>/",
                "image": "ct/*.dcm",
                "lesion_mask": "lesion_mask.nii.gz",
                "annotation": "lidc_annotation.xml (the source XML)",
                "labels": "labels.csv (case_id, site, malignant)",
            },
        }),
    )?;
    staging.commit()?;
    Ok(summary)
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";")
}

fn write_masks(case_dir: &Path, g: &Geometry, masks: &LidcMasks, min_readers: usize) -> Result<()> {
    let [w, h, d] = g.size;
    let label_map = |data: Array3<u16>, name: &str| -> Result<()> {
        let path = case_dir.join(name);
        let m = LabelMap::new(data, g.clone()).map_err(|e| ImportError::Geometry {
            path: path.clone(),
            message: e.to_string(),
        })?;
        oncolens_nifti::write_label_map(&path, &m)?;
        Ok(())
    };
    for (r, voxels) in masks.readers.iter().enumerate() {
        let mut data = Array3::<u16>::zeros((d, h, w));
        if let Some(flat) = data.as_slice_mut() {
            for &i in voxels {
                flat[i] = 1;
            }
        }
        label_map(data, &format!("reader_{}_mask.nii.gz", r + 1))?;
    }
    label_map(masks.agreement.clone(), "lesion_agreement.nii.gz")?;
    let threshold = u16::try_from(min_readers).unwrap_or(u16::MAX);
    label_map(
        masks.agreement.mapv(|a| u16::from(a >= threshold)),
        "lesion_mask.nii.gz",
    )?;
    Ok(())
}
