//! De-identifying a generated cohort: one pseudonym per patient everywhere, nothing identifying
//! left, images and clinical values unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use oncolens_deid::PseudonymKey;
use oncolens_io::deid::{deidentify_cohort, find_identifiers};
use oncolens_io::{load_case, scan_cohort};

fn key() -> PseudonymKey {
    PseudonymKey::from_hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0").unwrap()
}

fn identities(cohort: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in scan_cohort(cohort).unwrap().entries {
        if let Some(f) = &e.fhir {
            let read = oncolens_records::fhir::read_bundle(f).unwrap();
            out.extend(read.subject.identifiers.iter().map(|(_, v)| v.clone()));
            out.extend(read.subject.names.iter().cloned());
        }
    }
    out
}

#[test]
fn cohort_is_pseudonymised_consistently_and_nothing_identifying_survives() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    let config = oncolens_synth::SynthConfig {
        patients: 6,
        sites: 2,
        seed: 21,
        matrix: 32,
        z_extent_mm: 120.0,
    };
    oncolens_synth::generate(&config, &src, &|| {}).unwrap();
    let ids = identities(&src);
    assert!(!ids.is_empty());
    // The scan can fire: the original cohort is full of identifiers.
    assert!(!find_identifiers(&src, &ids).is_empty());

    let summary = deidentify_cohort(&src, &dst, &key(), &|| {}).unwrap();
    assert_eq!(summary.cases, 6);
    assert!(
        summary.files_with_identifiers.is_empty(),
        "{:?}",
        summary.files_with_identifiers
    );
    assert!(find_identifiers(&dst, &ids).is_empty());
    assert!(summary.dicom_log.uids_remapped > 0 && summary.dicom_log.dates_shifted > 0);

    let before = scan_cohort(&src).unwrap();
    let after = scan_cohort(&dst).unwrap();
    assert_eq!(after.entries.len(), 6);
    let omics_after =
        oncolens_records::omics::read_expression_table(after.omics_table.as_ref().unwrap())
            .unwrap();
    for a in &after.entries {
        // Folder name, labels.csv and omics all use the pseudonym; the label survived.
        assert!(a.id.starts_with('P') && a.id.len() == 13, "{}", a.id);
        assert!(a.label.is_some(), "label of {} lost", a.id);
        let case = load_case(a, Some(&omics_after)).unwrap();
        if let Some(ct) = &a.dicom_dir {
            let first = std::fs::read_dir(ct)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            let obj = dicom_object::open_file(first).unwrap();
            let pid = obj
                .element(dicom_dictionary_std::tags::PATIENT_ID)
                .unwrap()
                .to_str()
                .unwrap()
                .trim()
                .to_owned();
            assert_eq!(
                pid, a.id,
                "DICOM PatientID differs from the folder pseudonym"
            );
        }
        if let Some(f) = &a.fhir {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(
                text.contains(&format!("\"id\": \"{}\"", a.id)),
                "FHIR Patient id is not the pseudonym"
            );
        }
        if a.has_omics {
            assert!(case.omics.is_some());
        }
        // The same patient before de-identification: same voxels, same mask, same age.
        if let (Some(img), Some(clin)) = (&case.image, &case.clinical) {
            let matched = before
                .entries
                .iter()
                .filter(|b| b.site == a.site)
                .find_map(|b| {
                    let c = load_case(b, None).ok()?;
                    (c.image.as_ref()? == img).then_some(c)
                });
            let orig_case =
                matched.expect("de-identified volume equals one original volume bit for bit");
            assert_eq!(
                orig_case.clinical.as_ref().unwrap().age_years,
                clin.age_years,
                "age changed"
            );
            assert_eq!(orig_case.lesion_mask, case.lesion_mask);
        }
    }
    // An existing, non-empty output is refused.
    assert!(deidentify_cohort(&src, &dst, &key(), &|| {}).is_err());
}

/// A case that arrives with its report but without CT and clinical record: nothing else names
/// the patient, and the report's own header must not leave with the name and MRN it carries.
#[test]
fn a_report_without_ct_or_record_loses_the_identity_in_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    let config = oncolens_synth::SynthConfig {
        patients: 4,
        sites: 1,
        seed: 5,
        matrix: 32,
        z_extent_mm: 120.0,
    };
    oncolens_synth::generate(&config, &src, &|| {}).unwrap();
    let entry = scan_cohort(&src)
        .unwrap()
        .entries
        .into_iter()
        .find(|e| e.report.is_some() && e.fhir.is_some())
        .expect("a case with a report and a clinical record");
    let read = oncolens_records::fhir::read_bundle(entry.fhir.as_ref().unwrap()).unwrap();
    let mut ids: Vec<String> = read.subject.names.clone();
    ids.extend(read.subject.identifiers.iter().map(|(_, v)| v.clone()));
    let report = std::fs::read_to_string(entry.report.as_ref().unwrap()).unwrap();
    assert!(
        ids.iter().any(|i| report.contains(i.as_str())),
        "the generated report should name its patient: {report}"
    );
    std::fs::remove_file(entry.fhir.as_ref().unwrap()).unwrap();
    if let Some(ct) = &entry.dicom_dir {
        std::fs::remove_dir_all(ct).unwrap();
    }
    let summary = deidentify_cohort(&src, &dst, &key(), &|| {}).unwrap();
    assert!(
        summary.files_with_identifiers.is_empty(),
        "{:?}",
        summary.files_with_identifiers
    );
    assert!(find_identifiers(&dst, &ids).is_empty(), "{ids:?}");
}
