//! MedMNIST import: a tiny .npz written here, and AdrenalMNIST3D when the shared data is present.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use oncolens_core::CaseLabel;
use oncolens_import::{ImportError, MedmnistOptions, import_medmnist};

use common::{Progress, npy, read_csv, shared, write_npz};

/// Split `name` with `n` samples of 3×4×5 (D×H×W); voxel value = sample·7 + flat index, label
/// = sample % 2.
fn split_arrays(name: &str, n: usize, label_shape_2d: bool) -> Vec<(String, Vec<u8>)> {
    let (d, h, w) = (3, 4, 5);
    let images: Vec<u8> = (0..n)
        .flat_map(|s| (0..d * h * w).map(move |i| ((s * 7 + i) % 256) as u8))
        .collect();
    let labels: Vec<u8> = (0..n).map(|s| (s % 2) as u8).collect();
    let label_shape: Vec<usize> = if label_shape_2d { vec![n, 1] } else { vec![n] };
    vec![
        (format!("{name}_images"), npy("|u1", &[n, d, h, w], &images)),
        (format!("{name}_labels"), npy("|u1", &label_shape, &labels)),
    ]
}

fn tiny_npz(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tinymnist3d.npz");
    let mut arrays = split_arrays("train", 5, true);
    arrays.extend(split_arrays("val", 2, true));
    arrays.extend(split_arrays("test", 3, false));
    let refs: Vec<(&str, Vec<u8>)> = arrays
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    write_npz(&path, &refs);
    path
}

#[test]
fn tiny_npz_round_trips_through_scan_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    let npz = tiny_npz(tmp.path());
    let out = tmp.path().join("cohort");
    let progress = Progress::default();
    let summary = import_medmnist(&npz, &out, &MedmnistOptions::default(), &|d, t| {
        progress.record(d, t)
    })
    .unwrap();
    progress.check_complete();
    assert_eq!(summary.cases, 10);
    assert_eq!(summary.splits["train"], 5);
    assert_eq!(summary.splits["val"], 2);
    assert_eq!(summary.splits["test"], 3);
    assert_eq!(summary.labels["0"] + summary.labels["1"], 10);

    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    assert_eq!(cohort.entries.len(), 10);
    let e = cohort
        .entries
        .iter()
        .find(|e| e.id == "train_00003")
        .unwrap();
    assert_eq!(e.site.0, "medmnist");
    assert_eq!(e.split.as_deref(), Some("train"));
    assert_eq!(e.label, Some(CaseLabel(1)));
    let case = oncolens_io::load_case(e, None).unwrap();
    let img = case.image.unwrap();
    assert_eq!(img.size(), [5, 4, 3]);
    assert_eq!(img.spacing_mm(), [1.0; 3]);
    assert_eq!(img.origin_mm(), [0.0; 3]);
    // Sample 3, voxel (z=1, y=2, x=4): flat index 1·20 + 2·5 + 4 = 34, value 3·7 + 34.
    assert_eq!(*img.get(4, 2, 1).unwrap(), 55.0);
    assert_eq!(*img.get(0, 0, 0).unwrap(), 21.0);
    let test_case = cohort
        .entries
        .iter()
        .find(|e| e.id == "test_00002")
        .unwrap();
    assert_eq!(test_case.split.as_deref(), Some("test"));

    let (header, rows) = read_csv(&out.join("labels.csv"));
    assert_eq!(header, vec!["case_id", "site", "label", "split"]);
    assert_eq!(rows[0], vec!["train_00000", "medmnist", "0", "train"]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cohort.json")).unwrap()).unwrap();
    assert_eq!(manifest["counts"]["cases"], 10);
    assert!(
        manifest["image"]["geometry"]
            .as_str()
            .unwrap()
            .contains("no physical spacing")
    );

    // Limit per split, custom site.
    let out2 = tmp.path().join("limited");
    let opts = MedmnistOptions {
        site_name: "adrenal".into(),
        limit_per_split: Some(2),
    };
    let s = import_medmnist(&npz, &out2, &opts, &|_, _| {}).unwrap();
    assert_eq!(s.cases, 6);
    assert!(out2.join("adrenal/val_00001/image.nii.gz").is_file());
    assert!(!out2.join("adrenal/train_00002").exists());
}

#[test]
fn refuses_non_empty_output_and_leaves_nothing_on_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let npz = tiny_npz(tmp.path());
    let out = tmp.path().join("busy");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let err = import_medmnist(&npz, &out, &MedmnistOptions::default(), &|_, _| {}).unwrap_err();
    assert!(matches!(err, ImportError::NotEmpty(_)), "{err}");
    assert!(err.to_string().contains("busy"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );

    // An existing empty folder is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    import_medmnist(&npz, &empty, &MedmnistOptions::default(), &|_, _| {}).unwrap();
    assert!(empty.join("labels.csv").is_file());

    // A truncated image array fails naming the file and array, and leaves no output or staging.
    let bad = tmp.path().join("bad.npz");
    let mut arrays = split_arrays("train", 4, true);
    let cut = arrays[0].1.len() - 10;
    arrays[0].1.truncate(cut);
    let refs: Vec<(&str, Vec<u8>)> = arrays
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    write_npz(&bad, &refs);
    let out = tmp.path().join("never");
    let err = import_medmnist(&bad, &out, &MedmnistOptions::default(), &|_, _| {}).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("bad.npz") && msg.contains("train_images"),
        "{msg}"
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("importing"))
        .collect();
    assert!(leftovers.is_empty(), "staging folder left behind");
}

#[test]
fn bad_arrays_are_errors_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    type Arrays = Vec<(&'static str, Vec<u8>)>;
    let cases: Vec<(&str, Arrays, &str)> = vec![
        (
            "labels_mismatch.npz",
            vec![
                ("train_images", npy("|u1", &[2, 1, 2, 2], &[0; 8])),
                ("train_labels", npy("|u1", &[3, 1], &[0; 3])),
            ],
            "train_labels",
        ),
        (
            "float.npz",
            vec![
                ("train_images", npy("<f4", &[1, 1, 1, 1], &[0; 4])),
                ("train_labels", npy("|u1", &[1], &[0])),
            ],
            "train_images",
        ),
        (
            "rgb.npz",
            vec![
                ("train_images", npy("|u1", &[1, 2, 2, 2, 3], &[0; 24])),
                ("train_labels", npy("|u1", &[1], &[0])),
            ],
            "train_images",
        ),
        (
            "multilabel.npz",
            vec![
                ("train_images", npy("|u1", &[1, 1, 2, 2], &[0; 4])),
                ("train_labels", npy("|u1", &[1, 3], &[0; 3])),
            ],
            "multi-label",
        ),
        (
            "nolabels.npz",
            vec![("train_images", npy("|u1", &[1, 1, 2, 2], &[0; 4]))],
            "train_labels",
        ),
        (
            "empty.npz",
            vec![("other", npy("|u1", &[1], &[0]))],
            "not a MedMNIST",
        ),
    ];
    for (name, arrays, expect) in cases {
        let path = tmp.path().join(name);
        write_npz(&path, &arrays);
        let out = tmp.path().join(format!("out_{name}"));
        let err = import_medmnist(&path, &out, &MedmnistOptions::default(), &|_, _| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
    }
    let not_zip = tmp.path().join("plain.npz");
    std::fs::write(&not_zip, "not a zip").unwrap();
    let err = import_medmnist(
        &not_zip,
        &tmp.path().join("o"),
        &MedmnistOptions::default(),
        &|_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("plain.npz") && err.contains("zip"), "{err}");
    let err = import_medmnist(
        &tiny_npz(tmp.path()),
        &tmp.path().join("o2"),
        &MedmnistOptions {
            site_name: "../x".into(),
            limit_per_split: None,
        },
        &|_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("site_name"), "{err}");
}

#[test]
fn real_adrenalmnist3d_28() {
    let Some(npz) = shared("adrenalmnist3d.npz") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("adrenal");
    let summary = import_medmnist(&npz, &out, &MedmnistOptions::default(), &|_, _| {}).unwrap();
    assert_eq!(summary.dataset, "AdrenalMNIST3D");
    assert_eq!(summary.cases, 1584);
    assert_eq!(
        (
            summary.splits["train"],
            summary.splits["val"],
            summary.splits["test"]
        ),
        (1188, 98, 298)
    );
    // Class counts of the official set: normal 929/76/229, mass 259/22/69.
    assert_eq!(
        (summary.labels["0"], summary.labels["1"]),
        (929 + 76 + 229, 259 + 22 + 69)
    );
    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    assert_eq!(cohort.entries.len(), 1584);
    let count = |s: &str| {
        cohort
            .entries
            .iter()
            .filter(|e| e.split.as_deref() == Some(s))
            .count()
    };
    assert_eq!(
        (count("train"), count("val"), count("test")),
        (1188, 98, 298)
    );
    let case = oncolens_io::load_case(&cohort.entries[0], None).unwrap();
    let img = case.image.unwrap();
    assert_eq!(img.size(), [28, 28, 28]);
    let stats = img.stats().unwrap();
    assert!(
        stats.min >= 0.0 && stats.max <= 255.0 && stats.max > 0.0,
        "{stats:?}"
    );
}

#[test]
fn real_adrenalmnist3d_64_first_samples() {
    let Some(npz) = shared("adrenalmnist3d_64.npz") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("adrenal64");
    let opts = MedmnistOptions {
        limit_per_split: Some(3),
        ..MedmnistOptions::default()
    };
    let summary = import_medmnist(&npz, &out, &opts, &|_, _| {}).unwrap();
    assert_eq!(summary.cases, 9);
    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    let case = oncolens_io::load_case(&cohort.entries[0], None).unwrap();
    assert_eq!(case.image.unwrap().size(), [64, 64, 64]);
}
