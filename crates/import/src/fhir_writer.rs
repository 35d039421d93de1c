//! Small builders for the FHIR R4 resources the importers write, in the shape
//! `oncolens_records::fhir::read_bundle` reads (and `oncolens-synth` writes): a `collection`
//! Bundle with one Patient, Observations coded in LOINC (or SNOMED CT) and Conditions coded in
//! SNOMED CT. Every coding may carry a second, source-specific coding (`urn:oncolens:...`) that
//! names the source field, so a value can be traced back to where it came from.

use serde_json::{Value, json};

pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const UCUM: &str = "http://unitsofmeasure.org";

/// One coding.
#[derive(Debug, Clone, Copy)]
pub struct Coding<'a> {
    pub system: &'a str,
    pub code: &'a str,
    pub display: &'a str,
}

impl Coding<'_> {
    fn to_json(self) -> Value {
        json!({"system": self.system, "code": self.code, "display": self.display})
    }
}

fn concept(codings: &[Coding<'_>], text: &str) -> Value {
    json!({
        "coding": codings.iter().map(|c| c.to_json()).collect::<Vec<_>>(),
        "text": text,
    })
}

/// The value of an Observation.
#[derive(Debug, Clone)]
pub enum ObsValue<'a> {
    /// A number with its UCUM unit, and an optional comparator (`>=` for "≥ 90").
    Quantity {
        value: f64,
        unit: &'a str,
        comparator: Option<&'a str>,
    },
    /// A coded answer.
    Coded(Vec<Coding<'a>>, &'a str),
}

/// A collection Bundle for one patient.
pub struct BundleBuilder {
    patient_id: String,
    timestamp: String,
    entries: Vec<Value>,
    next: usize,
}

impl BundleBuilder {
    /// `patient` is the Patient resource (see [`patient`]); `timestamp` a FHIR dateTime.
    pub fn new(patient_id: &str, patient: Value, timestamp: &str) -> Self {
        BundleBuilder {
            patient_id: patient_id.to_owned(),
            timestamp: timestamp.to_owned(),
            entries: vec![json!({
                "fullUrl": format!("urn:uuid:{patient_id}"),
                "resource": patient,
            })],
            next: 1,
        }
    }

    fn push(&mut self, kind: &str, mut resource: Value) {
        let id = format!("{}-{kind}-{}", self.patient_id, self.next);
        self.next += 1;
        resource["id"] = json!(id);
        resource["subject"] = json!({"reference": format!("Patient/{}", self.patient_id)});
        self.entries.push(json!({
            "fullUrl": format!("urn:uuid:{id}"),
            "resource": resource,
        }));
    }

    /// Adds an Observation; `category` is an observation-category code (`vital-signs`,
    /// `laboratory`, `social-history`, `imaging`, `exam`).
    pub fn observation(
        &mut self,
        category: &str,
        code: &[Coding<'_>],
        text: &str,
        value: ObsValue<'_>,
        effective: &str,
        note: Option<&str>,
    ) {
        let mut r = json!({
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": category,
            }]}],
            "code": concept(code, text),
            "effectiveDateTime": effective,
        });
        match value {
            ObsValue::Quantity {
                value,
                unit,
                comparator,
            } => {
                let mut q = json!({"value": value, "unit": unit, "system": UCUM, "code": unit});
                if let Some(c) = comparator {
                    q["comparator"] = json!(c);
                }
                r["valueQuantity"] = q;
            }
            ObsValue::Coded(codings, text) => {
                r["valueCodeableConcept"] = concept(&codings, text);
            }
        }
        if let Some(n) = note {
            r["note"] = json!([{"text": n}]);
        }
        self.push("obs", r);
    }

    /// Adds a Condition; `body_site` is a SNOMED CT body structure.
    pub fn condition(
        &mut self,
        code: &[Coding<'_>],
        text: &str,
        body_site: Option<Coding<'_>>,
        verification: &str,
        recorded: &str,
    ) {
        let mut r = json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "active",
            }]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": verification,
            }]},
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                "code": "problem-list-item",
            }]}],
            "code": concept(code, text),
            "recordedDate": recorded,
        });
        if let Some(site) = body_site {
            r["bodySite"] = json!([{"coding": [site.to_json()]}]);
        }
        self.push("cond", r);
    }

    /// The Bundle; `meta_note`, when given, is written as a Bundle.meta tag (e.g. that dates are
    /// nominal).
    pub fn build(self, meta_note: Option<(&str, &str)>) -> Value {
        let mut b = json!({
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": self.timestamp,
            "entry": self.entries,
        });
        if let Some((code, display)) = meta_note {
            b["meta"] = json!({"tag": [{
                "system": "urn:oncolens:import",
                "code": code,
                "display": display,
            }]});
        }
        b
    }
}

/// A Patient with only what models may use: administrative gender and birth date. No name, no
/// identifier.
pub fn patient(id: &str, gender: Option<&str>, birth_date: Option<&str>) -> Value {
    let mut p = json!({"resourceType": "Patient", "id": id});
    if let Some(g) = gender {
        p["gender"] = json!(g);
    }
    if let Some(b) = birth_date {
        p["birthDate"] = json!(b);
    }
    p
}
