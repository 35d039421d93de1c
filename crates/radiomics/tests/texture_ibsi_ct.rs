//! IBSI 1 CT phantom, configurations A–E (and the digital phantom), texture families through
//! the full extraction pipeline (resampling, re-segmentation, discretisation from the
//! preparation stage).
//!
//! They also test the preparation stage and run the whole extraction (minutes in a debug
//! build), so they are `#[ignore]`d; `texture_ibsi_phantom` covers the texture code alone. Run:
//! `cargo test -p oncolens-radiomics --release --test texture_ibsi_ct -- --ignored --nocapture`.
//! The CT phantom (CC BY-NC) is read from the shared reference data; absent, the tests pass with
//! a note.

mod common;

use common::{check_family, ct_features, digital_phantom_features, feature_values};

fn each_config(family: &str, prefix: &str) {
    for c in ['A', 'B', 'C', 'D', 'E'] {
        let Some(fs) = ct_features(c) else {
            println!("note: CT phantom absent, {family} not checked");
            return;
        };
        check_family(
            &format!("config {c} / {family}"),
            &format!("ibsi_1_reference_values_config_{c}.csv"),
            &[prefix],
            &feature_values(fs),
            &[],
        );
    }
}

#[test]
#[ignore = "full CT pipeline, slow in debug; run with --release --ignored"]
fn glcm() {
    each_config("GLCM", "cm_");
}

#[test]
#[ignore = "full CT pipeline, slow in debug; run with --release --ignored"]
fn glrlm() {
    each_config("GLRLM", "rlm_");
}

#[test]
#[ignore = "full CT pipeline, slow in debug; run with --release --ignored"]
fn glszm() {
    each_config("GLSZM", "szm_");
}

#[test]
#[ignore = "full CT pipeline, slow in debug; run with --release --ignored"]
fn gldzm() {
    each_config("GLDZM", "dzm_");
}

#[test]
#[ignore = "full CT pipeline, slow in debug; run with --release --ignored"]
fn ngtdm() {
    each_config("NGTDM", "ngt_");
}

#[test]
#[ignore = "full CT pipeline, slow in debug; run with --release --ignored"]
fn ngldm() {
    each_config("NGLDM", "ngl_");
}

#[test]
#[ignore = "full CT pipeline, slow in debug; run with --release --ignored"]
fn digital_phantom_through_extract() {
    let values = feature_values(digital_phantom_features());
    for prefix in ["cm_", "rlm_", "szm_", "dzm_", "ngt_", "ngl_"] {
        check_family(
            &format!("digital phantom / {prefix}"),
            "ibsi_1_reference_values_digital_phantom.csv",
            &[prefix],
            &values,
            &[],
        );
    }
}
