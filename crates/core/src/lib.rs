//! Core data types of oncolens.
//!
//! Every other crate speaks in these types: a [`Volume`] is voxels plus the physical geometry that
//! places them in the patient (LPS, millimetres), a [`LabelMap`] is a mask that is guaranteed to sit
//! on its image's grid, a [`ClinicalRecord`] is what a FHIR bundle says about a patient, and a
//! [`Case`] gathers one patient's modalities, any of which may be absent. A [`Cohort`] is cases with
//! the site (hospital) each comes from, because splits and evaluation are by patient and by site.

pub mod case;
pub mod clinical;
pub mod design;
pub mod error;
pub mod fs;
pub mod geometry;
pub mod label;
pub mod linalg;
pub mod newton;
pub mod volume;

pub use case::{Case, CaseLabel, Cohort, CohortEntry, Modality, OmicsProfile, ReportText, SiteId};
pub use clinical::{ClinicalRecord, CodedConcept, Measurement, Sex};
pub use error::CoreError;
pub use geometry::{Direction, Geometry};
pub use label::LabelMap;
pub use volume::{IntensityStats, Volume};
