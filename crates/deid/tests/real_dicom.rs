//! The Basic Profile on a real CT file from pydicom's test data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use dicom_core::header::Header;
use dicom_dictionary_std::tags;
use oncolens_deid::{
    Action, DeidOptions, PseudonymKey, action_for, deidentify_dicom_file, pseudonym,
};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/deid/CT_small.dcm")
}

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("00112233445566778899aabbccddeeff").unwrap()
}

fn text(obj: &dicom_object::DefaultDicomObject, tag: dicom_core::Tag) -> Option<String> {
    obj.element(tag).ok().and_then(|e| {
        e.to_str()
            .ok()
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
    })
}

#[test]
fn no_identifying_or_private_attribute_survives_and_geometry_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ct.dcm");
    let log = deidentify_dicom_file(&fixture(), &out, &key(), &DeidOptions::default()).unwrap();
    assert_eq!(log.private_removed, 179);
    let before = dicom_object::open_file(fixture()).unwrap();
    let after = dicom_object::open_file(&out).unwrap();

    // Every attribute the profile removes, empties or replaces no longer carries its value.
    let raw = std::fs::read(&out).unwrap();
    for elem in before.iter() {
        let tag = elem.tag();
        let action = action_for(tag);
        if matches!(action, Action::K) {
            continue;
        }
        if !tag.group().is_multiple_of(2) {
            assert!(after.element(tag).is_err(), "private {tag:?} survived");
            continue;
        }
        if let Some(v) = text(&before, tag).filter(|v| v.len() >= 4) {
            assert_ne!(
                text(&after, tag).as_deref(),
                Some(v.as_str()),
                "{tag:?} kept its value"
            );
            if matches!(action, Action::X | Action::Z | Action::D) {
                assert!(
                    !raw.windows(v.len()).any(|w| w == v.as_bytes()),
                    "{tag:?} value found in file bytes"
                );
            }
        }
    }
    assert!(text(&after, tags::INSTITUTION_NAME).is_none());
    assert_eq!(
        text(&after, tags::PATIENT_ID),
        Some(pseudonym(&key(), "1CT1"))
    );
    assert_eq!(
        text(&after, tags::PATIENT_NAME),
        text(&after, tags::PATIENT_ID)
    );
    assert_eq!(
        text(&after, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES")
    );
    // UIDs remapped, and the file meta follows the new SOP Instance UID.
    let sop = text(&after, tags::SOP_INSTANCE_UID).unwrap();
    assert_ne!(Some(sop.clone()), text(&before, tags::SOP_INSTANCE_UID));
    assert!(sop.starts_with("2.25."));
    assert_eq!(
        after
            .meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches('\0'),
        sop
    );
    // Dates shifted, not removed.
    let date = text(&after, tags::STUDY_DATE).unwrap();
    assert_eq!(date.len(), 8);
    assert_ne!(date, "20040119");
    // Geometry, rescale and pixels untouched.
    for tag in [
        tags::IMAGE_POSITION_PATIENT,
        tags::IMAGE_ORIENTATION_PATIENT,
        tags::PIXEL_SPACING,
        tags::RESCALE_SLOPE,
        tags::RESCALE_INTERCEPT,
        tags::ROWS,
        tags::COLUMNS,
        tags::PATIENT_SEX,
    ] {
        assert_eq!(text(&before, tag), text(&after, tag), "{tag:?}");
    }
    assert_eq!(
        before
            .element(tags::PIXEL_DATA)
            .unwrap()
            .to_bytes()
            .unwrap(),
        after.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap()
    );
}

#[test]
fn same_patient_same_pseudonym_and_uids_across_files_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.dcm"), dir.path().join("b.dcm"));
    deidentify_dicom_file(&fixture(), &a, &key(), &DeidOptions::default()).unwrap();
    deidentify_dicom_file(&fixture(), &b, &key(), &DeidOptions::default()).unwrap();
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "not deterministic"
    );
    let other = PseudonymKey::from_hex("ff112233445566778899aabbccddeeff").unwrap();
    let c = dir.path().join("c.dcm");
    deidentify_dicom_file(&fixture(), &c, &other, &DeidOptions::default()).unwrap();
    let sa = dicom_object::open_file(&a).unwrap();
    let sc = dicom_object::open_file(&c).unwrap();
    assert_ne!(
        text(&sa, tags::STUDY_INSTANCE_UID),
        text(&sc, tags::STUDY_INSTANCE_UID)
    );
    let err = deidentify_dicom_file(
        &dir.path().join("missing.dcm"),
        &c,
        &key(),
        &DeidOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing.dcm"), "{err}");
}
