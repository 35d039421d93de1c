//! Applying the profile to DICOM objects, recursively through sequences.

use std::path::Path;

use chrono::{Days, NaiveDate};
use dicom_core::header::Header;
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, meta::FileMetaTableBuilder};
use serde::Serialize;

use crate::profile::{Action, action_for};
use crate::{DeidError, PseudonymKey, date_shift_days, pseudonym, remap_uid};

/// Options for [`deidentify_dicom`].
#[derive(Debug, Clone)]
pub struct DeidOptions {
    /// Use this pseudonym for PatientID/PatientName instead of deriving it from PatientID (the
    /// cohort tool passes the pseudonym of the patient's primary identifier so every modality
    /// agrees).
    pub patient_pseudonym: Option<String>,
    /// The identifier that keys the date shift (defaults to PatientID).
    pub patient_identifier: Option<String>,
    /// Shift dates by the keyed offset (Modified Dates option); when false, dates are removed.
    pub shift_dates: bool,
}

impl Default for DeidOptions {
    fn default() -> Self {
        DeidOptions {
            patient_pseudonym: None,
            patient_identifier: None,
            shift_dates: true,
        }
    }
}

/// Counts of what was done (never values).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeidLog {
    pub removed: usize,
    pub private_removed: usize,
    pub emptied: usize,
    pub replaced: usize,
    pub uids_remapped: usize,
    pub dates_shifted: usize,
}

impl DeidLog {
    pub fn add(&mut self, other: &DeidLog) {
        self.removed += other.removed;
        self.private_removed += other.private_removed;
        self.emptied += other.emptied;
        self.replaced += other.replaced;
        self.uids_remapped += other.uids_remapped;
        self.dates_shifted += other.dates_shifted;
    }
}

struct Ctx<'a> {
    key: &'a PseudonymKey,
    pseudonym: String,
    shift_days: Option<i64>,
    log: DeidLog,
}

fn text_of(elem: &dicom_object::mem::InMemElement) -> Option<String> {
    elem.to_str()
        .ok()
        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
}

/// Shifts a DA value (`YYYYMMDD`); `None` when it is not a plain date.
fn shift_date(value: &str, days: i64) -> Option<String> {
    let d = NaiveDate::parse_from_str(value.get(..8)?, "%Y%m%d").ok()?;
    let shifted = if days < 0 {
        d.checked_sub_days(Days::new(days.unsigned_abs()))?
    } else {
        d.checked_add_days(Days::new(days as u64))?
    };
    Some(shifted.format("%Y%m%d").to_string())
}

fn clean(obj: &InMemDicomObject, ctx: &mut Ctx<'_>) -> InMemDicomObject {
    let mut out = Vec::new();
    for elem in obj.iter() {
        let tag = elem.tag();
        let action = action_for(tag);
        if action == Action::X {
            if !tag.group().is_multiple_of(2) {
                ctx.log.private_removed += 1;
            } else {
                ctx.log.removed += 1;
            }
            continue;
        }
        if let Some(items) = elem.items() {
            let cleaned: Vec<InMemDicomObject> = items.iter().map(|i| clean(i, ctx)).collect();
            out.push(DataElement::new(
                tag,
                VR::SQ,
                DataSetSequence::new(cleaned, Length::UNDEFINED),
            ));
            continue;
        }
        let vr = elem.vr();
        match action {
            Action::K => out.push(elem.clone()),
            Action::Z => {
                ctx.log.emptied += 1;
                out.push(DataElement::new(tag, vr, PrimitiveValue::Empty));
            }
            Action::D => {
                ctx.log.replaced += 1;
                let v = if tag == tags::PATIENT_NAME || tag == tags::PATIENT_ID {
                    ctx.pseudonym.clone()
                } else {
                    String::new()
                };
                out.push(DataElement::new(tag, vr, PrimitiveValue::from(v)));
            }
            Action::U => match text_of(elem) {
                Some(v) if !v.is_empty() => {
                    ctx.log.uids_remapped += 1;
                    let mapped: Vec<String> =
                        v.split('\\').map(|u| remap_uid(ctx.key, u)).collect();
                    out.push(DataElement::new(
                        tag,
                        vr,
                        PrimitiveValue::from(mapped.join("\\")),
                    ));
                }
                _ => out.push(elem.clone()),
            },
            Action::ShiftDate => {
                let shifted = match (ctx.shift_days, text_of(elem)) {
                    (Some(days), Some(v)) if !v.is_empty() => shift_date(&v, days),
                    (_, Some(v)) if v.is_empty() => Some(String::new()),
                    _ => None,
                };
                match shifted {
                    Some(v) => {
                        ctx.log.dates_shifted += usize::from(!v.is_empty());
                        out.push(DataElement::new(tag, vr, PrimitiveValue::from(v)));
                    }
                    None => ctx.log.removed += 1,
                }
            }
            Action::X => unreachable!("handled above"),
        }
    }
    InMemDicomObject::from_element_iter(out)
}

/// Code sequence item for DeidentificationMethodCodeSequence (CID 7050).
fn method_code(code: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from(code)),
        DataElement::new(
            tags::CODING_SCHEME_DESIGNATOR,
            VR::SH,
            PrimitiveValue::from("DCM"),
        ),
        DataElement::new(tags::CODE_MEANING, VR::LO, PrimitiveValue::from(meaning)),
    ])
}

/// De-identifies one DICOM object (see the crate docs for the profile and options).
pub fn deidentify_dicom(
    obj: DefaultDicomObject,
    key: &PseudonymKey,
    opts: &DeidOptions,
) -> Result<(DefaultDicomObject, DeidLog), DeidError> {
    let patient_id = obj
        .element(tags::PATIENT_ID)
        .ok()
        .and_then(text_of)
        .filter(|s| !s.is_empty());
    let identifier = opts
        .patient_identifier
        .clone()
        .or(patient_id)
        .unwrap_or_else(|| "unknown-patient".into());
    let mut ctx = Ctx {
        key,
        pseudonym: opts
            .patient_pseudonym
            .clone()
            .unwrap_or_else(|| pseudonym(key, &identifier)),
        shift_days: opts.shift_dates.then(|| date_shift_days(key, &identifier)),
        log: DeidLog::default(),
    };
    let transfer_syntax = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_owned();
    let mut cleaned = clean(&obj, &mut ctx);
    cleaned.put(DataElement::new(
        Tag(0x0012, 0x0062),
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    cleaned.put(DataElement::new(
        Tag(0x0012, 0x0063),
        VR::LO,
        PrimitiveValue::from("PS3.15 Basic Profile; Retain Patient Chars; Modified Dates"),
    ));
    cleaned.put(DataElement::new(
        Tag(0x0012, 0x0064),
        VR::SQ,
        DataSetSequence::new(
            vec![
                method_code("113100", "Basic Application Confidentiality Profile"),
                method_code(
                    "113107",
                    "Retain Longitudinal Temporal Information Modified Dates Option",
                ),
                method_code("113108", "Retain Patient Characteristics Option"),
            ],
            Length::UNDEFINED,
        ),
    ));
    let file = cleaned
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(transfer_syntax))
        .map_err(|e| DeidError::Write {
            path: "<memory>".into(),
            message: e.to_string(),
        })?;
    Ok((file, ctx.log))
}

/// Reads `input`, de-identifies it and writes `output` atomically.
pub fn deidentify_dicom_file(
    input: &Path,
    output: &Path,
    key: &PseudonymKey,
    opts: &DeidOptions,
) -> Result<DeidLog, DeidError> {
    let obj = dicom_object::open_file(input).map_err(|e| DeidError::Read {
        path: input.to_path_buf(),
        message: e.to_string(),
    })?;
    let (clean, log) = deidentify_dicom(obj, key, opts).map_err(|e| match e {
        DeidError::Write { message, .. } => DeidError::Write {
            path: output.to_path_buf(),
            message,
        },
        other => other,
    })?;
    oncolens_core::fs::write_atomic_with(output, |w| {
        clean.write_all(w).map_err(std::io::Error::other)
    })
    .map_err(|e| DeidError::Write {
        path: output.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_shift_by_whole_days() {
        assert_eq!(shift_date("20240301", -1).as_deref(), Some("20240229"));
        assert_eq!(shift_date("2024", -1), None);
    }
}
