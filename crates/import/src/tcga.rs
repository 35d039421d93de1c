//! TCGA pathology reports (TCGA-Reports, T-stage task) → cohort of text-only cases.
//!
//! Input: a CSV with `patient_filename` (TCGA barcode + `.` + report id), `label` (AJCC pT
//! index: 0..3 = T1..T4) and `text`. Each report becomes `<site>/<case_id>/report.txt`, where
//! the case id is the 12-character patient barcode (`TCGA-CQ-7063`; `_2`, `_3`... are added
//! if a patient has several reports) and the site is the patient's TCGA project (`TCGA-BRCA`),
//! looked up in the `TCGA_*_patients.csv` tables (`project_id`, `case_submitter_id`) next to
//! the input, else `tcga`.
//!
//! Split: seeded, stratified by label, 70/15/15 train/val/test, by patient (every report of a
//! patient lands in one split). Within each label the patients are ordered by
//! SHA-256(seed as 8 little-endian bytes ‖ patient barcode) and cut at round(0.70·n) and
//! round(0.15·n); the order does not depend on the file's row order. Default seed:
//! [`DEFAULT_SEED`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{ImportError, Result};
use crate::output::{
    ImportSummary, Staging, check_site_name, create_dir, write_csv, write_manifest, write_text,
};

/// Seed of the split when none is given.
pub const DEFAULT_SEED: u64 = 7;

/// Train and validation shares; the test split gets the rest.
pub const TRAIN_FRACTION: f64 = 0.70;
pub const VAL_FRACTION: f64 = 0.15;

/// Options of [`import_tcga_reports`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcgaOptions {
    /// Put every case in this site instead of its TCGA project.
    pub site_name: Option<String>,
    /// Table mapping patients to projects (`project_id`, `case_submitter_id`); by default every
    /// `TCGA_*_patients.csv` next to the input, merged.
    pub projects_csv: Option<PathBuf>,
    pub seed: u64,
}

impl Default for TcgaOptions {
    fn default() -> Self {
        TcgaOptions {
            site_name: None,
            projects_csv: None,
            seed: DEFAULT_SEED,
        }
    }
}

struct Report {
    line: usize,
    source_id: String,
    patient: String,
    label: u8,
    text: String,
}

/// The patient barcode of a TCGA id (`TCGA-CQ-7063.be78...` → `TCGA-CQ-7063`), else the id up to
/// the first `.`.
pub fn patient_barcode(id: &str) -> String {
    let head = id.split('.').next().unwrap_or(id);
    if head.starts_with("TCGA-") && head.len() >= 12 {
        head[..12].to_owned()
    } else {
        head.to_owned()
    }
}

fn read_reports(csv_path: &Path) -> Result<Vec<Report>> {
    let mut reader = csv::Reader::from_path(csv_path)
        .map_err(|e| ImportError::format(csv_path, e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| ImportError::format(csv_path, format!("line 1: {e}")))?
        .clone();
    let col = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.iter().position(|h| h.trim() == *n))
    };
    let missing = |f: &str| ImportError::field(csv_path, f, "column missing (line 1)");
    let id_col = col(&[
        "patient_filename",
        "patient_id",
        "case_submitter_id",
        "case_id",
    ])
    .ok_or_else(|| missing("patient_filename"))?;
    let label_col = col(&["label"]).ok_or_else(|| missing("label"))?;
    let text_col = col(&["text", "report", "report_text"]).ok_or_else(|| missing("text"))?;
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| ImportError::format(csv_path, format!("line {line}: {e}")))?;
        let field = |c: usize, name: &str| {
            rec.get(c).map(str::to_owned).ok_or_else(|| {
                ImportError::field(csv_path, format!("line {line}: {name}"), "missing cell")
            })
        };
        let source_id = field(id_col, "patient_filename")?.trim().to_owned();
        if source_id.is_empty() {
            return Err(ImportError::field(
                csv_path,
                format!("line {line}: patient_filename"),
                "empty",
            ));
        }
        let label_text = field(label_col, "label")?;
        let label = label_text
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= 3)
            .ok_or_else(|| {
                ImportError::field(
                    csv_path,
                    format!("line {line}: label"),
                    format!("`{label_text}` is not a T-stage index 0..3"),
                )
            })?;
        let patient = patient_barcode(&source_id);
        let plain = patient
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain || patient.is_empty() {
            return Err(ImportError::field(
                csv_path,
                format!("line {line}: patient_filename"),
                format!("`{source_id}` does not give a usable patient id"),
            ));
        }
        out.push(Report {
            line,
            source_id,
            patient,
            label,
            text: field(text_col, "text")?,
        });
    }
    Ok(out)
}

/// `case_submitter_id` → `project_id` from a TCGA patients table.
fn read_projects(path: &Path) -> Result<BTreeMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| ImportError::format(path, e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| ImportError::format(path, format!("line 1: {e}")))?
        .clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h.trim() == n)
            .ok_or_else(|| ImportError::field(path, n, "column missing (line 1)"))
    };
    let (pc, ic) = (col("project_id")?, col("case_submitter_id")?);
    let mut map = BTreeMap::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| ImportError::format(path, format!("line {}: {e}", i + 2)))?;
        if let (Some(p), Some(id)) = (rec.get(pc), rec.get(ic)) {
            map.insert(id.trim().to_owned(), p.trim().to_owned());
        }
    }
    Ok(map)
}

fn default_projects_csvs(csv_path: &Path) -> Vec<PathBuf> {
    let dir = csv_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("TCGA_") && n.ends_with("_patients.csv"))
        })
        .collect();
    found.sort();
    found
}

/// Sort key of a patient within its stratum.
fn split_key(seed: u64, patient: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(patient.as_bytes());
    h.finalize().into()
}

/// Assigns `train`/`val`/`test` to patients: stratified by stratum, ordered by keyed hash.
pub fn stratified_split(patients: &[(String, u8)], seed: u64) -> BTreeMap<String, &'static str> {
    let mut strata: BTreeMap<u8, Vec<&str>> = BTreeMap::new();
    for (p, s) in patients {
        strata.entry(*s).or_default().push(p);
    }
    let mut out = BTreeMap::new();
    for members in strata.values_mut() {
        members.sort_by_key(|p| split_key(seed, p));
        members.dedup();
        let n = members.len();
        let n_train = ((n as f64) * TRAIN_FRACTION).round() as usize;
        let n_val = (((n as f64) * VAL_FRACTION).round() as usize).min(n - n_train.min(n));
        for (i, p) in members.iter().enumerate() {
            let split = if i < n_train {
                "train"
            } else if i < n_train + n_val {
                "val"
            } else {
                "test"
            };
            out.insert((*p).to_owned(), split);
        }
    }
    out
}

/// Converts the TCGA T-stage report CSV into a cohort at `out` (new or empty).
pub fn import_tcga_reports(
    csv_path: &Path,
    out: &Path,
    opts: &TcgaOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    if let Some(s) = &opts.site_name {
        check_site_name(s)?;
    }
    let reports = read_reports(csv_path)?;
    if reports.is_empty() {
        return Err(ImportError::format(csv_path, "no reports"));
    }
    let staging = Staging::new(out)?;
    let mut summary = ImportSummary::new("TCGA-Reports (pT)", out);
    let projects_paths: Vec<PathBuf> = match (&opts.site_name, &opts.projects_csv) {
        (Some(_), _) => Vec::new(),
        (None, Some(p)) => vec![p.clone()],
        (None, None) => default_projects_csvs(csv_path),
    };
    let mut projects: BTreeMap<String, String> = BTreeMap::new();
    for p in &projects_paths {
        for (patient, project) in read_projects(p)? {
            match projects.get(&patient) {
                Some(known) if *known != project => summary.warnings.push(format!(
                    "{}: patient {patient} is in {project}, another table says {known}; kept {known}",
                    p.display()
                )),
                Some(_) => {}
                None => {
                    projects.insert(patient, project);
                }
            }
        }
    }
    // One stratum per patient: the label of their first report.
    let mut patient_label: BTreeMap<String, u8> = BTreeMap::new();
    for r in &reports {
        let first = *patient_label.entry(r.patient.clone()).or_insert(r.label);
        if first != r.label {
            summary.warnings.push(format!(
                "{}, line {}: patient {} has reports with labels {first} and {}; stratified by the first",
                csv_path.display(),
                r.line,
                r.patient,
                r.label
            ));
        }
    }
    let patients: Vec<(String, u8)> = patient_label.into_iter().collect();
    let splits = stratified_split(&patients, opts.seed);
    let mut per_patient: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &reports {
        *per_patient.entry(&r.patient).or_default() += 1;
    }
    let total = reports.len();
    progress(0, total);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rows = Vec::with_capacity(total);
    let mut unmapped = 0;
    for (i, r) in reports.iter().enumerate() {
        let k = seen.entry(&r.patient).or_default();
        *k += 1;
        let case_id = if per_patient[r.patient.as_str()] > 1 {
            format!("{}_{}", r.patient, k)
        } else {
            r.patient.clone()
        };
        let site = match (&opts.site_name, projects.get(&r.patient)) {
            (Some(s), _) => s.clone(),
            (None, Some(p)) if check_site_name(p).is_ok() => p.clone(),
            _ => {
                unmapped += 1;
                "tcga".to_owned()
            }
        };
        let dir = staging.path().join(&site).join(&case_id);
        create_dir(&dir)?;
        write_text(&dir.join("report.txt"), &r.text)?;
        let split = splits.get(&r.patient).copied().unwrap_or("train");
        let label = r.label.to_string();
        summary.count(&site, Some(&label), Some(split));
        rows.push(vec![
            case_id,
            site,
            label,
            split.to_owned(),
            format!("T{}", r.label + 1),
            r.source_id.clone(),
        ]);
        if (i + 1) % 64 == 0 || i + 1 == total {
            progress(i + 1, total);
        }
    }
    if opts.site_name.is_none() && unmapped > 0 {
        summary.warnings.push(if projects_paths.is_empty() {
            format!(
                "no TCGA_*_patients.csv next to {}: all {unmapped} cases in site `tcga`",
                csv_path.display()
            )
        } else {
            format!("{unmapped} patients not found in the projects tables: site `tcga`")
        });
    }
    write_csv(
        &staging.path().join("labels.csv"),
        &["case_id", "site", "label", "split", "t_stage", "source_id"],
        &rows,
    )?;
    write_manifest(
        staging.path(),
        &summary,
        json!({
            "name": "TCGA-Reports: pathology report texts with AJCC pathologic T stage",
            "file": csv_path.display().to_string(),
            "projects_tables": projects_paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "citation": "Kefeli J. et al., TCGA-Reports: a machine-readable pathology report resource for benchmarking text-based AI models, Patterns (2024); reports from The Cancer Genome Atlas",
            "licence": "TCGA open access (NIH Genomic Data Commons)",
        }),
        json!({
            "label": {"column": "label", "classes": {"0": "T1", "1": "T2", "2": "T3", "3": "T4"}, "also": "t_stage (T1..T4), source_id (the report's patient_filename)"},
            "split": {
                "rule": "stratified by label, by patient, 70/15/15 train/val/test; patients ordered within each label by SHA-256(seed as 8 little-endian bytes || patient barcode), cut at round(0.70 n) and round(0.15 n)",
                "seed": opts.seed,
            },
            "site": "the patient's TCGA project (e.g. TCGA-BRCA) from the projects tables, else `tcga`",
            "modalities": "report.txt only (pathology report text, as OCR'd by TCGA-Reports)",
            "layout": {
                "case_dir": "<site>/<patient barcode>/",
                "text": "report.txt",
                "labels": "labels.csv (case_id, site, label, split, t_stage, source_id)",
            },
        }),
    )?;
    staging.commit()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcode_is_the_patient_part() {
        assert_eq!(
            patient_barcode("TCGA-CQ-7063.be787b58-3a45"),
            "TCGA-CQ-7063"
        );
        assert_eq!(patient_barcode("TCGA-CQ-7063-01A"), "TCGA-CQ-7063");
        assert_eq!(patient_barcode("other.txt"), "other");
    }

    #[test]
    fn split_is_stratified_and_seeded() {
        let patients: Vec<(String, u8)> = (0..200)
            .map(|i| (format!("P{i:03}"), (i % 4) as u8))
            .collect();
        let a = stratified_split(&patients, 7);
        let b = stratified_split(&patients, 7);
        let c = stratified_split(&patients, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        for label in 0..4u8 {
            let count = |s: &str| {
                patients
                    .iter()
                    .filter(|(p, l)| *l == label && a[p] == s)
                    .count()
            };
            assert_eq!((count("train"), count("val"), count("test")), (35, 8, 7));
        }
        let mut reversed = patients.clone();
        reversed.reverse();
        assert_eq!(stratified_split(&reversed, 7), a);
    }
}
