//! Stain normalisation against torchstain 1.3.0 (numpy backend) on two real CRC-VAL-HE-7K
//! tiles (`fixtures/pathology/`, made by `make_fixture.py` there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use oncolens_pathology::{RgbImage, macenko, reinhard};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/pathology")
        .join(name)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap()
}

/// Pixels equal to the reference's, or one level off where float rounding crossed an integer
/// before truncation; returns the share that differ.
fn compare(ours: &RgbImage, theirs: &RgbImage, what: &str) -> f64 {
    assert_eq!((ours.width, ours.height), (theirs.width, theirs.height));
    let mut differing = 0;
    for (a, b) in ours.pixels.iter().zip(&theirs.pixels) {
        for c in 0..3 {
            let d = (i32::from(a[c]) - i32::from(b[c])).abs();
            assert!(d <= 1, "{what}: {a:?} vs {b:?}");
            differing += usize::from(d > 0);
        }
    }
    differing as f64 / (3 * ours.pixels.len()) as f64
}

#[test]
fn macenko_equals_torchstain() {
    let r = reference();
    let target = RgbImage::read(&fixture("target.png")).unwrap();
    let source = RgbImage::read(&fixture("source.png")).unwrap();
    let options = macenko::MacenkoOptions::default();
    for (image, key) in [(&target, "macenko_target"), (&source, "macenko_source")] {
        let fit = macenko::fit(image, &options).unwrap();
        for k in 0..3 {
            let (h, e) = (
                r[key]["HE"][k][0].as_f64().unwrap(),
                r[key]["HE"][k][1].as_f64().unwrap(),
            );
            assert!((fit.hematoxylin[k] - h).abs() < 1e-9, "{key} H[{k}]");
            assert!((fit.eosin[k] - e).abs() < 1e-9, "{key} E[{k}]");
        }
        for s in 0..2 {
            let want = r[key]["maxC"][s].as_f64().unwrap();
            assert!(
                (fit.max_concentration[s] - want).abs() < 1e-9 * want,
                "{key} maxC"
            );
        }
    }
    let reference_fit = macenko::fit(&target, &options).unwrap();
    let out = macenko::normalise(&source, &reference_fit, &options).unwrap();
    let share = compare(
        &out.image,
        &RgbImage::read(&fixture("macenko_normalised.png")).unwrap(),
        "normalised",
    );
    eprintln!("share differing: {share}");
    assert!(share < 0.001, "{share}");
    let share = compare(
        &out.hematoxylin,
        &RgbImage::read(&fixture("macenko_hematoxylin.png")).unwrap(),
        "haematoxylin",
    );
    eprintln!("share differing: {share}");
    assert!(share < 0.001, "{share}");
}

#[test]
fn reinhard_equals_torchstain() {
    let r = reference();
    let target = RgbImage::read(&fixture("target.png")).unwrap();
    let source = RgbImage::read(&fixture("source.png")).unwrap();
    let stats = reinhard::fit(&target).unwrap();
    for c in 0..3 {
        // torchstain works in float32
        let (m, s) = (
            r["reinhard_target"]["means"][c].as_f64().unwrap(),
            r["reinhard_target"]["stds"][c].as_f64().unwrap(),
        );
        assert!(
            (stats.means[c] - m).abs() < 1e-4 * m.abs().max(1.0),
            "mean {c}"
        );
        assert!((stats.stds[c] - s).abs() < 1e-4 * s, "std {c}");
    }
    let out = reinhard::normalise(&source, &stats).unwrap();
    let share = compare(
        &out,
        &RgbImage::read(&fixture("reinhard_normalised.png")).unwrap(),
        "reinhard",
    );
    // float32 in torchstain against float64 here: a level of difference where truncation meets.
    eprintln!("share differing: {share}");
    assert!(share < 0.001, "{share}");
}

#[test]
fn a_missing_or_corrupt_tile_is_named() {
    let e = RgbImage::read(Path::new("/nonexistent/tile.png")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/tile.png"));
    let dir = std::env::temp_dir().join(format!("oncolens-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let e = RgbImage::read(&bad).unwrap_err();
    assert!(e.to_string().contains("bad.png"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}
