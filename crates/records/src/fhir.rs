//! FHIR R4 Bundle (JSON) → [`ClinicalRecord`].
//!
//! Interprets Patient (sex, birth date, vital status), ImagingStudy (study date), Observation
//! (tumour markers by LOINC code, with UCUM units) and Condition (diagnoses and primary tumour
//! site by SNOMED CT). Codes outside our tables are kept in `unknown_codes` and listed in the
//! warnings: nothing is dropped silently. Identifiers go to [`PatientIdentity`], used only for
//! pseudonymisation and never printed.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use oncolens_core::{ClinicalRecord, CodedConcept, Measurement, Sex};
use serde_json::Value;

use crate::RecordsError;

pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";

/// Laboratory codes oncolens interprets: (LOINC code, short name, expected UCUM unit).
pub const MARKERS: &[(&str, &str, &str)] = &[
    ("2532-0", "ldh", "U/L"),
    ("718-7", "hemoglobin", "g/dL"),
    ("2160-0", "creatinine", "mg/dL"),
    ("17861-6", "calcium", "mg/dL"),
    ("2039-6", "cea", "ng/mL"),
    ("24108-3", "ca19_9", "U/mL"),
    ("2857-1", "psa", "ng/mL"),
    ("1834-1", "afp", "ng/mL"),
    ("10334-1", "ca125", "U/mL"),
    ("39156-5", "bmi", "kg/m2"),
    ("33914-3", "egfr", "mL/min/{1.73_m2}"),
];

/// Body structures (SNOMED CT) recognised as primary tumour sites: (code, display).
pub const BODY_SITES: &[(&str, &str)] = &[
    ("64033007", "Kidney structure"),
    ("9846003", "Right kidney structure"),
    ("18639004", "Left kidney structure"),
    ("39607008", "Lung structure"),
    ("76752008", "Breast structure"),
    ("71854001", "Colon structure"),
    ("41216001", "Prostatic structure"),
    ("10200004", "Liver structure"),
    ("15776009", "Pancreatic structure"),
    ("69695003", "Stomach structure"),
    ("23451007", "Adrenal structure"),
    ("89837001", "Urinary bladder structure"),
];

/// Neoplasm diagnoses (SNOMED CT): (code, display, implied body site when bodySite is absent).
pub const NEOPLASMS: &[(&str, &str, Option<&str>)] = &[
    ("126880001", "Neoplasm of kidney", Some("64033007")),
    ("363518003", "Malignant tumor of kidney", Some("64033007")),
    (
        "93849006",
        "Primary malignant neoplasm of kidney",
        Some("64033007"),
    ),
    ("126713003", "Neoplasm of lung", Some("39607008")),
    ("363358000", "Malignant tumor of lung", Some("39607008")),
    ("126926005", "Neoplasm of breast", Some("76752008")),
    (
        "254837009",
        "Malignant neoplasm of breast",
        Some("76752008"),
    ),
    ("126838000", "Neoplasm of colon", Some("71854001")),
    ("363406005", "Malignant tumor of colon", Some("71854001")),
    ("126906006", "Neoplasm of prostate", Some("41216001")),
    ("399068003", "Malignant tumor of prostate", Some("41216001")),
    ("108369006", "Neoplasm", None),
    ("363346000", "Malignant neoplastic disease", None),
];

/// Who the record is about. Used only to derive pseudonyms; `Debug` prints nothing identifying.
#[derive(Clone, Default, PartialEq)]
pub struct PatientIdentity {
    /// `Patient.id`
    pub resource_id: Option<String>,
    /// `Patient.identifier[]` as (system, value).
    pub identifiers: Vec<(Option<String>, String)>,
    /// Family and given names, and `name.text`.
    pub names: Vec<String>,
    /// `Patient.birthDate` as written.
    pub birth_date: Option<String>,
}

impl std::fmt::Debug for PatientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PatientIdentity {{ <redacted: {} identifiers, {} names> }}",
            self.identifiers.len(),
            self.names.len()
        )
    }
}

impl PatientIdentity {
    /// The value of the medical record number (identifier type `MR`, else the first identifier).
    pub fn primary_identifier(&self) -> Option<&str> {
        self.identifiers.first().map(|(_, v)| v.as_str())
    }
}

/// What was read from a bundle.
#[derive(Debug, Clone)]
pub struct FhirRead {
    pub record: ClinicalRecord,
    pub subject: PatientIdentity,
    /// Human-readable notes: uninterpreted codes and resources, fallbacks, unit mismatches.
    pub warnings: Vec<String>,
}

/// Reads a bundle file.
pub fn read_bundle(path: &Path) -> Result<FhirRead, RecordsError> {
    let text = std::fs::read_to_string(path).map_err(|source| RecordsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_bundle(&text, path)
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, json_path: impl Into<String>, message: impl Into<String>) -> RecordsError {
        RecordsError::Fhir {
            path: self.path.to_path_buf(),
            json_path: json_path.into(),
            message: message.into(),
        }
    }

    fn str_at<'v>(
        &self,
        v: &'v Value,
        key: &str,
        at: &str,
    ) -> Result<Option<&'v str>, RecordsError> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(
                format!("{at}.{key}"),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    }

    fn array_at<'v>(&self, v: &'v Value, key: &str, at: &str) -> Result<&'v [Value], RecordsError> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(self.err(
                format!("{at}.{key}"),
                format!("expected an array, found {}", kind(other)),
            )),
        }
    }

    fn codings(
        &self,
        concept: Option<&Value>,
        at: &str,
    ) -> Result<Vec<CodedConcept>, RecordsError> {
        let Some(concept) = concept else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, c) in self.array_at(concept, "coding", at)?.iter().enumerate() {
            let cat = format!("{at}.coding[{i}]");
            let code = self.str_at(c, "code", &cat)?;
            let Some(code) = code else { continue };
            out.push(CodedConcept {
                system: self.str_at(c, "system", &cat)?.unwrap_or("").to_owned(),
                code: code.to_owned(),
                display: self.str_at(c, "display", &cat)?.map(str::to_owned),
            });
        }
        Ok(out)
    }

    fn date(&self, s: &str, at: &str) -> Result<(NaiveDate, bool), RecordsError> {
        // FHIR date/dateTime: YYYY, YYYY-MM, YYYY-MM-DD, optionally followed by a time.
        let d = s.get(..10).unwrap_or(s);
        let parsed = match d.len() {
            4 => d
                .parse::<i32>()
                .ok()
                .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
                .map(|x| (x, false)),
            7 => NaiveDate::parse_from_str(&format!("{d}-01"), "%Y-%m-%d")
                .ok()
                .map(|x| (x, false)),
            10 => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .map(|x| (x, true)),
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.err(
                at,
                format!("`{s}` is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)"),
            )
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(c: &CodedConcept) -> String {
    format!(
        "{}|{}{}",
        c.system,
        c.code,
        c.display
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    )
}

/// Whole years between two dates, as a clinician counts them.
fn whole_years(birth: NaiveDate, at: NaiveDate) -> i32 {
    let mut years = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// Parses bundle JSON; `source` names the file in errors and warnings.
pub fn parse_bundle(json: &str, source: &Path) -> Result<FhirRead, RecordsError> {
    let ctx = Ctx { path: source };
    let root: Value = serde_json::from_str(json).map_err(|e| RecordsError::Json {
        path: source.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    match root.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => {}
        Some(other) => return Err(ctx.err("resourceType", format!("`{other}` is not a Bundle"))),
        None => return Err(ctx.err("resourceType", "missing; a FHIR Bundle is expected")),
    }
    let entries = ctx.array_at(&root, "entry", "")?;
    let mut warnings = Vec::new();
    if entries.is_empty() {
        warnings.push("bundle has no entries".to_owned());
    }
    let mut record = ClinicalRecord::default();
    let mut subject = PatientIdentity::default();
    let mut birth: Option<(NaiveDate, bool)> = None;
    let mut study_date: Option<NaiveDate> = None;
    let mut latest_observation: Option<NaiveDate> = None;
    let mut marker_dates: Vec<(String, Option<String>)> = Vec::new();
    let mut patients = 0;

    for (i, entry) in entries.iter().enumerate() {
        let at = format!("entry[{i}].resource");
        let resource = entry
            .get("resource")
            .ok_or_else(|| ctx.err(&at, "missing"))?;
        if !resource.is_object() {
            return Err(ctx.err(&at, format!("expected an object, found {}", kind(resource))));
        }
        let rtype = ctx
            .str_at(resource, "resourceType", &at)?
            .ok_or_else(|| ctx.err(format!("{at}.resourceType"), "missing"))?;
        match rtype {
            "Patient" => {
                patients += 1;
                if patients > 1 {
                    return Err(
                        ctx.err(&at, "a second Patient: a bundle must describe one patient")
                    );
                }
                subject.resource_id = ctx.str_at(resource, "id", &at)?.map(str::to_owned);
                for (k, ident) in ctx
                    .array_at(resource, "identifier", &at)?
                    .iter()
                    .enumerate()
                {
                    let iat = format!("{at}.identifier[{k}]");
                    if let Some(v) = ctx.str_at(ident, "value", &iat)? {
                        subject.identifiers.push((
                            ctx.str_at(ident, "system", &iat)?.map(str::to_owned),
                            v.to_owned(),
                        ));
                    }
                }
                for (k, name) in ctx.array_at(resource, "name", &at)?.iter().enumerate() {
                    let nat = format!("{at}.name[{k}]");
                    for key in ["family", "text"] {
                        if let Some(v) = ctx.str_at(name, key, &nat)? {
                            subject.names.push(v.to_owned());
                        }
                    }
                    for g in ctx.array_at(name, "given", &nat)? {
                        if let Some(v) = g.as_str() {
                            subject.names.push(v.to_owned());
                        }
                    }
                }
                record.sex = match ctx.str_at(resource, "gender", &at)? {
                    None => None,
                    Some("male") => Some(Sex::Male),
                    Some("female") => Some(Sex::Female),
                    Some("other") => Some(Sex::Other),
                    Some("unknown") => Some(Sex::Unknown),
                    Some(g) => {
                        return Err(ctx.err(
                            format!("{at}.gender"),
                            format!("`{g}` is not one of male, female, other, unknown"),
                        ));
                    }
                };
                if let Some(b) = ctx.str_at(resource, "birthDate", &at)? {
                    subject.birth_date = Some(b.to_owned());
                    birth = Some(ctx.date(b, &format!("{at}.birthDate"))?);
                }
                record.vital_status = match (
                    resource.get("deceasedBoolean"),
                    resource.get("deceasedDateTime"),
                ) {
                    (_, Some(Value::String(_))) | (Some(Value::Bool(true)), _) => {
                        Some("deceased".into())
                    }
                    (Some(Value::Bool(false)), _) => Some("alive".into()),
                    _ => None,
                };
            }
            "ImagingStudy" => {
                if let Some(s) = ctx.str_at(resource, "started", &at)? {
                    let (d, _) = ctx.date(s, &format!("{at}.started"))?;
                    if study_date.is_some() {
                        warnings.push(format!(
                            "{at}: several imaging studies; age is computed at the earliest"
                        ));
                    }
                    study_date = Some(study_date.map_or(d, |x: NaiveDate| x.min(d)));
                }
            }
            "Observation" => {
                let codes = ctx.codings(resource.get("code"), &format!("{at}.code"))?;
                let effective = ctx.str_at(resource, "effectiveDateTime", &at)?;
                if let Some(e) = effective {
                    let (d, _) = ctx.date(e, &format!("{at}.effectiveDateTime"))?;
                    latest_observation =
                        Some(latest_observation.map_or(d, |x: NaiveDate| x.max(d)));
                }
                let known = codes.iter().find_map(|c| {
                    (c.system == LOINC)
                        .then(|| MARKERS.iter().find(|(code, _, _)| *code == c.code))
                        .flatten()
                        .map(|m| (c.clone(), *m))
                });
                let Some((coding, (_, name, expected_unit))) = known else {
                    if codes.is_empty() {
                        warnings.push(format!(
                            "{at}: Observation without a coded `code`; not interpreted"
                        ));
                    }
                    for c in codes {
                        warnings.push(format!(
                            "{at}: Observation code {} is not interpreted by oncolens",
                            describe(&c)
                        ));
                        record.unknown_codes.push(c);
                    }
                    continue;
                };
                let qat = format!("{at}.valueQuantity");
                let Some(q) = resource.get("valueQuantity") else {
                    if resource.get("dataAbsentReason").is_some() {
                        warnings.push(format!("{at}: {name} has no value (dataAbsentReason)"));
                        continue;
                    }
                    return Err(ctx.err(
                        &qat,
                        format!(
                            "missing: Observation {} ({name}) needs a numeric value",
                            coding.code
                        ),
                    ));
                };
                let value = q
                    .get("value")
                    .ok_or_else(|| ctx.err(format!("{qat}.value"), "missing"))?
                    .as_f64()
                    .ok_or_else(|| ctx.err(format!("{qat}.value"), "expected a number"))?;
                let unit = ctx
                    .str_at(q, "code", &qat)?
                    .or(ctx.str_at(q, "unit", &qat)?)
                    .map(str::to_owned);
                if unit.as_deref() != Some(expected_unit) {
                    warnings.push(format!(
                        "{at}: {name} unit is {}, expected {expected_unit}; value kept as written",
                        unit.as_deref().unwrap_or("missing")
                    ));
                }
                if let Some(pos) = record
                    .markers
                    .iter()
                    .position(|m| m.name.as_deref() == Some(name))
                {
                    warnings.push(format!("{at}: several {name} values; the latest is kept"));
                    let newer = effective.map(str::to_owned) > marker_dates[pos].1;
                    if newer {
                        record.markers.remove(pos);
                        marker_dates.remove(pos);
                    } else {
                        continue;
                    }
                }
                marker_dates.push((name.to_owned(), effective.map(str::to_owned)));
                record.markers.push(Measurement {
                    code: coding,
                    name: Some(name.to_owned()),
                    value,
                    unit,
                    effective: effective.map(str::to_owned),
                });
            }
            "Condition" => {
                let codes = ctx.codings(resource.get("code"), &format!("{at}.code"))?;
                let mut neoplasm_site = None;
                let mut is_neoplasm = false;
                for c in &codes {
                    let known = (c.system == SNOMED)
                        .then(|| NEOPLASMS.iter().find(|(code, _, _)| *code == c.code))
                        .flatten();
                    match known {
                        Some((_, _, site)) => {
                            is_neoplasm = true;
                            neoplasm_site = neoplasm_site.or(*site);
                        }
                        None => {
                            warnings.push(format!(
                                "{at}: Condition code {} is not interpreted by oncolens",
                                describe(c)
                            ));
                            record.unknown_codes.push(c.clone());
                        }
                    }
                    record.conditions.push(c.clone());
                }
                if !is_neoplasm {
                    continue;
                }
                let mut site = None;
                for (k, bs) in ctx.array_at(resource, "bodySite", &at)?.iter().enumerate() {
                    for c in ctx.codings(Some(bs), &format!("{at}.bodySite[{k}]"))? {
                        let known = c.system == SNOMED
                            && BODY_SITES.iter().any(|(code, _)| *code == c.code);
                        if !known {
                            warnings.push(format!(
                                "{at}: body site {} is not interpreted by oncolens",
                                describe(&c)
                            ));
                            record.unknown_codes.push(c.clone());
                        }
                        site = site.or(Some(c));
                    }
                }
                let site = site.or_else(|| {
                    neoplasm_site.and_then(|code| {
                        BODY_SITES
                            .iter()
                            .find(|(c, _)| *c == code)
                            .map(|(c, d)| CodedConcept {
                                system: SNOMED.into(),
                                code: (*c).into(),
                                display: Some((*d).into()),
                            })
                    })
                });
                if record.primary_site.is_some() && site.is_some() && record.primary_site != site {
                    warnings.push(format!(
                        "{at}: a second tumour site; the first is kept as primary"
                    ));
                }
                if record.primary_site.is_none() {
                    record.primary_site = site;
                }
            }
            other => warnings.push(format!(
                "{at}: resource type {other} is not interpreted by oncolens"
            )),
        }
    }
    if patients == 0 {
        warnings.push("bundle has no Patient: age and sex unknown".into());
    }
    if let Some((b, full)) = birth {
        let reference = match (study_date, latest_observation) {
            (Some(d), _) => Some(d),
            (None, Some(d)) => {
                warnings.push(
                    "no ImagingStudy.started: age computed at the latest Observation date".into(),
                );
                Some(d)
            }
            (None, None) => {
                let ts = ctx.str_at(&root, "timestamp", "")?;
                match ts {
                    Some(t) => {
                        warnings.push(
                            "no study or observation date: age computed at Bundle.timestamp".into(),
                        );
                        Some(ctx.date(t, "timestamp")?.0)
                    }
                    None => {
                        warnings.push("no reference date in the bundle: age unknown".into());
                        None
                    }
                }
            }
        };
        if let Some(r) = reference {
            if !full {
                warnings.push("birthDate is not a full date: age may be off by one year".into());
            }
            let years = whole_years(b, r);
            if years < 0 {
                return Err(ctx.err("Patient.birthDate", "birth date is after the study date"));
            }
            record.age_years = Some(f64::from(years));
        }
    }
    Ok(FhirRead {
        record,
        subject,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_years_counts_birthdays() {
        let b = NaiveDate::from_ymd_opt(1960, 6, 15).unwrap();
        assert_eq!(
            whole_years(b, NaiveDate::from_ymd_opt(2020, 6, 14).unwrap()),
            59
        );
        assert_eq!(
            whole_years(b, NaiveDate::from_ymd_opt(2020, 6, 15).unwrap()),
            60
        );
    }

    #[test]
    fn identity_debug_is_redacted() {
        let id = PatientIdentity {
            resource_id: Some("p1".into()),
            identifiers: vec![(None, "MRN123".into())],
            names: vec!["Jansen".into()],
            birth_date: Some("1960-01-01".into()),
        };
        let s = format!("{id:?}");
        assert!(
            !s.contains("MRN123") && !s.contains("Jansen") && !s.contains("1960"),
            "{s}"
        );
    }
}
