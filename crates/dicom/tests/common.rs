//! Shared helpers for the integration tests: fixture paths, reference values, hashing.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dicom")
}

pub fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("valid reference.json")
}

/// sha256 of the HU array as float32 little-endian bytes in z, y, x order.
pub fn sha_f32(v: &oncolens_core::Volume<f32>) -> String {
    let mut h = Sha256::new();
    for x in v.data().iter() {
        h.update(x.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn nums(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{what}: got {got:?}, want {want:?}");
    }
}

/// Checks size, spacing, origin, direction, values hash and sampled voxels against a reference
/// entry; `geom` holds the geometry keys, `vals` the value keys.
pub fn check(
    name: &str,
    s: &oncolens_dicom::CtSeries,
    geom: &serde_json::Value,
    vals: &serde_json::Value,
) {
    let g = s.volume.geometry();
    let size: Vec<f64> = g.size.iter().map(|&x| x as f64).collect();
    assert_close(&format!("{name} size"), &size, &nums(&geom["size"]), 0.0);
    assert_close(
        &format!("{name} spacing"),
        &g.spacing_mm,
        &nums(&geom["spacing"]),
        1e-6,
    );
    assert_close(
        &format!("{name} origin"),
        &g.origin_mm,
        &nums(&geom["origin"]),
        1e-6,
    );
    assert_close(
        &format!("{name} direction"),
        &g.direction.row_major(),
        &nums(&geom["direction"]),
        1e-6,
    );
    for smp in vals["samples_zyx"].as_array().expect("samples") {
        let v = nums(smp);
        let got = s.volume.data()[[v[0] as usize, v[1] as usize, v[2] as usize]];
        assert_eq!(got, v[3] as f32, "{name} voxel {:?}", &v[..3]);
    }
    assert_eq!(
        sha_f32(&s.volume),
        vals["sha256_f32le_zyx"].as_str().expect("sha"),
        "{name} HU sha256"
    );
}
