//! De-identification: the DICOM PS3.15 Basic Application Level Confidentiality Profile, and keyed
//! pseudonyms shared by a patient's DICOM, FHIR, report and omics records.
//!
//! Everything is derived from one secret [`PseudonymKey`] with HMAC-SHA256, so the same patient
//! gets the same pseudonym, the same remapped UIDs and the same date shift in every modality and
//! on every run, without any lookup table that could re-identify them.

mod dicom;
mod fhir;
mod key;
mod profile;
mod text;

pub use dicom::{DeidLog, DeidOptions, deidentify_dicom, deidentify_dicom_file};
pub use fhir::deidentify_fhir_bundle;
pub use key::{PseudonymKey, date_shift_days, pseudonym, remap_uid};
pub use profile::{Action, BASIC_PROFILE, action_for};
pub use text::{header_identifiers, is_whole_word_at, scrub_report};

use std::path::PathBuf;

use thiserror::Error;

/// Errors of de-identification; each names the file.
#[derive(Debug, Error)]
pub enum DeidError {
    #[error("pseudonym key: {0}")]
    Key(String),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{0}")]
    Fhir(String),
}
