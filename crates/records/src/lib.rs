//! Clinical and text records: FHIR R4 bundles, report text, gene-expression tables.
//!
//! Each reader turns one file into the core types (`ClinicalRecord`, `ReportText`,
//! `OmicsProfile`) and reports what it could not interpret instead of dropping it.

mod error;
pub mod fhir;
pub mod omics;
pub mod report;

pub use error::RecordsError;
