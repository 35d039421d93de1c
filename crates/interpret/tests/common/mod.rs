#![allow(dead_code)]
use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/interpret")
        .join(name)
}

pub fn json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture present");
    serde_json::from_str(&text).expect("valid json")
}

/// (feature names, feature columns, diagnosis labels) of wdbc12.csv.
pub fn wdbc() -> (Vec<String>, Vec<Vec<f64>>, Vec<String>) {
    let mut rdr = csv::Reader::from_path(fixture("wdbc12.csv")).expect("csv");
    let headers: Vec<String> = rdr
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let mut cols = vec![Vec::new(); headers.len() - 1];
    let mut y = Vec::new();
    for rec in rdr.records() {
        let rec = rec.expect("record");
        y.push(rec[0].to_string());
        for j in 1..headers.len() {
            cols[j - 1].push(rec[j].parse::<f64>().expect("float"));
        }
    }
    (headers[1..].to_vec(), cols, y)
}

pub fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: {a} vs {b} (diff {})",
        (a - b).abs()
    );
}

/// The discretised WDBC table rebuilt with this crate's discretiser.
pub fn discrete_table() -> (Vec<String>, Vec<Vec<String>>) {
    let (names, cols, y) = wdbc();
    let d = json("discretise_reference.json");
    let mut out_names = vec!["diagnosis".to_string()];
    let mut out_cols = vec![y];
    for (short, long) in d["columns"].as_object().expect("columns") {
        let j = names
            .iter()
            .position(|n| n == long.as_str().expect("s"))
            .expect("column");
        let edges = oncolens_interpret::rules::quantile_edges(short, &cols[j], 3).expect("edges");
        assert_eq!(
            edges,
            f64s(&d["edges"][short]),
            "{short} edges bit-equal to numpy"
        );
        let labels = oncolens_interpret::rules::bin_labels(&edges);
        let codes = oncolens_interpret::rules::bin_codes(short, &cols[j], &edges).expect("codes");
        let states: Vec<&str> = d["states"][short]
            .as_array()
            .expect("a")
            .iter()
            .map(|v| v.as_str().expect("s"))
            .collect();
        let col: Vec<String> = codes.iter().map(|&c| labels[c].clone()).collect();
        for (row, v) in col.iter().enumerate() {
            let want = states[d["codes"][short][row].as_u64().expect("u") as usize];
            assert_eq!(v, want, "{short} row {row}");
        }
        let full =
            oncolens_interpret::rules::discretise(short, &cols[j], None, 3).expect("discretise");
        assert_eq!(full[0], format!("{short}={}", col[0]));
        out_names.push(short.clone());
        out_cols.push(col);
    }
    (out_names, out_cols)
}
