//! FHIR R4 Bundle (type `collection`) for one patient: Patient, ImagingStudy, laboratory
//! Observations (LOINC) and the renal-mass Condition (SNOMED CT) with its body site.

use serde_json::{Value, json};

use crate::truth::Latent;

/// What goes into the bundle besides the latent variables.
pub struct BundleInputs<'a> {
    pub patient_resource_id: &'a str,
    pub mrn: &'a str,
    pub family: &'a str,
    pub given: &'a str,
    /// YYYY-MM-DD
    pub birth_date: &'a str,
    /// YYYY-MM-DD
    pub study_date: &'a str,
    pub study_uid: &'a str,
    pub n_slices: Option<usize>,
    /// Whether LDH was measured (missing values are realistic).
    pub has_ldh: bool,
    pub weight_kg: f64,
}

fn quantity_obs(
    id: &str,
    patient: &str,
    date: &str,
    loinc: &str,
    display: &str,
    value: f64,
    unit: &str,
) -> Value {
    json!({
        "fullUrl": format!("urn:uuid:{id}"),
        "resource": {
            "resourceType": "Observation",
            "id": id,
            "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": if loinc == "29463-7" { "vital-signs" } else { "laboratory" }
            }]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}], "text": display},
            "subject": {"reference": format!("Patient/{patient}")},
            "effectiveDateTime": date,
            "valueQuantity": {
                "value": (value * 100.0).round() / 100.0,
                "unit": unit,
                "system": "http://unitsofmeasure.org",
                "code": unit
            }
        }
    })
}

/// Builds the bundle. `None` modalities are simply not written by the caller.
pub fn bundle(l: &Latent, b: &BundleInputs<'_>) -> Value {
    let pid = b.patient_resource_id;
    let mut entries = vec![json!({
        "fullUrl": format!("urn:uuid:{pid}"),
        "resource": {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": "urn:oid:1.3.6.1.4.1.99999.1.1",
                "value": b.mrn
            }],
            "name": [{"use": "official", "family": b.family, "given": [b.given]}],
            "gender": if l.male { "male" } else { "female" },
            "birthDate": b.birth_date,
            "deceasedBoolean": false
        }
    })];
    let mut study = json!({
        "resourceType": "ImagingStudy",
        "id": format!("{pid}-ct"),
        "status": "available",
        "identifier": [{"system": "urn:dicom:uid", "value": format!("urn:oid:{}", b.study_uid)}],
        "subject": {"reference": format!("Patient/{pid}")},
        "started": b.study_date,
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
        "description": "CT abdomen with contrast"
    });
    if let Some(n) = b.n_slices {
        study["numberOfSeries"] = json!(1);
        study["numberOfInstances"] = json!(n);
    }
    entries.push(json!({"fullUrl": format!("urn:uuid:{pid}-ct"), "resource": study}));
    if b.has_ldh {
        entries.push(quantity_obs(
            &format!("{pid}-ldh"),
            pid,
            b.study_date,
            "2532-0",
            "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
            l.ldh_u_per_l,
            "U/L",
        ));
    }
    entries.push(quantity_obs(
        &format!("{pid}-hb"),
        pid,
        b.study_date,
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        l.hemoglobin_g_per_dl,
        "g/dL",
    ));
    entries.push(quantity_obs(
        &format!("{pid}-crea"),
        pid,
        b.study_date,
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        l.creatinine_mg_per_dl,
        "mg/dL",
    ));
    // Body weight is not a tumour marker: readers must report it as an uninterpreted code.
    entries.push(quantity_obs(
        &format!("{pid}-wt"),
        pid,
        b.study_date,
        "29463-7",
        "Body weight",
        b.weight_kg,
        "kg",
    ));
    let (site_code, site_display) = if l.right_kidney {
        ("9846003", "Right kidney structure")
    } else {
        ("18639004", "Left kidney structure")
    };
    entries.push(json!({
        "fullUrl": format!("urn:uuid:{pid}-renal-mass"),
        "resource": {
            "resourceType": "Condition",
            "id": format!("{pid}-renal-mass"),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "provisional"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "126880001", "display": "Neoplasm of kidney"}], "text": "Renal mass"},
            "bodySite": [{"coding": [{"system": "http://snomed.info/sct", "code": site_code, "display": site_display}]}],
            "subject": {"reference": format!("Patient/{pid}")},
            "recordedDate": b.study_date
        }
    }));
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": format!("{}T12:00:00Z", b.study_date),
        "entry": entries
    })
}
