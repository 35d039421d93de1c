//! Generates tiny cohorts and reads every file back with the real readers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use oncolens_synth::{SynthConfig, SynthError, generate, site_profiles};

fn tiny(seed: u64) -> SynthConfig {
    SynthConfig {
        patients: 6,
        sites: 2,
        seed,
        matrix: 32,
        z_extent_mm: 120.0,
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn cohort_files_are_readable_with_intended_geometry() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let summary = generate(&tiny(3), &out, &|| {}).unwrap();
    assert_eq!(summary.patients, 6);
    for f in [
        "cohort.json",
        "labels.csv",
        "ground_truth.csv",
        "omics/expression.tsv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let profiles = site_profiles(2);
    let labels = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    assert_eq!(labels.lines().count(), 7);
    let mut images = 0;
    for line in labels.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let (case, site) = (cols[0], cols[1]);
        let case_dir = out.join(site).join(case);
        assert!(case_dir.is_dir(), "{}", case_dir.display());
        let profile = profiles.iter().find(|p| p.id == site).unwrap();
        if case_dir.join("ct").is_dir() {
            images += 1;
            let series = oncolens_dicom::read_series(
                &case_dir.join("ct"),
                &oncolens_dicom::ReadOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert!(series.warnings.is_empty(), "{:?}", series.warnings);
            assert_eq!(series.modality, "CT");
            let g = series.volume.geometry();
            let px = profile.fov_mm / 32.0;
            assert!((g.spacing_mm[0] - px).abs() < 1e-6 && (g.spacing_mm[1] - px).abs() < 1e-6);
            assert!((g.spacing_mm[2] - profile.slice_thickness_mm).abs() < 1e-6);
            let nz = (120.0 / profile.slice_thickness_mm).round() as usize;
            assert_eq!(g.size, [32, 32, nz]);
            assert_eq!(std::fs::read_dir(case_dir.join("ct")).unwrap().count(), nz);
            // The series is centred on the kidneys: slice positions run from -z to +z.
            assert!(
                (g.origin_mm[2] + (nz - 1) as f64 * profile.slice_thickness_mm / 2.0).abs() < 1e-6
            );
            let lesion =
                oncolens_nifti::read_label_map(&case_dir.join("lesion_mask.nii.gz")).unwrap();
            lesion.check_matches(&series.volume).unwrap();
            let kidney =
                oncolens_nifti::read_label_map(&case_dir.join("kidney_mask.nii.gz")).unwrap();
            kidney.check_matches(&series.volume).unwrap();
            assert!(lesion.count(1) > 0, "{case}: empty lesion mask");
            // Lesion and kidney never overlap.
            let overlap = lesion
                .data()
                .iter()
                .zip(kidney.data().iter())
                .filter(|(a, b)| **a > 0 && **b > 0)
                .count();
            assert_eq!(overlap, 0);
            // Air outside the body reads near -1000 HU after the site's rescale and offset.
            let corner = *series.volume.get(0, 0, 0).unwrap();
            assert!(
                (corner - (-1000.0 + profile.hu_offset as f32)).abs()
                    < 6.0 * profile.noise_hu as f32,
                "{corner}"
            );
        }
        if case_dir.join("fhir.json").is_file() {
            let read = oncolens_records::fhir::read_bundle(&case_dir.join("fhir.json")).unwrap();
            assert!(read.record.age_years.is_some());
            assert!(read.record.primary_site.is_some());
            // Body weight is deliberately not a known marker: it must be reported, not dropped.
            assert!(
                read.record
                    .unknown_codes
                    .iter()
                    .any(|c| c.code == "29463-7")
            );
        }
        if case_dir.join("report.txt").is_file() {
            let r = oncolens_records::report::read_report(&case_dir.join("report.txt")).unwrap();
            assert!(r.text.contains("IMPRESSION"));
        }
    }
    assert!(images > 0);
    let table =
        oncolens_records::omics::read_expression_table(&out.join("omics/expression.tsv")).unwrap();
    assert!(table.genes.iter().any(|g| g == "CA9"));
}

#[test]
fn same_seed_same_bytes_other_seed_other_cohort() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    generate(&tiny(5), &a, &|| {}).unwrap();
    generate(&tiny(5), &b, &|| {}).unwrap();
    generate(&tiny(6), &c, &|| {}).unwrap();
    for f in ["labels.csv", "ground_truth.csv", "omics/expression.tsv"] {
        assert_eq!(
            read(&a.join(f)),
            read(&b.join(f)),
            "{f} differs between runs"
        );
    }
    assert_ne!(
        read(&a.join("ground_truth.csv")),
        read(&c.join("ground_truth.csv"))
    );
    let first_ct = std::fs::read_dir(a.join("site_a"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("ct").join("IM0001.dcm"))
        .find(|p| p.is_file())
        .unwrap();
    let rel = first_ct.strip_prefix(&a).unwrap();
    assert_eq!(
        read(&first_ct),
        read(&b.join(rel)),
        "DICOM bytes differ between runs"
    );
}

#[test]
fn refuses_non_empty_folder_and_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "user data").unwrap();
    let err = generate(&tiny(1), dir.path(), &|| {}).unwrap_err();
    assert!(matches!(err, SynthError::NotEmpty(_)));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
        "user data"
    );
    let mut bad = tiny(1);
    bad.sites = 0;
    assert!(matches!(
        generate(&bad, &dir.path().join("x"), &|| {}),
        Err(SynthError::Config(_))
    ));
    let mut bad = tiny(1);
    bad.patients = 1;
    assert!(
        generate(&bad, &dir.path().join("y"), &|| {})
            .unwrap_err()
            .to_string()
            .contains("--patients")
    );
}
