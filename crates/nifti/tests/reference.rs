//! Every fixture against what nibabel 5.4.2 and SimpleITK 2.5.7 report (fixtures/nifti/
//! reference.json, made by make_reference.py; no Python is needed at test time).

// Tests fail by panicking; index loops mirror the matrix maths they check.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use std::path::{Path, PathBuf};

use oncolens_nifti::{
    NiftiError, read_header_info, read_label_map, read_volume, read_volume_at, stream_volume,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/nifti")
}

fn reference() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["files"].as_array().unwrap().clone()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

fn sha_of(data: &ndarray::Array3<f32>) -> String {
    // Standard (C) layout [z, y, x] iterates x fastest, the file's order.
    assert!(data.is_standard_layout());
    let mut h = Sha256::new();
    for v in data.iter() {
        h.update(v.to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

const EXPECTED_ERRORS: [&str; 2] = ["complex64.nii", "sheared_sform.nii"];

#[test]
fn headers_and_affines_match_nibabel() {
    let files = reference();
    assert!(files.len() >= 20, "reference.json lists too few files");
    for e in &files {
        let name = e["file"].as_str().unwrap();
        let path = fixtures().join(name);
        let info = read_header_info(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(
            i64::from(info.version),
            e["version"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            serde_json::to_value(info.endianness).unwrap(),
            e["endianness"],
            "{name}"
        );
        assert_eq!(
            i64::from(info.datatype.code),
            e["datatype_code"].as_i64().unwrap(),
            "{name}"
        );
        let dim: Vec<i64> = e["dim"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(info.dim.to_vec(), dim, "{name} dim");
        for (a, b) in info.pixdim.iter().zip(floats(&e["pixdim"])) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{name} pixdim {:?}",
                info.pixdim
            );
        }
        assert_eq!(
            i64::from(info.qform_code),
            e["qform_code"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            i64::from(info.sform_code),
            e["sform_code"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            serde_json::to_value(info.affine_source).unwrap(),
            e["affine_source"],
            "{name}"
        );
        let want = e["affine"].as_array().unwrap();
        for r in 0..4 {
            let row = floats(&want[r]);
            for c in 0..4 {
                assert!(
                    (info.affine_ras[r][c] - row[c]).abs() <= 1e-6,
                    "{name}: affine[{r}][{c}] = {} but nibabel says {}",
                    info.affine_ras[r][c],
                    row[c]
                );
            }
        }
        match (&e["scaling"], info.scaling) {
            (Value::Null, None) => {}
            (Value::Null, Some((s, i))) => assert!(s == 1.0 && i == 0.0, "{name}"),
            (v, Some((s, i))) => {
                let w = floats(v);
                assert_eq!((s, i), (w[0], w[1]), "{name} scaling");
            }
            (v, None) => panic!("{name}: nibabel scales by {v} but we do not"),
        }
        assert_eq!(
            info.volume_count(),
            e["volumes"].as_array().unwrap().len().max(1),
            "{name}"
        );
    }
}

#[test]
fn voxels_are_bit_equal_to_nibabel_get_fdata_as_float32() {
    let (mut checked, mut streamed) = (0, 0);
    for e in reference() {
        let name = e["file"].as_str().unwrap();
        if EXPECTED_ERRORS.contains(&name) {
            continue;
        }
        let path = fixtures().join(name);
        let vols = e["volumes"].as_array().unwrap();
        for (t, v) in vols.iter().enumerate() {
            let img = read_volume_at(&path, t).unwrap_or_else(|err| panic!("{name}[{t}]: {err}"));
            let shape: Vec<usize> = e["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(img.volume.size().to_vec(), shape[..3].to_vec(), "{name}");
            assert_eq!(
                sha_of(img.volume.data()),
                v["sha256"].as_str().unwrap(),
                "{name}[{t}]"
            );
            let s = img.volume.map(|x| f64::from(*x)).stats().unwrap();
            for (got, key) in [
                (s.min, "min"),
                (s.max, "max"),
                (s.mean, "mean"),
                (s.std, "std"),
            ] {
                let want = f(&v[key]);
                assert!(
                    (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "{name} {key} {got} {want}"
                );
            }
            checked += 1;
        }
        if vols.len() > 1 {
            let err = read_volume(&path).unwrap_err();
            assert!(
                matches!(err, NiftiError::NotThreeD { volumes, .. } if volumes == vols.len()),
                "{err}"
            );
            assert!(err.to_string().contains(name), "{err}");
            assert!(
                err.to_string().contains(&format!("{} volumes", vols.len())),
                "{err}"
            );
        } else {
            let img = read_volume(&path).unwrap();
            // Streaming gives the same voxels in the same order, and the same geometry.
            let mut h = Sha256::new();
            let mut n = 0;
            let g = stream_volume(&path, |block| {
                n += block.len();
                for v in block {
                    h.update(v.to_le_bytes());
                }
            })
            .unwrap();
            let sha: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(sha, vols[0]["sha256"].as_str().unwrap(), "{name} streamed");
            assert_eq!(n, img.volume.data().len(), "{name}");
            assert_eq!(&g, img.volume.geometry(), "{name}");
            streamed += 1;
        }
    }
    assert!(checked >= 40, "only {checked} volumes checked");
    assert!(streamed >= 15, "only {streamed} files streamed");
}

#[test]
fn geometry_is_lps_of_nibabel_affine_and_matches_simpleitk_where_it_uses_the_same_rule() {
    let mut with_sitk = Vec::new();
    for e in reference() {
        let name = e["file"].as_str().unwrap();
        if EXPECTED_ERRORS.contains(&name) {
            continue;
        }
        let g = read_volume_at(&fixtures().join(name), 0)
            .unwrap()
            .volume
            .geometry()
            .clone();
        let want = &e["geometry_lps"];
        let close = |a: &[f64], b: &[f64], tol: f64, what: &str, who: &str| {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= tol, "{name}: {what} {a:?} vs {who} {b:?}");
            }
        };
        close(
            &g.spacing_mm,
            &floats(&want["spacing"]),
            1e-9,
            "spacing",
            "nibabel",
        );
        close(
            &g.origin_mm,
            &floats(&want["origin"]),
            1e-9,
            "origin",
            "nibabel",
        );
        close(
            &g.direction.row_major(),
            &floats(&want["direction"]),
            1e-9,
            "direction",
            "nibabel",
        );
        if e["sitk_agrees"].as_bool().unwrap() {
            let s = &e["sitk"];
            close(
                &g.spacing_mm,
                &floats(&s["spacing"]),
                1e-5,
                "spacing",
                "sitk",
            );
            close(&g.origin_mm, &floats(&s["origin"]), 1e-5, "origin", "sitk");
            close(
                &g.direction.row_major(),
                &floats(&s["direction"]),
                1e-5,
                "direction",
                "sitk",
            );
            with_sitk.push(name.to_owned());
        }
    }
    // ITK reads both_differ.nii.gz via its qform and fallback.nii without nibabel's centring,
    // and cannot read NIfTI-2 here; everything else must agree.
    assert!(with_sitk.len() >= 16, "{with_sitk:?}");
}

#[test]
fn precedence_sform_over_qform_and_fallback_centring() {
    let both = read_header_info(&fixtures().join("both_differ.nii.gz")).unwrap();
    assert_eq!(
        both.affine_ras[0][3], 12.5,
        "sform translation must win over the qform"
    );
    let q = read_header_info(&fixtures().join("qform_only.nii")).unwrap();
    assert_eq!(q.pixdim[0], -1.0, "qform_only.nii must exercise qfac = -1");
    let fb = read_header_info(&fixtures().join("fallback.nii")).unwrap();
    // shape (4, 5, 7), zooms (1.5, 2, 3): x flipped and centred.
    assert_eq!(fb.affine_ras[0], [-1.5, 0.0, 0.0, 2.25]);
    assert_eq!(fb.affine_ras[1], [0.0, 2.0, 0.0, -4.0]);
    assert_eq!(fb.affine_ras[2], [0.0, 0.0, 3.0, -9.0]);
}

#[test]
fn fixture_errors_are_clear() {
    let err = read_volume(&fixtures().join("complex64.nii")).unwrap_err();
    assert!(
        matches!(err, NiftiError::UnsupportedDatatype { code: 32, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("complex64.nii") && err.to_string().contains("complex64"));
    let err = read_volume(&fixtures().join("sheared_sform.nii")).unwrap_err();
    assert!(matches!(err, NiftiError::NonOrthogonal { .. }), "{err}");
    assert!(err.to_string().contains("sheared_sform.nii") && err.to_string().contains("sform"));
}

#[test]
fn label_maps_from_integer_and_integral_float_files() {
    let reference = read_label_map(&fixtures().join("standard.nii.gz")).unwrap();
    assert!(!reference.labels_present().is_empty());
    for name in [
        "dtype_u2.nii",
        "dtype_i4.nii",
        "dtype_u4.nii",
        "dtype_i8.nii",
        "dtype_u8.nii",
        "dtype_f4.nii",
        "dtype_f8.nii",
        "labels_float.nii.gz",
    ] {
        let m = read_label_map(&fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.data(), reference.data(), "{name}");
        assert_eq!(m.geometry(), reference.geometry(), "{name}");
    }
    // int8 turns standard.nii.gz's 255 into -1: not a label.
    let err = read_label_map(&fixtures().join("dtype_i1.nii")).unwrap_err();
    assert!(
        err.to_string().contains("dtype_i1.nii") && err.to_string().contains("-1"),
        "{err}"
    );
    let err = read_label_map(&fixtures().join("labels_fractional.nii.gz")).unwrap_err();
    assert!(matches!(err, NiftiError::NotLabels { .. }), "{err}");
    assert!(
        err.to_string().contains("labels_fractional.nii.gz") && err.to_string().contains("0.5")
    );
    // Scaled data with fractional values is not a label map either.
    assert!(read_label_map(&fixtures().join("scaled.nii.gz")).is_err());
}

/// The integer fast path of `read_label_map` (u8, u16, i16 without scaling) still refuses a
/// negative label, naming the voxel and its value.
#[test]
fn negative_int16_label_is_refused_with_its_position() {
    // dtype_u2.nii with its datatype code turned into int16 (same width; values 0..=255).
    let mut bytes = std::fs::read(fixtures().join("dtype_u2.nii")).unwrap();
    assert_eq!(i16::from_le_bytes([bytes[70], bytes[71]]), 512);
    bytes[70..72].copy_from_slice(&4i16.to_le_bytes());
    let vox_offset = f32::from_le_bytes(bytes[108..112].try_into().unwrap()) as usize;
    let dir = tempfile::tempdir().unwrap();
    let as_i16 = dir.path().join("as_i16.nii");
    std::fs::write(&as_i16, &bytes).unwrap();
    let good = read_label_map(&as_i16).unwrap();
    let reference = read_label_map(&fixtures().join("standard.nii.gz")).unwrap();
    assert_eq!(good.data(), reference.data());
    let at = 7;
    bytes[vox_offset + 2 * at..vox_offset + 2 * at + 2].copy_from_slice(&(-3i16).to_le_bytes());
    let path = dir.path().join("negative.nii");
    std::fs::write(&path, &bytes).unwrap();
    let err = read_label_map(&path).unwrap_err();
    assert!(matches!(err, NiftiError::NotLabels { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("negative.nii") && msg.contains("voxel 7") && msg.contains("-3"),
        "{msg}"
    );
}
