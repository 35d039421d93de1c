//! IBSI 1 digital phantom: every morphology, local-intensity, statistics, intensity-histogram
//! and IVH feature against the consensus reference values (tolerance + rounding of the
//! printed value).

mod common;

use common::{check_family, digital_phantom_features, feature_values};

const TABLE: &str = "ibsi_1_reference_values_digital_phantom.csv";

#[test]
fn morphology() {
    let v = feature_values(digital_phantom_features());
    check_family("digital phantom / morphology", TABLE, &["morph_"], &v, &[]);
}

#[test]
fn local_intensity() {
    let v = feature_values(digital_phantom_features());
    check_family(
        "digital phantom / local intensity",
        TABLE,
        &["loc_"],
        &v,
        &[],
    );
}

#[test]
fn statistics() {
    let v = feature_values(digital_phantom_features());
    check_family("digital phantom / statistics", TABLE, &["stat_"], &v, &[]);
}

#[test]
fn intensity_histogram() {
    let v = feature_values(digital_phantom_features());
    check_family(
        "digital phantom / intensity histogram",
        TABLE,
        &["ih_"],
        &v,
        &[],
    );
}

#[test]
fn intensity_volume_histogram() {
    let v = feature_values(digital_phantom_features());
    check_family("digital phantom / IVH", TABLE, &["ivh_"], &v, &[]);
}
