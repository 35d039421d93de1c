//! `oncolens inspect`: read a file or folder with the right reader and summarise what was read.
//!
//! The JSON form is a contract other tools rely on: for images it always has `size` [x,y,z],
//! `spacing_mm`, `origin_mm`, `direction` (9 numbers, row-major, SimpleITK order), `modality` and
//! `hu` {`min`,`max`,`mean`,`std`}, plus `warnings` (for example a slice gap). It never contains
//! patient identifiers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oncolens_core::{ClinicalRecord, IntensityStats, Volume};
use serde::Serialize;
use thiserror::Error;

use crate::detect::{FileKind, detect};

/// Options for [`inspect`].
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    /// Which DICOM series to read when a folder holds several.
    pub series_uid: Option<String>,
}

/// Errors raised by [`inspect`]; each names the file.
#[derive(Debug, Error)]
pub enum InspectError {
    #[error(transparent)]
    Dicom(#[from] oncolens_dicom::DicomError),
    #[error(transparent)]
    Nifti(#[from] oncolens_nifti::NiftiError),
    #[error(transparent)]
    Records(#[from] oncolens_records::RecordsError),
    #[error(transparent)]
    Cohort(#[from] crate::cohort::CohortError),
    #[error("{0}: no such file or folder")]
    NotFound(PathBuf),
    #[error(
        "{0}: not a format oncolens reads (DICOM, NIfTI, FHIR JSON, report .txt, CSV/TSV, cohort folder)"
    )]
    Unknown(PathBuf),
    #[error("{path}: {message}")]
    Empty { path: PathBuf, message: String },
}

/// Geometry and intensity summary of an image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInspection {
    /// `dicom` or `nifti`.
    pub format: &'static str,
    pub size: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub origin_mm: [f64; 3],
    pub direction: [f64; 9],
    /// DICOM Modality (e.g. `CT`); `null` for NIfTI, which does not record one.
    pub modality: Option<String>,
    /// Intensity statistics (Hounsfield units for CT; the file's scaled values otherwise).
    pub hu: IntensityStats,
    pub warnings: Vec<String>,
    /// DICOM only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_syntaxes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// NIfTI only: header facts (version, datatype, qform/sform codes, affine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nifti: Option<serde_json::Value>,
}

/// Per-site counts of a cohort.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteCounts {
    pub cases: usize,
    pub labelled: usize,
    pub positive: usize,
    pub with_image: usize,
    pub with_lesion_mask: usize,
    pub with_clinical: usize,
    pub with_text: usize,
    pub with_omics: usize,
}

/// What [`inspect`] found.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inspection {
    Image(ImageInspection),
    FhirBundle {
        record: ClinicalRecord,
        warnings: Vec<String>,
    },
    Report {
        characters: usize,
        words: usize,
        lines: usize,
        sections: Vec<String>,
    },
    ExpressionTable {
        genes: usize,
        samples: usize,
        orientation: String,
        missing_values: usize,
    },
    Cohort {
        cases: usize,
        sites: BTreeMap<String, SiteCounts>,
        omics_table: Option<PathBuf>,
    },
}

impl ImageInspection {
    /// Geometry and intensity summary of `vol`; format-specific fields start empty.
    fn of_volume<T: Copy + Into<f64>>(
        format: &'static str,
        vol: &Volume<T>,
        path: &Path,
    ) -> Result<Self, InspectError> {
        let hu = vol.stats().ok_or_else(|| InspectError::Empty {
            path: path.to_path_buf(),
            message: "image has no voxels".into(),
        })?;
        let g = vol.geometry();
        Ok(ImageInspection {
            format,
            size: g.size,
            spacing_mm: g.spacing_mm,
            origin_mm: g.origin_mm,
            direction: g.direction.row_major(),
            modality: None,
            hu,
            warnings: Vec::new(),
            transfer_syntaxes: None,
            files: None,
            nifti: None,
        })
    }
}

/// Reads `path` with the reader its kind needs and summarises it.
pub fn inspect(path: &Path, options: &InspectOptions) -> Result<Inspection, InspectError> {
    if !path.exists() {
        return Err(InspectError::NotFound(path.to_path_buf()));
    }
    match detect(path) {
        FileKind::DicomFolder | FileKind::DicomFile => {
            let opts = oncolens_dicom::ReadOptions {
                series_uid: options.series_uid.clone(),
                gap_policy: oncolens_dicom::GapPolicy::Warn,
            };
            let series = oncolens_dicom::read_series(path, &opts)?;
            Ok(Inspection::Image(ImageInspection {
                modality: Some(series.modality.clone()),
                warnings: series.warnings.iter().map(|w| w.to_string()).collect(),
                transfer_syntaxes: Some(series.transfer_syntaxes.clone()),
                files: Some(series.files.len()),
                ..ImageInspection::of_volume("dicom", &series.volume, path)?
            }))
        }
        FileKind::Nifti => {
            let img = oncolens_nifti::read_volume(path)?;
            Ok(Inspection::Image(ImageInspection {
                nifti: serde_json::to_value(&img.header).ok(),
                ..ImageInspection::of_volume("nifti", &img.volume, path)?
            }))
        }
        FileKind::FhirBundle => {
            let read = oncolens_records::fhir::read_bundle(path)?;
            Ok(Inspection::FhirBundle {
                record: read.record,
                warnings: read.warnings,
            })
        }
        FileKind::Report => {
            let report = oncolens_records::report::read_report(path)?;
            let text = &report.text;
            let sections = text
                .lines()
                .map(str::trim)
                .filter(|l| l.len() > 3 && l.ends_with(':') && l.chars().all(|c| !c.is_lowercase()))
                .map(|l| l.trim_end_matches(':').to_owned())
                .collect();
            Ok(Inspection::Report {
                characters: text.chars().count(),
                words: text.split_whitespace().count(),
                lines: text.lines().count(),
                sections,
            })
        }
        FileKind::ExpressionTable => {
            let table = oncolens_records::omics::read_expression_table(path)?;
            Ok(Inspection::ExpressionTable {
                genes: table.genes.len(),
                samples: table.samples.len(),
                orientation: format!("{:?}", table.detected_orientation),
                missing_values: table.missing_values,
            })
        }
        FileKind::Cohort => {
            let cohort = crate::cohort::scan_cohort(path)?;
            let mut sites: BTreeMap<String, SiteCounts> = BTreeMap::new();
            for e in &cohort.entries {
                let s = sites.entry(e.site.0.clone()).or_default();
                s.cases += 1;
                if let Some(l) = e.label {
                    s.labelled += 1;
                    s.positive += usize::from(l.0 > 0);
                }
                s.with_image += usize::from(e.dicom_dir.is_some() || e.image_nifti.is_some());
                s.with_lesion_mask += usize::from(e.lesion_mask.is_some());
                s.with_clinical += usize::from(e.fhir.is_some());
                s.with_text += usize::from(e.report.is_some());
                s.with_omics += usize::from(e.has_omics);
            }
            Ok(Inspection::Cohort {
                cases: cohort.entries.len(),
                sites,
                omics_table: cohort.omics_table.clone(),
            })
        }
        FileKind::Unknown => Err(InspectError::Unknown(path.to_path_buf())),
    }
}

fn fmt3(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Inspection {
    /// A short human-readable summary.
    pub fn to_text(&self) -> String {
        match self {
            Inspection::Image(i) => {
                let mut s = format!(
                    "{} image\n  size (x,y,z):   {} x {} x {}\n  spacing (mm):   {}\n  origin (mm):    {}\n  direction:      {}\n  modality:       {}\n  intensity:      min {:.1}  max {:.1}  mean {:.2}  std {:.2}\n",
                    i.format.to_uppercase(),
                    i.size[0],
                    i.size[1],
                    i.size[2],
                    fmt3(&i.spacing_mm),
                    fmt3(&i.origin_mm),
                    fmt3(&i.direction),
                    i.modality.as_deref().unwrap_or("(not recorded)"),
                    i.hu.min,
                    i.hu.max,
                    i.hu.mean,
                    i.hu.std,
                );
                if let Some(ts) = &i.transfer_syntaxes {
                    s.push_str(&format!("  transfer syntax: {}\n", ts.join(", ")));
                }
                if let Some(n) = i.files {
                    s.push_str(&format!("  files:          {n}\n"));
                }
                for w in &i.warnings {
                    s.push_str(&format!("  WARNING: {w}\n"));
                }
                s
            }
            Inspection::FhirBundle { record, warnings } => {
                let mut s = String::from("FHIR R4 bundle -> clinical record\n");
                s.push_str(&format!(
                    "  age (years):    {}\n  sex:            {}\n",
                    record
                        .age_years
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into()),
                    record
                        .sex
                        .map(|x| format!("{x:?}").to_lowercase())
                        .unwrap_or_else(|| "-".into())
                ));
                if let Some(site) = &record.primary_site {
                    s.push_str(&format!(
                        "  primary site:   {} (SNOMED {})\n",
                        site.display.as_deref().unwrap_or("?"),
                        site.code
                    ));
                }
                for m in &record.markers {
                    s.push_str(&format!(
                        "  marker {:<10} {} {} (LOINC {})\n",
                        m.name.as_deref().unwrap_or("?"),
                        m.value,
                        m.unit.as_deref().unwrap_or(""),
                        m.code.code
                    ));
                }
                for w in warnings {
                    s.push_str(&format!("  WARNING: {w}\n"));
                }
                s
            }
            Inspection::Report {
                characters,
                words,
                lines,
                sections,
            } => format!(
                "report text: {characters} characters, {words} words, {lines} lines\n  sections: {}\n",
                sections.join(", ")
            ),
            Inspection::ExpressionTable {
                genes,
                samples,
                orientation,
                missing_values,
            } => format!(
                "expression table: {genes} genes x {samples} samples (file laid out {orientation}), {missing_values} missing values\n"
            ),
            Inspection::Cohort {
                cases,
                sites,
                omics_table,
            } => {
                let mut s = format!("cohort: {cases} cases in {} sites\n", sites.len());
                s.push_str(
                    "  site        cases  labelled  positive  image  mask  clinical  text  omics\n",
                );
                for (id, c) in sites {
                    s.push_str(&format!(
                        "  {id:<10} {:>6} {:>9} {:>9} {:>6} {:>5} {:>9} {:>5} {:>6}\n",
                        c.cases,
                        c.labelled,
                        c.positive,
                        c.with_image,
                        c.with_lesion_mask,
                        c.with_clinical,
                        c.with_text,
                        c.with_omics
                    ));
                }
                if let Some(t) = omics_table {
                    s.push_str(&format!("  omics table: {}\n", t.display()));
                }
                s
            }
        }
    }
}
