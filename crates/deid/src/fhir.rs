//! De-identifying a FHIR R4 bundle: identifying elements removed, the patient's id and every
//! reference to it replaced by the pseudonym, dates shifted by the patient's keyed offset.

use chrono::{Days, NaiveDate};
use serde_json::Value;

use crate::{DeidError, PseudonymKey, date_shift_days, pseudonym};

/// Elements removed wherever they appear: names, contact data, free text, identifiers.
const REMOVE: &[&str] = &[
    "name",
    "telecom",
    "address",
    "photo",
    "contact",
    "identifier",
    "text",
    "note",
    "managingOrganization",
    "generalPractitioner",
    "performer",
    "assigner",
    "maritalStatus",
    "communication",
];

/// Date-valued elements shifted.
const DATES: &[&str] = &[
    "birthDate",
    "started",
    "effectiveDateTime",
    "issued",
    "recordedDate",
    "onsetDateTime",
    "abatementDateTime",
    "deceasedDateTime",
    "timestamp",
    "start",
    "end",
];

fn shift(value: &str, days: i64) -> Option<String> {
    let date = NaiveDate::parse_from_str(value.get(..10)?, "%Y-%m-%d").ok()?;
    let shifted = date.checked_sub_days(Days::new(days.unsigned_abs()))?;
    Some(format!("{}{}", shifted.format("%Y-%m-%d"), &value[10..]))
}

fn walk(v: &mut Value, patient_ids: &[String], pseudo: &str, days: i64) {
    match v {
        Value::Object(map) => {
            for key in REMOVE {
                map.remove(*key);
            }
            for (k, child) in map.iter_mut() {
                if let Value::String(s) = child {
                    if DATES.contains(&k.as_str()) {
                        // Year-only or unparseable dates are dropped rather than kept.
                        *s = shift(s, days).unwrap_or_default();
                    } else if k == "reference" {
                        for id in patient_ids {
                            if s == &format!("Patient/{id}") || s == &format!("urn:uuid:{id}") {
                                *s = format!("Patient/{pseudo}");
                            }
                        }
                    } else if k == "fullUrl" {
                        *s = String::new();
                    }
                } else {
                    walk(child, patient_ids, pseudo, days);
                }
            }
            map.retain(|_, c| !matches!(c, Value::String(s) if s.is_empty()));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| walk(i, patient_ids, pseudo, days)),
        _ => {}
    }
}

/// De-identifies a bundle. `patient_identifier` keys the pseudonym and date shift (the MRN, so
/// that DICOM and FHIR agree); by default the Patient's first identifier value is used.
pub fn deidentify_fhir_bundle(
    mut bundle: Value,
    key: &PseudonymKey,
    patient_identifier: Option<&str>,
) -> Result<Value, DeidError> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(DeidError::Fhir("not a FHIR Bundle".into()));
    }
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let patient = entries
        .iter()
        .filter_map(|e| e.get("resource"))
        .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"));
    let mut patient_ids: Vec<String> = Vec::new();
    let mut first_identifier = None;
    if let Some(p) = patient {
        if let Some(id) = p.get("id").and_then(Value::as_str) {
            patient_ids.push(id.to_owned());
        }
        first_identifier = p
            .get("identifier")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|i| i.get("value"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let identifier = patient_identifier
        .map(str::to_owned)
        .or(first_identifier)
        .or_else(|| patient_ids.first().cloned())
        .ok_or_else(|| {
            DeidError::Fhir("bundle has no Patient identifier to key the pseudonym".into())
        })?;
    let pseudo = pseudonym(key, &identifier);
    let days = date_shift_days(key, &identifier);
    walk(&mut bundle, &patient_ids, &pseudo, days);
    if let Some(entries) = bundle.get_mut("entry").and_then(Value::as_array_mut) {
        for e in entries {
            if let Some(r) = e.get_mut("resource") {
                if r.get("resourceType").and_then(Value::as_str) == Some("Patient") {
                    r["id"] = Value::String(pseudo.clone());
                } else if let Some(obj) = r.as_object_mut() {
                    obj.remove("id");
                }
            }
        }
    }
    Ok(bundle)
}
