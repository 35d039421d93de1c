//! oncolens-radiogenomics against pingouin 0.7 (`partial_corr` with site indicators), scipy
//! (`pearsonr`, `spearmanr`) and statsmodels (`fdr_bh`) on `fixtures/radiogenomics/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use oncolens_radiogenomics::{Method, Variable, associate};
use serde_json::Value;

const FEATURES: [&str; 4] = ["volume", "sphericity", "mean_hu", "glcm_contrast"];
const GENES: [&str; 5] = ["MKI67", "CA9", "COL1A1", "GAPDH", "ACTB"];

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/radiogenomics")
}

#[test]
fn every_setting_equals_pingouin_scipy_and_statsmodels() {
    let mut r = csv::Reader::from_path(fixtures().join("table.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let column = |name: &str| -> Vec<f64> {
        let c = h.iter().position(|x| x == name).unwrap();
        records
            .iter()
            .map(|rec| rec[c].parse::<f64>().unwrap_or(f64::NAN))
            .collect()
    };
    let sites: Vec<usize> = records
        .iter()
        .map(|rec| match &rec[1] {
            "site_a" => 0,
            "site_b" => 1,
            _ => 2,
        })
        .collect();
    let features: Vec<Variable> = FEATURES
        .iter()
        .map(|f| Variable::new(*f, column(f)))
        .collect();
    let genes: Vec<Variable> = GENES.iter().map(|g| Variable::new(*g, column(g))).collect();
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("reference.json")).unwrap())
            .unwrap();
    for (key, method, site) in [
        ("pearson_site", Method::Pearson, Some(&sites[..])),
        ("spearman_site", Method::Spearman, Some(&sites[..])),
        ("pearson_none", Method::Pearson, None),
        ("spearman_none", Method::Spearman, None),
    ] {
        let ours = associate(&features, &genes, site, method).unwrap();
        let want = reference["settings"][key].as_array().unwrap();
        assert_eq!(ours.len(), want.len(), "{key}");
        for w in want {
            let a = ours
                .iter()
                .find(|a| a.feature == w["feature"] && a.gene == w["gene"])
                .unwrap();
            assert_eq!(a.n as u64, w["n"].as_u64().unwrap(), "{key} n");
            for (name, x, y) in [
                ("r", a.r, w["r"].as_f64().unwrap()),
                ("p", a.p, w["p"].as_f64().unwrap()),
                ("q", a.q, w["q"].as_f64().unwrap()),
            ] {
                assert!(
                    (x - y).abs() <= 1e-9 * y.abs().max(1e-300),
                    "{key} {} {} {name}: {x} vs {y}",
                    a.feature,
                    a.gene
                );
            }
        }
    }
}
