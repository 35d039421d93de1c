//! KiTS19 → cohort: kidney and tumour masks, a pre-operative FHIR record per case, the
//! benign/malignant label, and the post-operative pathology kept apart as outcome data.
//!
//! KiTS19 ships `case_XXXXX/segmentation.nii.gz` (0 background, 1 kidney, 2 tumour) and
//! `kits.json` (one object per case: clinical, surgical, pathology and follow-up fields); the
//! CT images are not part of this copy, so cases have masks and a clinical record but no image.
//!
//! What goes where (the rule is: a model input may only hold what was known before surgery):
//! * `fhir.json`: [`PREOP_FIELDS`] only: age at nephrectomy, gender, BMI, comorbidities
//!   (Charlson items, as Conditions), smoking, alcohol, the radiographic tumour size from the
//!   pre-operative CT, and the last pre-operative eGFR. KiTS gives ages and day offsets but no
//!   dates, so dates are nominal: the nephrectomy is placed on [`NOMINAL_SURGERY_DATE`], the
//!   birth date is that date minus the age, and the eGFR date is that date minus its
//!   `days_before_nephrectomy`; only the differences are real (the Bundle says so in a meta tag).
//! * `labels.csv`: `malignant` (the target).
//! * `pathology.csv` at the cohort root: [`OUTCOME_FIELDS`] (histologic subtype, ISUP grade,
//!   pT/pN/pM, pathologic size, necrosis, vital status): post-operative OUTCOME data for
//!   explanation and evaluation work; a model must never take it as input, it leaks the label.
//! * [`NOT_IMPORTED_FIELDS`] (operative and post-operative course) are not written at all.
//!
//! There is no split column: KiTS19 has no official split for these 210 cases, and with 18
//! benign cases evaluation uses patient-level cross-validation (one case = one patient).
//!
//! KiTS19 is CC BY-NC-SA 4.0: an imported cohort may be used for evaluation, never committed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oncolens_core::LabelMap;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::error::{ImportError, Result, read_err};
use crate::kits19_fhir::preop_bundle;
use crate::output::{
    ImportSummary, Staging, check_site_name, create_dir, write_csv, write_json, write_manifest,
};

/// Options of [`import_kits19`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kits19Options {
    /// Site folder name (default `kits19`: all cases come from one centre).
    pub site_name: String,
    /// Import only the first N cases (sorted by id), for quick runs.
    pub limit: Option<usize>,
}

impl Default for Kits19Options {
    fn default() -> Self {
        Kits19Options {
            site_name: "kits19".into(),
            limit: None,
        }
    }
}

/// The date the nephrectomy is placed on (KiTS19 has no dates; see the module doc).
pub const NOMINAL_SURGERY_DATE: &str = "2015-01-01";

/// kits.json fields written to `fhir.json`: known before surgery.
pub const PREOP_FIELDS: &[&str] = &[
    "age_at_nephrectomy",
    "gender",
    "body_mass_index",
    "comorbidities",
    "smoking_history",
    "age_when_quit_smoking",
    "pack_years",
    "chewing_tobacco_use",
    "alcohol_use",
    "radiographic_size",
    "last_preop_egfr",
];

/// kits.json fields written only to `pathology.csv` (outcome data, never a model input).
pub const OUTCOME_FIELDS: &[&str] = &[
    "malignant",
    "tumor_histologic_subtype",
    "tumor_isup_grade",
    "pathology_t_stage",
    "pathology_n_stage",
    "pathology_m_stage",
    "pathologic_size",
    "tumor_necrosis",
    "vital_status",
    "vital_days_after_surgery",
];

/// kits.json fields not imported: the operation and what followed it.
pub const NOT_IMPORTED_FIELDS: &[&str] = &[
    "intraoperative_complications",
    "hospitalization",
    "ischemia_time",
    "clavien_surgical_complications",
    "er_visit",
    "readmission",
    "estimated_blood_loss",
    "surgery_type",
    "surgical_procedure",
    "surgical_approach",
    "operative_time",
    "cytoreductive",
    "positive_resection_margins",
    "first_postop_egfr",
    "last_postop_egfr",
    "voxel_spacing",
];

/// One kits.json entry with the file it came from (for error messages).
pub(crate) struct Entry<'a> {
    pub(crate) path: &'a Path,
    pub(crate) index: usize,
    pub(crate) id: String,
    pub(crate) v: &'a Value,
}

impl Entry<'_> {
    pub(crate) fn err(&self, field: &str, message: impl Into<String>) -> ImportError {
        ImportError::field(
            self.path,
            format!("[{}] ({}).{field}", self.index, self.id),
            message,
        )
    }

    /// A number, a numeric string, or absent (`null`, missing, `not_applicable`).
    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>> {
        number_at(self.v.get(key)).map_err(|m| self.err(key, m))
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<&str>> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(key, format!("expected a string, found {other}"))),
        }
    }

    pub(crate) fn malignant(&self) -> Result<bool> {
        match self.v.get("malignant") {
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => {
                Err(self.err("malignant", format!("expected true/false, found {other}")))
            }
            None => Err(self.err("malignant", "missing")),
        }
    }
}

pub(crate) fn number_at(v: Option<&Value>) -> std::result::Result<Option<f64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s == "not_applicable" || s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("`{s}` is not a number")),
        Some(other) => Err(format!("expected a number, found {other}")),
    }
}

/// Reads `kits.json`: (case id, malignant) per entry, in file order. Public so that callers can
/// count labels without importing.
pub fn read_kits_labels(kits_json: &Path) -> Result<Vec<(String, bool)>> {
    let root = read_kits_json(kits_json)?;
    entries(kits_json, &root)?
        .iter()
        .map(|e| Ok((e.id.clone(), e.malignant()?)))
        .collect()
}

fn read_kits_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    serde_json::from_str(&text).map_err(|e| {
        ImportError::format(
            path,
            format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

fn entries<'a>(path: &'a Path, root: &'a Value) -> Result<Vec<Entry<'a>>> {
    let list = root
        .as_array()
        .ok_or_else(|| ImportError::format(path, "expected a JSON array of cases"))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (index, v) in list.iter().enumerate() {
        let id = v
            .get("case_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ImportError::field(
                    path,
                    format!("[{index}].case_id"),
                    "missing or not a string",
                )
            })?
            .to_owned();
        let plain = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            return Err(ImportError::field(
                path,
                format!("[{index}].case_id"),
                format!("`{id}` is not a plain case id"),
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(ImportError::field(
                path,
                format!("[{index}].case_id"),
                format!("`{id}` appears twice"),
            ));
        }
        out.push(Entry { path, index, id, v });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Converts KiTS19 at `src` (holding `kits.json` and `case_*/segmentation.nii.gz`) into a
/// cohort at `out` (new or empty). `progress(done, total)` is called as cases finish.
pub fn import_kits19(
    src: &Path,
    out: &Path,
    opts: &Kits19Options,
    progress: &dyn Fn(usize, usize),
) -> Result<ImportSummary> {
    check_site_name(&opts.site_name)?;
    let kits_json = src.join("kits.json");
    let root = read_kits_json(&kits_json)?;
    let mut all = entries(&kits_json, &root)?;
    let staging = Staging::new(out)?;
    let mut summary = ImportSummary::new("KiTS19", out);
    let listed: BTreeSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    for dir in std::fs::read_dir(src)
        .map_err(read_err(src))?
        .filter_map(|e| e.ok())
    {
        let name = dir.file_name().to_string_lossy().into_owned();
        if dir.path().is_dir() && name.starts_with("case_") && !listed.contains(name.as_str()) {
            summary.warnings.push(format!(
                "{}: not listed in kits.json; skipped",
                dir.path().display()
            ));
        }
    }
    if let Some(limit) = opts.limit {
        all.truncate(limit);
    }
    let total = all.len();
    progress(0, total);
    let site_dir = staging.path().join(&opts.site_name);
    create_dir(&site_dir)?;
    let mut label_rows = Vec::with_capacity(total);
    let mut pathology_rows = Vec::with_capacity(total);
    let mut with_masks = 0;
    let mut done = 0;
    // Masks are large (up to ~1,000 × 512 × 512 voxels, ~1.7 GB of working memory per case):
    // two cases at a time.
    let batch = rayon::current_num_threads().clamp(1, 2);
    for chunk in all.chunks(batch) {
        let results: Vec<Result<CaseOut>> = chunk
            .par_iter()
            .map(|e| write_case(e, src, &site_dir))
            .collect();
        for (e, r) in chunk.iter().zip(results) {
            let r = r?;
            if r.masks {
                with_masks += 1;
            } else {
                summary.warnings.push(format!(
                    "{}: no segmentation.nii.gz; the case has a clinical record only",
                    e.id
                ));
            }
            summary.warnings.extend(r.warnings);
            let malignant = if e.malignant()? { "1" } else { "0" };
            summary.count(&opts.site_name, Some(malignant), None);
            label_rows.push(vec![
                e.id.clone(),
                opts.site_name.clone(),
                malignant.to_owned(),
            ]);
            pathology_rows.push(pathology_row(e)?);
        }
        done += chunk.len();
        progress(done, total);
    }
    write_csv(
        &staging.path().join("labels.csv"),
        &["case_id", "site", "malignant"],
        &label_rows,
    )?;
    let mut header = vec!["case_id"];
    header.extend(OUTCOME_FIELDS);
    write_csv(
        &staging.path().join("pathology.csv"),
        &header,
        &pathology_rows,
    )?;
    write_manifest(
        staging.path(),
        &summary,
        json!({
            "name": "KiTS19 (2019 Kidney Tumor Segmentation Challenge)",
            "path": src.display().to_string(),
            "citation": "Heller N. et al., The KiTS19 challenge data: 300 kidney tumor cases with clinical context, CT semantic segmentations, and surgical outcomes, arXiv:1904.00445 (2019)",
            "licence": "CC BY-NC-SA 4.0: non-commercial; never commit an imported cohort to a repository",
            "cases_in_source": root.as_array().map_or(0, Vec::len),
            "limit": opts.limit,
        }),
        json!({
            "label": {"column": "malignant", "classes": {"0": "benign", "1": "malignant"}, "from": "kits.json `malignant` (post-operative pathology)"},
            "split": "none: KiTS19 defines no split for these cases; use patient-level cross-validation (one case = one patient)",
            "image": "absent: this KiTS19 copy ships no CT, only the segmentations; the masks keep the segmentation's own grid",
            "cases_with_masks": with_masks,
            "masks": {
                "lesion_mask": "lesion_mask.nii.gz: 1 = tumour (segmentation label 2)",
                "kidney_mask": "kidney_mask.nii.gz: 1 = kidney or tumour (segmentation labels 1 and 2; unlike synth, the lesion is included)",
            },
            "clinical": {
                "file": "fhir.json (FHIR R4 Bundle)",
                "fields_used": PREOP_FIELDS,
                "rule": "only information available before surgery",
                "dates": format!("nominal: nephrectomy on {NOMINAL_SURGERY_DATE}, birthDate = that date minus age_at_nephrectomy, eGFR dated days_before_nephrectomy earlier; only differences are real"),
                "codes": {
                    "age": "Patient.birthDate (age_at_nephrectomy)",
                    "gender": "Patient.gender",
                    "bmi": "Observation LOINC 39156-5 (kg/m2)",
                    "smoking": "Observation LOINC 72166-2 with SNOMED CT 266919005 never / 8517006 ex-smoker / 77176002 smoker",
                    "pack_years": "Observation SNOMED CT 401201003 ({pack-years})",
                    "age_when_quit_smoking": "Observation urn:oncolens:kits19|age_when_quit_smoking (a)",
                    "chewing_tobacco_use": "Observation urn:oncolens:kits19|chewing_tobacco_use (coded answer)",
                    "alcohol_use": "Observation LOINC 11331-6 (coded answer)",
                    "radiographic_size": "Observation LOINC 33728-7, method imaging (cm, largest diameter on the pre-operative CT)",
                    "last_preop_egfr": "Observation LOINC 33914-3, the eGFR code oncolens-records reads (mL/min/{1.73_m2}; `>=90` written as comparator >= 90; KiTS19 does not name the estimating equation)",
                    "comorbidities": "one Condition per comorbidity recorded true (SNOMED CT + urn:oncolens:kits19 field name); absent = recorded false",
                    "renal_mass": "Condition SNOMED CT 126880001 Neoplasm of kidney, body site 64033007 Kidney structure (provisional)",
                },
                "caveat": "metastatic_solid_tumor (Charlson, recorded pre-operatively) is true for 12 cases, all malignant: a legitimate but strong pre-operative predictor",
            },
            "outcomes": {
                "file": "pathology.csv",
                "columns": OUTCOME_FIELDS,
                "warning": "OUTCOME DATA (post-operative pathology and follow-up): for explanation and evaluation only, never a model input: it leaks the label",
            },
            "not_imported": NOT_IMPORTED_FIELDS,
            "layout": {
                "case_dir": "<site>/<case_id>/",
                "lesion_mask": "lesion_mask.nii.gz",
                "kidney_mask": "kidney_mask.nii.gz",
                "clinical": "fhir.json",
                "labels": "labels.csv (case_id, site, malignant)",
                "pathology": "pathology.csv (outcome data)",
            },
        }),
    )?;
    staging.commit()?;
    Ok(summary)
}

struct CaseOut {
    masks: bool,
    warnings: Vec<String>,
}

fn write_case(e: &Entry<'_>, src: &Path, site_dir: &Path) -> Result<CaseOut> {
    let dir = site_dir.join(&e.id);
    create_dir(&dir)?;
    let (bundle, warnings) = preop_bundle(e)?;
    write_json(&dir.join("fhir.json"), &bundle)?;
    let seg = segmentation_path(src, &e.id);
    if !seg.is_file() {
        return Ok(CaseOut {
            masks: false,
            warnings,
        });
    }
    let labels = oncolens_nifti::read_label_map(&seg)?;
    if let Some(bad) = labels.labels_present().into_iter().find(|l| *l > 2) {
        return Err(ImportError::format(
            &seg,
            format!(
                "label {bad} found; KiTS19 segmentations hold 0 (background), 1 (kidney), 2 (tumour)"
            ),
        ));
    }
    let make = |keep: fn(u16) -> bool| -> Result<LabelMap> {
        let data = labels.data().mapv(|v| u16::from(keep(v)));
        LabelMap::new(data, labels.geometry().clone()).map_err(|err| ImportError::Geometry {
            path: seg.clone(),
            message: err.to_string(),
        })
    };
    let lesion = make(|v| v == 2)?;
    oncolens_nifti::write_label_map(&dir.join("lesion_mask.nii.gz"), &lesion)?;
    drop(lesion);
    let kidney = make(|v| v == 1 || v == 2)?;
    oncolens_nifti::write_label_map(&dir.join("kidney_mask.nii.gz"), &kidney)?;
    Ok(CaseOut {
        masks: true,
        warnings,
    })
}

fn pathology_row(e: &Entry<'_>) -> Result<Vec<String>> {
    let mut row = vec![e.id.clone()];
    for f in OUTCOME_FIELDS {
        let cell = match e.v.get(*f) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => if *b { "1" } else { "0" }.to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => return Err(e.err(f, format!("expected a scalar, found {other}"))),
        };
        row.push(cell);
    }
    Ok(row)
}

/// Path of a case's segmentation in a KiTS19 folder.
pub fn segmentation_path(src: &Path, case_id: &str) -> PathBuf {
    src.join(case_id).join("segmentation.nii.gz")
}
