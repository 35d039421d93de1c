//! FHIR bundles from fixtures: spec-example resources, a generated bundle, malformed inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use oncolens_core::Sex;
use oncolens_records::fhir::read_bundle;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/fhir")
        .join(name)
}

#[test]
fn spec_example_resources_parse_and_unknown_codes_are_reported() {
    let read = read_bundle(&fixture("spec_examples_bundle.json")).unwrap();
    let r = &read.record;
    assert_eq!(r.sex, Some(Sex::Male));
    // Born 1974-12-25, imaged 2011-01-01: 36 whole years.
    assert_eq!(r.age_years, Some(36.0));
    assert_eq!(r.vital_status.as_deref(), Some("alive"));
    let hb = r
        .marker("hemoglobin")
        .expect("haemoglobin from Observation f005");
    assert_eq!(hb.value, 7.2);
    assert_eq!(hb.unit.as_deref(), Some("g/dL"));
    assert_eq!(hb.code.code, "718-7");
    // Glucose (15074-8) and the head-and-neck body site are not in our tables: kept and reported.
    assert!(r.unknown_codes.iter().any(|c| c.code == "15074-8"));
    assert!(r.unknown_codes.iter().any(|c| c.code == "361355005"));
    assert!(read.warnings.iter().any(|w| w.contains("15074-8")));
    assert!(read.warnings.iter().any(|w| w.contains("Practitioner")));
    // The malignant neoplasm's body site becomes the primary site, even though it is not in our table.
    let site = r.primary_site.as_ref().unwrap();
    assert_eq!(site.code, "361355005");
    assert!(r.conditions.iter().any(|c| c.code == "363346000"));
    // Identity is captured for pseudonymisation but never printed.
    assert_eq!(read.subject.primary_identifier(), Some("12345"));
    assert!(read.subject.names.iter().any(|n| n == "Chalmers"));
    let debug = format!("{read:?}");
    assert!(
        !debug.contains("Chalmers") && !debug.contains("12345"),
        "{debug}"
    );
}

#[test]
fn generated_renal_bundle_parses() {
    let read = read_bundle(&fixture("synth_renal_bundle.json")).unwrap();
    let r = &read.record;
    let age = r.age_years.unwrap();
    assert!((25.0..=90.0).contains(&age));
    assert!(r.marker("hemoglobin").is_some());
    assert!(r.marker("creatinine").is_some());
    let site = r.primary_site.as_ref().unwrap();
    assert!(["9846003", "18639004"].contains(&site.code.as_str()));
    assert!(r.conditions.iter().any(|c| c.code == "126880001"));
    // Body weight is recorded but is not a tumour marker.
    assert!(r.unknown_codes.iter().any(|c| c.code == "29463-7"));
    assert_eq!(r.markers.iter().filter(|m| m.name.is_none()).count(), 0);
}

#[test]
fn malformed_bundles_name_file_and_json_path() {
    let cases = [
        ("bad_truncated.json", "line"),
        ("bad_not_bundle.json", "not a Bundle"),
        ("bad_entry_not_array.json", "entry"),
        (
            "bad_observation_no_value.json",
            "entry[0].resource.valueQuantity",
        ),
        ("bad_birth_date.json", "entry[0].resource.birthDate"),
        ("bad_gender.json", "entry[0].resource.gender"),
        (
            "bad_value_type.json",
            "entry[0].resource.valueQuantity.value",
        ),
    ];
    for (file, needle) in cases {
        let err = read_bundle(&fixture(file)).unwrap_err().to_string();
        assert!(err.contains(file), "{file}: {err}");
        assert!(
            err.contains(needle),
            "{file}: expected `{needle}` in: {err}"
        );
    }
    let err = read_bundle(&fixture("does_not_exist.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does_not_exist.json"));
}
