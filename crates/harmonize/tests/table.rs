//! CSV front end: equality with neuroCombat through the table, untouched
//! columns, and every bad-input error.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use oncolens_harmonize::{CombatOptions, HarmonizeError, TableOptions, harmonize_table};

const FEATURES: usize = 8;
const FIRST_FEATURE_COL: usize = 5;

fn fixture_csv() -> PathBuf {
    fixture_dir().join("radiomics_3sites.csv")
}

fn cov() -> Vec<String> {
    vec!["age".into(), "sex".into()]
}

fn cat() -> Vec<String> {
    vec!["sex".into()]
}

fn opts(combat: CombatOptions) -> TableOptions {
    TableOptions {
        combat,
        id_column: Some("subject_id".into()),
        passthrough_columns: vec![],
    }
}

/// Read the fixture table, let `edit` change cells, write it to a temp file.
fn edited_csv(
    dir: &tempfile::TempDir,
    edit: impl FnOnce(&mut Vec<String>, &mut Vec<Vec<String>>),
) -> PathBuf {
    let mut rdr = csv::Reader::from_path(fixture_csv()).expect("fixture csv");
    let mut headers: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect();
    edit(&mut headers, &mut rows);
    let path = dir.path().join("edited.csv");
    let mut w = csv::Writer::from_path(&path).expect("temp csv");
    w.write_record(&headers).expect("write");
    for r in &rows {
        w.write_record(r).expect("write");
    }
    w.flush().expect("flush");
    path
}

fn run_err(path: &Path, covariates: &[String], categorical: &[String]) -> HarmonizeError {
    match harmonize_table(
        path,
        "site",
        covariates,
        categorical,
        &opts(CombatOptions::default()),
    ) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn table_matches(run_name: &str, options: CombatOptions) {
    let r = reference();
    let run = r["runs"]
        .as_array()
        .and_then(|runs| runs.iter().find(|x| x["name"] == run_name))
        .expect("run in fixture");
    let (table, report) =
        harmonize_table(&fixture_csv(), "site", &cov(), &cat(), &opts(options)).expect("harmonise");
    let got: Vec<Vec<f64>> = (0..FEATURES)
        .map(|f| {
            table
                .rows
                .iter()
                .map(|row| row[FIRST_FEATURE_COL + f].parse::<f64>().expect("number"))
                .collect()
        })
        .collect();
    let got =
        ndarray::Array2::from_shape_vec((FEATURES, table.rows.len()), got.concat()).expect("shape");
    assert_close("table data", got.view(), matrix(&run["data"]).view(), 0)
        .expect("equal to neuroCombat");
    assert_eq!(report.harmonised_columns.len(), FEATURES);
    assert!(report.constant_columns.is_empty());
}

#[test]
fn table_parametric_with_covariates_matches_neurocombat() {
    table_matches("parametric__age_sex", CombatOptions::default());
}

#[test]
fn table_reference_nonparametric_matches_neurocombat() {
    table_matches(
        "ref_nonparametric__age_sex",
        CombatOptions {
            parametric: false,
            reference_batch: Some("siteB".into()),
            ..CombatOptions::default()
        },
    );
}

#[test]
fn non_feature_columns_and_order_are_untouched() {
    let (table, report) = harmonize_table(
        &fixture_csv(),
        "site",
        &cov(),
        &cat(),
        &opts(CombatOptions::default()),
    )
    .expect("harmonise");
    let mut rdr = csv::Reader::from_path(fixture_csv()).expect("csv");
    let headers: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(table.headers, headers);
    for (out, rec) in table.rows.iter().zip(rdr.records()) {
        let rec = rec.expect("record");
        for c in 0..FIRST_FEATURE_COL {
            assert_eq!(out[c], rec[c], "column {}", headers[c]);
        }
    }
    assert_eq!(
        report.untouched_columns,
        vec!["subject_id", "site", "age", "sex", "scanner_note"]
    );
    assert_eq!(
        report.sites.iter().map(|s| s.samples).collect::<Vec<_>>(),
        vec![22, 18, 20]
    );

    // written file parses back to the same cells
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.csv");
    table.write_csv(&out).expect("write");
    let mut back = csv::Reader::from_path(&out).expect("read back");
    let first: Vec<String> = back
        .records()
        .next()
        .expect("row")
        .expect("record")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(first, table.rows[0]);
}

#[test]
fn site_with_one_sample_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited_csv(&dir, |_, rows| rows[0][1] = "siteD".into());
    match run_err(&path, &cov(), &cat()) {
        HarmonizeError::TooFewSamples { site, count } => {
            assert_eq!((site.as_str(), count), ("siteD", 1))
        }
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn missing_value_names_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited_csv(&dir, |_, rows| rows[6][7] = "NA".into());
    let e = run_err(&path, &cov(), &cat());
    assert!(
        matches!(&e, HarmonizeError::MissingValue { column, line: 8 } if column == "original_firstorder_Entropy"),
        "{e}"
    );
    assert!(e.to_string().contains("line 8"));

    let path = edited_csv(&dir, |_, rows| rows[3][2] = String::new());
    assert!(
        matches!(run_err(&path, &cov(), &cat()), HarmonizeError::MissingValue { column, line: 5 } if column == "age")
    );
}

#[test]
fn constant_feature_is_passed_through_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited_csv(&dir, |h, rows| {
        h.push("original_shape_VoxelVolume".into());
        rows.iter_mut().for_each(|r| r.push("512".into()));
    });
    let (table, report) = harmonize_table(
        &path,
        "site",
        &cov(),
        &cat(),
        &opts(CombatOptions::default()),
    )
    .expect("harmonise");
    assert_eq!(report.constant_columns, vec!["original_shape_VoxelVolume"]);
    assert!(
        table
            .rows
            .iter()
            .all(|r| r.last().map(String::as_str) == Some("512"))
    );
    // the other features are still harmonised exactly as without the constant one
    let (plain, _) = harmonize_table(
        &fixture_csv(),
        "site",
        &cov(),
        &cat(),
        &opts(CombatOptions::default()),
    )
    .expect("harmonise");
    for (a, b) in table.rows.iter().zip(&plain.rows) {
        assert_eq!(a[..b.len()], b[..]);
    }
}

#[test]
fn covariate_confounded_with_site_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // a categorical "protocol" that is just the site under another name
    let path = edited_csv(&dir, |h, rows| {
        h.push("protocol".into());
        rows.iter_mut().for_each(|r| {
            let p = format!("P-{}", r[1]);
            r.push(p);
        });
    });
    let e = run_err(&path, &cov(), &["sex".into(), "protocol".into()]);
    assert!(
        matches!(&e, HarmonizeError::ConfoundedCovariate { covariate, .. } if covariate == "protocol"),
        "{e}"
    );

    // a continuous field strength constant within each site
    let path = edited_csv(&dir, |h, rows| {
        h.push("field_strength".into());
        rows.iter_mut().for_each(|r| {
            let t = if r[1] == "siteC" { "3" } else { "1.5" };
            r.push(t.into());
        });
    });
    let e = run_err(&path, &["age".into(), "field_strength".into()], &[]);
    assert!(
        matches!(&e, HarmonizeError::ConfoundedCovariate { covariate, .. } if covariate == "field_strength"),
        "{e}"
    );
}

#[test]
fn mixed_text_in_feature_column_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited_csv(&dir, |_, rows| rows[10][9] = "12,5".into());
    let e = run_err(&path, &cov(), &cat());
    assert!(
        matches!(&e, HarmonizeError::MixedColumn { column, line: 12, .. } if column == "original_glcm_Correlation"),
        "{e}"
    );
}

#[test]
fn unknown_columns_and_reference_are_errors() {
    let e = run_err(&fixture_csv(), &["height".into()], &[]);
    assert!(
        matches!(&e, HarmonizeError::MissingColumn { column, .. } if column == "height"),
        "{e}"
    );
    let bad_ref = TableOptions {
        combat: CombatOptions {
            reference_batch: Some("siteZ".into()),
            ..CombatOptions::default()
        },
        ..TableOptions::default()
    };
    let e = harmonize_table(&fixture_csv(), "site", &[], &[], &bad_ref).err();
    assert!(
        matches!(&e, Some(HarmonizeError::UnknownReference { site }) if site == "siteZ"),
        "{e:?}"
    );
}

#[test]
fn non_numeric_continuous_covariate_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = edited_csv(&dir, |_, rows| rows[0][2] = "sixty".into());
    let e = run_err(&path, &cov(), &cat());
    assert!(
        matches!(&e, HarmonizeError::NotNumeric { column, line: 2, .. } if column == "age"),
        "{e}"
    );
}
