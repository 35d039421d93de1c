//! Cohort folders: `<root>/<site>/<case>/` with `ct/` (DICOM slices) or `image.nii.gz`,
//! `lesion_mask.nii.gz`, `kidney_mask.nii.gz` (or `organ_mask.nii.gz`), `fhir.json`,
//! `report.txt`; `<root>/labels.csv` (`case_id`, `site`, a label column, optional `split`) and
//! `<root>/omics/expression.tsv`. `oncolens synth` and `oncolens import` write this layout, and
//! training reads it unchanged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oncolens_core::{Case, CaseLabel, Cohort, CohortEntry, LabelMap, ReportText, SiteId};
use oncolens_records::omics::ExpressionTable;
use thiserror::Error;

/// Errors raised while scanning or loading a cohort; each names the file or case.
#[derive(Debug, Error)]
pub enum CohortError {
    #[error("{0}: not a folder")]
    NotAFolder(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Labels {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path} lists case {case_id} but there is no folder for it")]
    MissingCase { path: PathBuf, case_id: String },
    #[error("case {case_id}: {source}")]
    Dicom {
        case_id: String,
        #[source]
        source: oncolens_dicom::DicomError,
    },
    #[error("case {case_id}: {source}")]
    Nifti {
        case_id: String,
        #[source]
        source: oncolens_nifti::NiftiError,
    },
    #[error("case {case_id}: {source}")]
    Records {
        case_id: String,
        #[source]
        source: oncolens_records::RecordsError,
    },
    #[error("case {case_id}: mask {path} does not match the image grid: {message}")]
    MaskGrid {
        case_id: String,
        path: PathBuf,
        message: String,
    },
    #[error(transparent)]
    Omics(#[from] oncolens_records::RecordsError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CohortError + '_ {
    move |source| CohortError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sorted_subdirs(dir: &Path) -> Result<Vec<PathBuf>, CohortError> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            p.file_name()
                .map(|n| !n.to_string_lossy().starts_with('.'))
                .unwrap_or(false)
        })
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.exists().then_some(path)
}

fn looks_like_case(dir: &Path) -> bool {
    [
        "ct",
        "image.nii.gz",
        "image.nii",
        "fhir.json",
        "report.txt",
        "lesion_mask.nii.gz",
    ]
    .iter()
    .any(|n| dir.join(n).exists())
}

struct LabelRow {
    label: Option<CaseLabel>,
    split: Option<String>,
}

/// Reads `labels.csv`: `case_id` plus one label column (`malignant`, `label` or `class`), and
/// optionally `split`.
fn read_labels(path: &Path) -> Result<HashMap<String, LabelRow>, CohortError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| CohortError::Labels {
        path: path.to_path_buf(),
        line: 0,
        message: e.to_string(),
    })?;
    let headers = reader
        .headers()
        .map_err(|e| CohortError::Labels {
            path: path.to_path_buf(),
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let id_col = col("case_id").ok_or_else(|| CohortError::Labels {
        path: path.to_path_buf(),
        line: 1,
        message: "missing column `case_id`".into(),
    })?;
    let label_col = col("malignant")
        .or_else(|| col("label"))
        .or_else(|| col("class"));
    let split_col = col("split");
    let mut out = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| CohortError::Labels {
            path: path.to_path_buf(),
            line,
            message: e.to_string(),
        })?;
        let id = record.get(id_col).unwrap_or("").trim().to_owned();
        if id.is_empty() {
            return Err(CohortError::Labels {
                path: path.to_path_buf(),
                line,
                message: "empty case_id".into(),
            });
        }
        let label = match label_col.and_then(|c| record.get(c)).map(str::trim) {
            None | Some("") | Some("NA") => None,
            Some(v) => Some(CaseLabel(v.parse::<u8>().map_err(|_| {
                CohortError::Labels {
                    path: path.to_path_buf(),
                    line,
                    message: format!("label `{v}` is not a non-negative integer class"),
                }
            })?)),
        };
        let split = split_col
            .and_then(|c| record.get(c))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if out.insert(id.clone(), LabelRow { label, split }).is_some() {
            return Err(CohortError::Labels {
                path: path.to_path_buf(),
                line,
                message: format!("case_id `{id}` appears twice"),
            });
        }
    }
    Ok(out)
}

fn omics_path(root: &Path) -> Option<PathBuf> {
    ["omics/expression.tsv", "omics/expression.csv"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.is_file())
}

/// The entry of one case folder (`<root>/<site>/<case>/`), for commands that take a single
/// case: the site is the parent folder's name; the label, split and omics come from the cohort
/// root's `labels.csv` and expression table when they exist.
pub fn case_entry(case_dir: &Path) -> Result<CohortEntry, CohortError> {
    if !case_dir.is_dir() || !looks_like_case(case_dir) {
        return Err(CohortError::NotAFolder(case_dir.to_path_buf()));
    }
    let id = case_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let site_dir = case_dir.parent();
    let site = site_dir
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let root = site_dir.and_then(Path::parent);
    let row = match root.map(|r| r.join("labels.csv")).filter(|p| p.is_file()) {
        Some(p) => read_labels(&p)?.remove(&id),
        None => None,
    };
    let has_omics = match root.and_then(omics_path) {
        Some(p) => oncolens_records::omics::read_expression_table(&p)?
            .samples
            .contains(&id),
        None => false,
    };
    Ok(entry_for(case_dir.to_path_buf(), site, id, row, has_omics))
}

/// The entry of a case folder: which of the known files it holds, plus its label row.
fn entry_for(
    case_dir: PathBuf,
    site: String,
    id: String,
    row: Option<LabelRow>,
    has_omics: bool,
) -> CohortEntry {
    CohortEntry {
        site: SiteId(site),
        dicom_dir: existing(case_dir.join("ct")),
        image_nifti: existing(case_dir.join("image.nii.gz"))
            .or_else(|| existing(case_dir.join("image.nii"))),
        lesion_mask: existing(case_dir.join("lesion_mask.nii.gz")),
        organ_mask: existing(case_dir.join("kidney_mask.nii.gz"))
            .or_else(|| existing(case_dir.join("organ_mask.nii.gz"))),
        fhir: existing(case_dir.join("fhir.json")),
        report: existing(case_dir.join("report.txt")),
        has_omics,
        label: row.as_ref().and_then(|r| r.label),
        split: row.and_then(|r| r.split),
        dir: case_dir,
        id,
    }
}

/// The expression table of the cohort a case folder belongs to, if it has one.
pub fn omics_table_for_case(case_dir: &Path) -> Option<PathBuf> {
    case_dir
        .parent()
        .and_then(Path::parent)
        .and_then(omics_path)
}

/// Lists a cohort folder without reading any image.
pub fn scan_cohort(root: &Path) -> Result<Cohort, CohortError> {
    if !root.is_dir() {
        return Err(CohortError::NotAFolder(root.to_path_buf()));
    }
    let labels_path = root.join("labels.csv");
    let mut labels = if labels_path.is_file() {
        read_labels(&labels_path)?
    } else {
        HashMap::new()
    };
    let omics_table = omics_path(root);
    let omics_samples: Vec<String> = match &omics_table {
        Some(p) => oncolens_records::omics::read_expression_table(p)?.samples,
        None => Vec::new(),
    };
    let mut entries = Vec::new();
    for site_dir in sorted_subdirs(root)? {
        let site_name = site_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if site_name == "omics" {
            continue;
        }
        for case_dir in sorted_subdirs(&site_dir)? {
            if !looks_like_case(&case_dir) {
                continue;
            }
            let id = case_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let row = labels.remove(&id);
            let has_omics = omics_samples.contains(&id);
            entries.push(entry_for(case_dir, site_name.clone(), id, row, has_omics));
        }
    }
    if let Some(case_id) = labels.keys().min() {
        return Err(CohortError::MissingCase {
            path: labels_path,
            case_id: case_id.clone(),
        });
    }
    Ok(Cohort {
        root: root.to_path_buf(),
        entries,
        omics_table,
    })
}

/// Loads every modality of one case. Masks are checked against the image grid; the DICOM series
/// must be regular (a slice gap is an error here, because a model must not see a distorted volume).
pub fn load_case(
    entry: &CohortEntry,
    omics: Option<&ExpressionTable>,
) -> Result<Case, CohortError> {
    let case_id = entry.id.clone();
    let mut case = Case {
        id: case_id.clone(),
        site: Some(entry.site.clone()),
        label: entry.label,
        ..Case::default()
    };
    if let Some(dir) = &entry.dicom_dir {
        let series = oncolens_dicom::read_series(dir, &oncolens_dicom::ReadOptions::default())
            .map_err(|source| CohortError::Dicom {
                case_id: case_id.clone(),
                source,
            })?;
        case.image = Some(series.volume);
    } else if let Some(path) = &entry.image_nifti {
        let img = oncolens_nifti::read_volume(path).map_err(|source| CohortError::Nifti {
            case_id: case_id.clone(),
            source,
        })?;
        case.image = Some(img.volume);
    }
    let read_mask = |path: &PathBuf| -> Result<LabelMap, CohortError> {
        let mask = oncolens_nifti::read_label_map(path).map_err(|source| CohortError::Nifti {
            case_id: case_id.clone(),
            source,
        })?;
        if let Some(image) = &case.image {
            mask.check_matches(image)
                .map_err(|e| CohortError::MaskGrid {
                    case_id: case_id.clone(),
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(mask)
    };
    case.lesion_mask = entry.lesion_mask.as_ref().map(read_mask).transpose()?;
    case.organ_mask = entry.organ_mask.as_ref().map(read_mask).transpose()?;
    if let Some(path) = &entry.fhir {
        let read =
            oncolens_records::fhir::read_bundle(path).map_err(|source| CohortError::Records {
                case_id: case_id.clone(),
                source,
            })?;
        case.clinical = Some(read.record);
    }
    if let Some(path) = &entry.report {
        let text =
            oncolens_records::report::read_report(path).map_err(|source| CohortError::Records {
                case_id: case_id.clone(),
                source,
            })?;
        case.report = Some(ReportText { text: text.text });
    }
    if let Some(table) = omics {
        case.omics = table.profile(&entry.id);
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_csv_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.csv");
        std::fs::write(&p, "case_id,malignant\na,1\nb,yes\n").unwrap();
        let err = read_labels(&p).err().unwrap().to_string();
        assert!(err.contains("line 3") && err.contains("yes"), "{err}");
        std::fs::write(&p, "id,malignant\na,1\n").unwrap();
        assert!(
            read_labels(&p)
                .err()
                .unwrap()
                .to_string()
                .contains("case_id")
        );
        std::fs::write(&p, "case_id,malignant\na,1\na,0\n").unwrap();
        assert!(read_labels(&p).err().unwrap().to_string().contains("twice"));
    }

    #[test]
    fn scan_finds_cases_and_flags_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path().join("site_a").join("case_1");
        std::fs::create_dir_all(&case).unwrap();
        std::fs::write(case.join("report.txt"), "text").unwrap();
        std::fs::write(
            dir.path().join("labels.csv"),
            "case_id,site,malignant,split\ncase_1,site_a,1,test\n",
        )
        .unwrap();
        let cohort = scan_cohort(dir.path()).unwrap();
        assert_eq!(cohort.entries.len(), 1);
        let e = &cohort.entries[0];
        assert_eq!(e.label, Some(CaseLabel(1)));
        assert_eq!(e.split.as_deref(), Some("test"));
        assert!(e.report.is_some() && e.fhir.is_none() && e.dicom_dir.is_none());
        std::fs::write(
            dir.path().join("labels.csv"),
            "case_id,malignant\ncase_1,1\ncase_2,0\n",
        )
        .unwrap();
        let err = scan_cohort(dir.path()).unwrap_err();
        assert!(err.to_string().contains("case_2"), "{err}");
    }
}
