//! oncolens-glm against statsmodels 0.15.0 `Logit` (`fixtures/glm/`, made by
//! `make_fixture.py` there), on synthetic data and on real KiTS19 records when `../shared/data`
//! is present.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use oncolens_glm::{LogisticData, LogisticFit, fit_logistic};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(rel)).unwrap()).unwrap()
}

#[track_caller]
fn close(a: f64, b: f64, rel: f64, what: &str) {
    assert!(
        (a - b).abs() <= rel * b.abs().max(1e-12),
        "{what}: oncolens {a} vs statsmodels {b}"
    );
}

fn matches_statsmodels(fit: &LogisticFit, want: &Value, rel: f64) {
    let names: Vec<&str> = fit.coefficients.iter().map(|c| c.name.as_str()).collect();
    let want_names: Vec<&str> = want["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names.len(), want_names.len());
    for (k, c) in fit.coefficients.iter().enumerate() {
        for (field, ours) in [
            ("coef", c.coef),
            ("se", c.se),
            ("z", c.z),
            ("p", c.p),
            ("coef_lower_95", c.coef_lower_95),
            ("coef_upper_95", c.coef_upper_95),
        ] {
            close(
                ours,
                want[field][k].as_f64().unwrap(),
                rel,
                &format!("{field} of {}", c.name),
            );
        }
        for (m, v) in fit.covariance[k].iter().enumerate() {
            close(
                *v,
                want["covariance"][k][m].as_f64().unwrap(),
                rel,
                "covariance",
            );
        }
    }
    for (ours, key) in [
        (fit.log_likelihood, "log_likelihood"),
        (fit.null_log_likelihood, "null_log_likelihood"),
        (fit.lr_statistic, "lr_statistic"),
        (fit.lr_p, "lr_p"),
        (fit.pseudo_r2, "pseudo_r2"),
        (fit.aic, "aic"),
    ] {
        close(ours, want[key].as_f64().unwrap(), rel, key);
    }
}

#[test]
fn logit_equals_statsmodels() {
    let mut r = csv::Reader::from_path(fixtures().join("survival/synthetic.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let recs: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let col = |n: &str| -> Vec<f64> {
        let c = h.iter().position(|x| x == n).unwrap();
        recs.iter().map(|rec| rec[c].parse().unwrap()).collect()
    };
    let y: Vec<bool> = col("event").iter().map(|&v| v == 1.0).collect();
    let names = ["age", "size_cm", "stage_high"];
    let data = LogisticData::new(
        &y,
        names.map(String::from).to_vec(),
        names.iter().map(|n| col(n)).collect(),
    )
    .unwrap();
    let fit = fit_logistic(&data).unwrap();
    matches_statsmodels(&fit, &json("glm/statsmodels_synthetic.json"), 1e-8);
}

#[test]
fn real_kits19_malignancy_equals_statsmodels() {
    let root = match std::env::var("ONCOLENS_SHARED_DATA") {
        Ok(p) => PathBuf::from(p),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    let path = root.join("kits19/kits.json");
    if !path.is_file() {
        eprintln!("skipped: {} not found", path.display());
        return;
    }
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = cases.as_array().unwrap();
    let y: Vec<bool> = cases.iter().map(|c| c["malignant"] == true).collect();
    let columns = vec![
        cases
            .iter()
            .map(|c| c["age_at_nephrectomy"].as_f64().unwrap())
            .collect(),
        cases
            .iter()
            .map(|c| c["radiographic_size"].as_f64().unwrap())
            .collect(),
    ];
    let data =
        LogisticData::new(&y, vec!["age".into(), "radiographic_size".into()], columns).unwrap();
    let fit = fit_logistic(&data).unwrap();
    assert_eq!((fit.patients, fit.positives), (210, 192));
    matches_statsmodels(&fit, &json("glm/statsmodels_kits19.json"), 1e-8);
}
