//! What a patient's clinical record says, independent of the format it came in (FHIR R4 today).

use serde::{Deserialize, Serialize};

/// Administrative sex as FHIR codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

/// A code from a terminology (LOINC, SNOMED CT, ...), with its human-readable display text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodedConcept {
    /// Terminology URI, e.g. `http://loinc.org`, `http://snomed.info/sct`.
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

/// A measured value, for example a tumour marker from a laboratory Observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub code: CodedConcept,
    /// Our short name for the code when we know it (e.g. `ldh`), else `None`.
    pub name: Option<String>,
    pub value: f64,
    /// UCUM unit as written in the record (e.g. `U/L`, `ng/mL`).
    pub unit: Option<String>,
    /// ISO 8601 date or date-time of the measurement, when given.
    pub effective: Option<String>,
}

/// A patient's clinical record. Identifiers never live here: the case id is a pseudonym.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClinicalRecord {
    /// Age in whole years at the imaging study (or at the record's reference date).
    pub age_years: Option<f64>,
    pub sex: Option<Sex>,
    /// Tumour markers and other laboratory values we recognise.
    pub markers: Vec<Measurement>,
    /// Primary tumour site (SNOMED CT body structure), when the record states one.
    pub primary_site: Option<CodedConcept>,
    /// Diagnoses (Condition.code) found in the record.
    pub conditions: Vec<CodedConcept>,
    /// Vital status / outcome as recorded (e.g. `alive`, `deceased`), when present.
    pub vital_status: Option<String>,
    /// Codes present in the record that oncolens does not interpret; kept so nothing is dropped
    /// silently. Each is reported by the reader.
    pub unknown_codes: Vec<CodedConcept>,
}

impl ClinicalRecord {
    /// The value of the marker with our short name `name` (e.g. `"ldh"`), if recorded.
    pub fn marker(&self, name: &str) -> Option<&Measurement> {
        self.markers
            .iter()
            .find(|m| m.name.as_deref() == Some(name))
    }
}
