//! One patient's multimodal record, and a cohort of patients from several sites.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{ClinicalRecord, LabelMap, Volume};

/// Identifier of a site (hospital / data station), e.g. `site_a`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SiteId(pub String);

impl std::fmt::Display for SiteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The modalities a case may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Image,
    Clinical,
    Text,
    Omics,
}

impl Modality {
    pub const ALL: [Modality; 4] = [
        Modality::Image,
        Modality::Clinical,
        Modality::Text,
        Modality::Omics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Clinical => "clinical",
            Modality::Text => "text",
            Modality::Omics => "omics",
        }
    }
}

/// Free-text report (radiology or pathology), UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportText {
    pub text: String,
}

/// Expression values of one patient, aligned with a gene list shared across the cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OmicsProfile {
    pub genes: Vec<String>,
    pub values: Vec<f64>,
}

/// The label a model learns, when known (e.g. benign = 0 / malignant = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLabel(pub u8);

/// One patient's data in memory. Every modality is optional: a model must cope when one is absent.
#[derive(Debug, Clone, Default)]
pub struct Case {
    /// Pseudonymous case id (never a hospital identifier).
    pub id: String,
    pub site: Option<SiteId>,
    /// CT in Hounsfield units.
    pub image: Option<Volume<f32>>,
    /// Lesion mask on the image grid.
    pub lesion_mask: Option<LabelMap>,
    /// Organ (e.g. kidney) mask on the image grid.
    pub organ_mask: Option<LabelMap>,
    pub clinical: Option<ClinicalRecord>,
    pub report: Option<ReportText>,
    pub omics: Option<OmicsProfile>,
    pub label: Option<CaseLabel>,
}

impl Case {
    /// Which modalities are present.
    pub fn modalities(&self) -> Vec<Modality> {
        let mut m = Vec::new();
        if self.image.is_some() {
            m.push(Modality::Image);
        }
        if self.clinical.is_some() {
            m.push(Modality::Clinical);
        }
        if self.report.is_some() {
            m.push(Modality::Text);
        }
        if self.omics.is_some() {
            m.push(Modality::Omics);
        }
        m
    }
}

/// Where one case's files are in a cohort folder; loading is lazy so a cohort of hundreds of CTs
/// can be listed without reading any voxels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortEntry {
    pub id: String,
    pub site: SiteId,
    pub dir: PathBuf,
    /// Folder of DICOM slices, when present.
    pub dicom_dir: Option<PathBuf>,
    /// Image as NIfTI instead of DICOM, when present.
    pub image_nifti: Option<PathBuf>,
    pub lesion_mask: Option<PathBuf>,
    pub organ_mask: Option<PathBuf>,
    pub fhir: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub has_omics: bool,
    pub label: Option<CaseLabel>,
    /// Official split (`train`, `val`, `test`) when the source defines one.
    pub split: Option<String>,
}

/// Cases from one or more sites.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    pub root: PathBuf,
    pub entries: Vec<CohortEntry>,
    /// Path of the cohort's gene-expression table, when present.
    pub omics_table: Option<PathBuf>,
}

impl Cohort {
    /// The distinct sites, sorted.
    pub fn sites(&self) -> Vec<SiteId> {
        let mut s: Vec<SiteId> = self.entries.iter().map(|e| e.site.clone()).collect();
        s.sort();
        s.dedup();
        s
    }

    /// Entries of one site.
    pub fn site_entries<'a>(&'a self, site: &'a SiteId) -> impl Iterator<Item = &'a CohortEntry> {
        self.entries.iter().filter(move |e| &e.site == site)
    }
}
