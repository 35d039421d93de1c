//! TCGA report import: a small CSV written here, and the real T14 file when present.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use oncolens_core::CaseLabel;
use oncolens_import::{TcgaOptions, import_tcga_reports};

use common::{Progress, read_csv, shared};

fn write_inputs(dir: &std::path::Path) -> std::path::PathBuf {
    let mut csv = String::from("patient_filename,label,text\n");
    let mut projects = String::from("ajcc_pathologic_t,project_id,case_id,case_submitter_id\n");
    for i in 0..40 {
        let id = format!("TCGA-A{}-{:04}", i % 3, i);
        let text = format!("\"Report {i}. Tumor size 2.{i} cm, \"\"quoted\"\", line\nbreak.\"");
        csv.push_str(&format!("{id}.uuid-{i},{},{text}\n", i % 4));
        let project = if i % 2 == 0 { "TCGA-BRCA" } else { "TCGA-LUAD" };
        if i != 39 {
            projects.push_str(&format!("T{},{project},uuid,{id}\n", i % 4 + 1));
        }
    }
    // A second report of patient 0.
    csv.push_str("TCGA-A0-0000.second,0,Addendum.\n");
    std::fs::write(dir.join("TCGA_T14_patients.csv"), projects).unwrap();
    let path = dir.join("T14_test.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn small_csv_round_trips_with_sites_and_patient_level_split() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = write_inputs(tmp.path());
    let out = tmp.path().join("cohort");
    let progress = Progress::default();
    let summary = import_tcga_reports(&csv, &out, &TcgaOptions::default(), &|d, t| {
        progress.record(d, t)
    })
    .unwrap();
    progress.check_complete();
    assert_eq!(summary.cases, 41);
    assert_eq!(summary.sites["TCGA-BRCA"], 21);
    assert_eq!(summary.sites["TCGA-LUAD"], 19);
    assert_eq!(
        summary.sites["tcga"], 1,
        "the patient missing from the projects table"
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("1 patients not found")),
        "{:?}",
        summary.warnings
    );

    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    assert_eq!(cohort.entries.len(), 41);
    let e = cohort
        .entries
        .iter()
        .find(|e| e.id == "TCGA-A1-0013")
        .unwrap();
    assert_eq!(e.site.0, "TCGA-LUAD");
    assert_eq!(e.label, Some(CaseLabel(1)));
    assert!(e.report.is_some() && e.fhir.is_none() && e.image_nifti.is_none());
    let case = oncolens_io::load_case(e, None).unwrap();
    assert_eq!(
        case.report.unwrap().text,
        "Report 13. Tumor size 2.13 cm, \"quoted\", line\nbreak."
    );
    // Both reports of patient 0 exist, with suffixes, in the same split.
    let a = cohort
        .entries
        .iter()
        .find(|e| e.id == "TCGA-A0-0000_1")
        .unwrap();
    let b = cohort
        .entries
        .iter()
        .find(|e| e.id == "TCGA-A0-0000_2")
        .unwrap();
    assert_eq!(a.split, b.split);

    let (header, rows) = read_csv(&out.join("labels.csv"));
    assert_eq!(
        header,
        vec!["case_id", "site", "label", "split", "t_stage", "source_id"]
    );
    let row = rows.iter().find(|r| r[0] == "TCGA-A1-0013").unwrap();
    assert_eq!(
        &row[2..],
        &["1", row[3].as_str(), "T2", "TCGA-A1-0013.uuid-13"]
    );
    // 40 patients, 10 per label: 7 train, 2 val (round(1.5)), 1 test per label.
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r[0].starts_with("TCGA-A0-0000_2")) {
        *per.entry((r[2].clone(), r[3].clone())).or_default() += 1;
    }
    for label in ["0", "1", "2", "3"] {
        let n = |s: &str| {
            per.get(&(label.to_owned(), s.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(
            (n("train"), n("val"), n("test")),
            (7, 2, 1),
            "label {label}: {per:?}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cohort.json")).unwrap()).unwrap();
    assert_eq!(manifest["split"]["seed"], 7);

    // Same seed, same split; another seed, another split; a fixed site overrides projects.
    let out2 = tmp.path().join("again");
    import_tcga_reports(&csv, &out2, &TcgaOptions::default(), &|_, _| {}).unwrap();
    assert_eq!(
        read_csv(&out2.join("labels.csv")),
        (header.clone(), rows.clone())
    );
    let out3 = tmp.path().join("seed8");
    let opts = TcgaOptions {
        seed: 8,
        site_name: Some("tcga".into()),
        ..TcgaOptions::default()
    };
    let s = import_tcga_reports(&csv, &out3, &opts, &|_, _| {}).unwrap();
    assert_eq!(s.sites.len(), 1);
    let (_, rows3) = read_csv(&out3.join("labels.csv"));
    let splits = |rows: &[Vec<String>]| rows.iter().map(|r| r[3].clone()).collect::<Vec<_>>();
    assert_ne!(splits(&rows), splits(&rows3));
}

#[test]
fn bad_rows_name_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("bad.csv");
    std::fs::write(
        &csv,
        "patient_filename,label,text\nTCGA-AA-0001.x,1,ok\nTCGA-AA-0002.x,T3,bad\n",
    )
    .unwrap();
    let err = import_tcga_reports(
        &csv,
        &tmp.path().join("o"),
        &TcgaOptions::default(),
        &|_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bad.csv") && err.contains("line 3") && err.contains("T3"),
        "{err}"
    );
    std::fs::write(&csv, "patient_filename,text\nTCGA-AA-0001.x,ok\n").unwrap();
    let err = import_tcga_reports(
        &csv,
        &tmp.path().join("o"),
        &TcgaOptions::default(),
        &|_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`label`") && err.contains("missing"), "{err}");
    assert!(!tmp.path().join("o").exists());
}

#[test]
fn real_tcga_t14() {
    let Some(csv) = shared("tcga_path_reports/T14_test.csv") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tcga");
    let summary = import_tcga_reports(&csv, &out, &TcgaOptions::default(), &|_, _| {}).unwrap();
    assert_eq!(summary.cases, 1034);
    assert_eq!(
        (
            summary.labels["0"],
            summary.labels["1"],
            summary.labels["2"],
            summary.labels["3"]
        ),
        (262, 351, 317, 104)
    );
    assert_eq!(summary.sites.len(), 23, "{:?}", summary.sites);
    assert_eq!(summary.sites["TCGA-BRCA"], 146);
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    let (train, val, test) = (
        summary.splits["train"],
        summary.splits["val"],
        summary.splits["test"],
    );
    assert_eq!(train + val + test, 1034);
    assert!(
        (720..=728).contains(&train) && (150..=160).contains(&val),
        "{train}/{val}/{test}"
    );
    let cohort = oncolens_io::scan_cohort(&out).unwrap();
    assert_eq!(cohort.entries.len(), 1034);
    let case = oncolens_io::load_case(&cohort.entries[0], None).unwrap();
    assert!(case.report.unwrap().text.len() > 50);
}
