//! Converters from public data sets into the oncolens cohort layout that
//! `oncolens_io::scan_cohort` / `load_case` read unchanged:
//!
//! | function | source | writes |
//! |---|---|---|
//! | [`import_medmnist`] | MedMNIST `.npz` (e.g. AdrenalMNIST3D) | `image.nii.gz`, `label`, official split |
//! | [`import_kits19`] | KiTS19 masks + `kits.json` | lesion and kidney masks, pre-operative `fhir.json`, `malignant`, `pathology.csv` (outcomes) |
//! | [`import_lidc`] | LIDC-IDRI DICOM + reading XML | `ct/`, reader / agreement / consensus masks, `malignant` from ratings, `nodules.csv` |
//! | [`import_tcga_reports`] | TCGA-Reports CSV | `report.txt`, `label` = pT index, seeded stratified split |
//!
//! Every converter refuses a non-empty output folder, writes into a hidden sibling folder that
//! is renamed into place at the end (a failed import leaves nothing behind), writes
//! `labels.csv` and `cohort.json` (source, licence, counts, rules), reports progress as
//! `(done, total)`, and returns an [`ImportSummary`].

pub mod error;
pub mod fhir_writer;
pub mod kits19;
mod kits19_fhir;
pub mod lidc;
pub mod lidc_xml;
pub mod medmnist;
pub mod npz;
mod output;
pub mod raster;
pub mod tcga;

pub use error::ImportError;
pub use kits19::{Kits19Options, import_kits19};
pub use lidc::{LidcOptions, import_lidc};
pub use medmnist::{MedmnistOptions, import_medmnist};
pub use output::ImportSummary;
pub use tcga::{TcgaOptions, import_tcga_reports};
