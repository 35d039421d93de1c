//! Problem inputs: each must give the right error (or warning) naming the file and the problem.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{fixtures, reference, sha_f32};
use dicom_core::{PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{OpenFileOptions, mem::InMemElement};
use oncolens_dicom::{DicomError, GapPolicy, ReadOptions, SeriesWarning, read_series, scan_series};

fn read(p: &Path) -> Result<oncolens_dicom::CtSeries, DicomError> {
    read_series(p, &ReadOptions::default())
}

fn broken(name: &str) -> PathBuf {
    fixtures().join("broken").join(name)
}

fn copy_dir(from: &Path, to: &Path, rename: impl Fn(usize, &str) -> String) -> Vec<PathBuf> {
    let mut names: Vec<String> = std::fs::read_dir(from)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let dst = to.join(rename(i, n));
            std::fs::copy(from.join(n), &dst).expect("copy");
            dst
        })
        .collect()
}

#[test]
fn truncated_files_are_parse_errors_naming_the_file() {
    for name in ["MR_truncated.dcm", "rtplan_truncated.dcm"] {
        let p = broken(name);
        match read(&p) {
            Err(e @ DicomError::Parse { .. }) => {
                assert!(e.to_string().contains(name), "{e}");
            }
            other => panic!("{name}: expected Parse, got {other:?}"),
        }
    }
    let err = read(&broken("MR_truncated.dcm"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("7FE0,0010"),
        "truncation inside Pixel Data is named: {err}"
    );
}

#[test]
fn file_without_meta_is_a_parse_error() {
    match read(&broken("no_meta.dcm")) {
        Err(DicomError::Parse { path, message }) => {
            assert_eq!(path, broken("no_meta.dcm"));
            assert!(message.to_lowercase().contains("meta"), "{message}");
        }
        other => panic!("expected Parse, got {other:?}"),
    }
}

#[test]
fn bad_vr_names_the_attribute() {
    match read(&broken("badVR.dcm")) {
        Err(DicomError::InvalidTag { path, tag, .. }) => {
            assert_eq!(path, broken("badVR.dcm"));
            assert!(tag.contains("0028,0008"), "{tag}");
        }
        other => panic!("expected InvalidTag, got {other:?}"),
    }
}

#[test]
fn non_image_is_no_pixel_data() {
    match read(&broken("rtplan.dcm")) {
        Err(DicomError::NoPixelData { path }) => assert_eq!(path, broken("rtplan.dcm")),
        other => panic!("expected NoPixelData, got {other:?}"),
    }
}

#[test]
fn jpeg_ls_is_unsupported_transfer_syntax() {
    let p = fixtures().join("files/MR_small_jpeg_ls_lossless.dcm");
    match read(&p) {
        Err(e @ DicomError::UnsupportedTransferSyntax { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("1.2.840.10008.1.2.4.80"), "{msg}");
            assert!(msg.contains("JPEG-LS"), "{msg}");
            assert!(msg.contains("MR_small_jpeg_ls_lossless.dcm"), "{msg}");
        }
        other => panic!("expected UnsupportedTransferSyntax, got {other:?}"),
    }
}

#[test]
fn gap_with_error_policy_names_both_files_and_the_gap() {
    match read(&fixtures().join("series/ct_gap")) {
        Err(DicomError::SliceGap {
            after_file,
            before_file,
            expected_mm,
            found_mm,
        }) => {
            assert!(after_file.ends_with("17106"), "{after_file:?}");
            assert!(before_file.ends_with("17136"), "{before_file:?}");
            assert!((found_mm - 202.5).abs() < 1e-3, "{found_mm}");
            assert!((expected_mm - 1.25).abs() < 1e-3, "{expected_mm}");
        }
        other => panic!("expected SliceGap, got {other:?}"),
    }
}

#[test]
fn several_series_need_a_choice() {
    let dir = fixtures().join("series/two_series");
    let err = read(&dir).expect_err("must fail");
    let DicomError::MultipleSeries { series, .. } = &err else {
        panic!("expected MultipleSeries, got {err:?}");
    };
    assert_eq!(series.len(), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6")
            && msg.contains("5 file(s)"),
        "{msg}"
    );
    // Choosing the 5-slice series reads exactly what the plain folder gives.
    let opts = ReadOptions {
        series_uid: Some("1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6".into()),
        gap_policy: GapPolicy::Error,
    };
    let s = read_series(&dir, &opts).expect("chosen series");
    let r = reference();
    assert_eq!(
        sha_f32(&s.volume),
        r["series"]["ct5n"]["sha256_f32le_zyx"]
            .as_str()
            .expect("sha")
    );
    let opts = ReadOptions {
        series_uid: Some("1.2.3".into()),
        gap_policy: GapPolicy::Error,
    };
    assert!(matches!(
        read_series(&dir, &opts),
        Err(DicomError::SeriesNotFound { .. })
    ));
}

#[test]
fn scan_lists_series() {
    let mut s = scan_series(&fixtures().join("series/two_series")).expect("scan");
    s.sort_by_key(|x| x.n_files);
    assert_eq!(s.iter().map(|x| x.n_files).collect::<Vec<_>>(), vec![2, 5]);
    assert!(s.iter().all(|x| x.modality == "CT"));
    assert_eq!(s[1].files.len(), 5);
}

#[test]
fn renamed_and_reversed_files_still_order_by_position() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Reverse the name order and break any InstanceNumber/name correlation.
    copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |i, _| {
        format!("slice_{:03}.dcm", 10 - i)
    });
    let s = read(tmp.path()).expect("read");
    let r = reference();
    let e = &r["series"]["ct5n"];
    assert_eq!(
        sha_f32(&s.volume),
        e["sha256_f32le_zyx"].as_str().expect("sha")
    );
    let origin = common::nums(&e["origin"]);
    common::assert_close("origin", &s.volume.geometry().origin_mm, &origin, 1e-6);
}

#[test]
fn unreadable_file_in_folder_is_skipped_with_warning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |_, n| {
        n.to_string()
    });
    std::fs::write(tmp.path().join("notes.txt"), b"not dicom").expect("write");
    std::fs::copy(broken("MR_truncated.dcm"), tmp.path().join("trunc.dcm")).expect("copy");
    let s = read(tmp.path()).expect("valid series despite junk");
    assert_eq!(s.volume.size()[2], 5);
    let skipped: Vec<&PathBuf> = s
        .warnings
        .iter()
        .filter_map(|w| match w {
            SeriesWarning::SkippedFile { path, .. } => Some(path),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 2, "{:?}", s.warnings);
}

#[test]
fn duplicate_position_names_both_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |_, n| {
        n.to_string()
    });
    std::fs::copy(&files[2], tmp.path().join("copy_of_middle")).expect("copy");
    match read(tmp.path()) {
        Err(DicomError::DuplicatePosition { first, second, .. }) => {
            let mut names = [first, second].map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            names.sort();
            let mid = files[2]
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut want = ["copy_of_middle".to_string(), mid];
            want.sort();
            assert_eq!(names, want);
        }
        other => panic!("expected DuplicatePosition, got {other:?}"),
    }
}

/// Rewrites one attribute of a copy of slice `idx` of ct5n.
fn tamper(dir: &Path, files: &[PathBuf], idx: usize, elem: InMemElement) {
    let mut obj = OpenFileOptions::new().open_file(&files[idx]).expect("open");
    obj.put(elem);
    obj.write_to_file(dir.join(files[idx].file_name().expect("name")))
        .expect("write");
}

#[test]
fn mixed_orientation_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |_, n| {
        n.to_string()
    });
    let iop = PrimitiveValue::from("0\\1\\0\\0\\0\\-1");
    tamper(
        tmp.path(),
        &files,
        3,
        InMemElement::new(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, iop),
    );
    assert!(matches!(
        read(tmp.path()),
        Err(DicomError::MixedOrientation { .. })
    ));
}

#[test]
fn mixed_size_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |_, n| {
        n.to_string()
    });
    tamper(
        tmp.path(),
        &files,
        1,
        InMemElement::new(tags::ROWS, VR::US, PrimitiveValue::from(8_u16)),
    );
    match read(tmp.path()) {
        Err(e @ DicomError::MixedGrid { .. }) => assert!(e.to_string().contains("8x16"), "{e}"),
        other => panic!("expected MixedGrid, got {other:?}"),
    }
}

#[test]
fn missing_position_in_series_names_file_and_tag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |_, n| {
        n.to_string()
    });
    let mut obj = OpenFileOptions::new().open_file(&files[0]).expect("open");
    obj.remove_element(tags::IMAGE_POSITION_PATIENT);
    let target = tmp.path().join(files[0].file_name().expect("name"));
    obj.write_to_file(&target).expect("write");
    match read(tmp.path()) {
        Err(DicomError::MissingTag { path, tag }) => {
            assert_eq!(path, target);
            assert!(tag.contains("0020,0032"), "{tag}");
        }
        other => panic!("expected MissingTag, got {other:?}"),
    }
}

#[test]
fn warnings_serialize_and_display() {
    let w = SeriesWarning::NonCtModality("MR".into());
    assert_eq!(
        serde_json::to_value(&w).expect("json")["kind"],
        "non_ct_modality"
    );
    assert_eq!(serde_json::to_value(&w).expect("json")["detail"], "MR");
    assert!(w.to_string().contains("MR"));
    let g = SeriesWarning::SliceGap {
        after_file: "a".into(),
        before_file: "b".into(),
        expected_mm: 1.0,
        found_mm: 3.0,
    };
    assert_eq!(
        serde_json::to_value(&g).expect("json")["detail"]["found_mm"],
        3.0
    );
}

/// Moves slice `idx` of a ct5n copy by `delta` mm (ImagePositionPatient).
fn shifted_series(idx: usize, delta: [f64; 3]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |_, n| {
        n.to_string()
    });
    let obj = OpenFileOptions::new().open_file(&files[idx]).expect("open");
    let ipp = obj
        .element(tags::IMAGE_POSITION_PATIENT)
        .expect("ipp")
        .to_multi_float64()
        .expect("numbers");
    let moved: Vec<String> = ipp
        .iter()
        .zip(delta)
        .map(|(v, d)| format!("{:.4}", v + d))
        .collect();
    tamper(
        tmp.path(),
        &files,
        idx,
        InMemElement::new(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            PrimitiveValue::from(moved.join("\\")),
        ),
    );
    tmp
}

#[test]
fn uneven_spacing_error_or_warning() {
    // Slices sit every 2.5 mm; moving slice 2 by 0.5 mm along z makes two uneven steps.
    let tmp = shifted_series(2, [0.0, 0.0, 0.5]);
    assert!(matches!(
        read(tmp.path()),
        Err(DicomError::UnevenSpacing { .. })
    ));
    let opts = ReadOptions {
        series_uid: None,
        gap_policy: GapPolicy::Warn,
    };
    let s = read_series(tmp.path(), &opts).expect("warn policy reads");
    let n = s
        .warnings
        .iter()
        .filter(|w| matches!(w, SeriesWarning::UnevenSpacing { .. }))
        .count();
    assert_eq!(n, 2, "{:?}", s.warnings);
}

#[test]
fn sideways_slice_is_reported_as_oblique_stack() {
    let tmp = shifted_series(4, [3.0, 0.0, 0.0]);
    let s = read(tmp.path()).expect("reads");
    let off = s
        .warnings
        .iter()
        .find_map(|w| match w {
            SeriesWarning::ObliqueStack { max_offset_mm } => Some(*max_offset_mm),
            _ => None,
        })
        .expect("ObliqueStack warning");
    assert!((off - 3.0).abs() < 1e-3, "{off}");
}

#[test]
fn scan_reports_skipped_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("series/ct5n"), tmp.path(), |_, n| {
        n.to_string()
    });
    std::fs::write(tmp.path().join("junk.bin"), [0u8; 300]).expect("write");
    let scan = oncolens_dicom::scan_series_detailed(tmp.path()).expect("scan");
    assert_eq!(scan.series.len(), 1);
    assert_eq!(scan.skipped.len(), 1);
    assert!(scan.skipped[0].0.ends_with("junk.bin"));
}
