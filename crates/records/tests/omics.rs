//! Real expression data (GSE7390 via scikit-survival) in both layouts, checked against pandas.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use oncolens_records::omics::{Orientation, read_expression_table};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/omics")
        .join(name)
}

#[test]
fn both_layouts_of_real_data_match_pandas() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap();
    let a = read_expression_table(&fixture("gse7390_samples_x_probes.csv")).unwrap();
    let b = read_expression_table(&fixture("gse7390_probes_x_samples.tsv")).unwrap();
    assert_eq!(a.detected_orientation, Orientation::SamplesByGenes);
    assert_eq!(b.detected_orientation, Orientation::GenesBySamples);
    assert_eq!(a.genes, b.genes);
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.values, b.values);
    assert_eq!(
        a.samples.len() as u64,
        reference["n_samples"].as_u64().unwrap()
    );
    assert_eq!(a.genes.len() as u64, reference["n_genes"].as_u64().unwrap());
    assert_eq!(a.genes[0], reference["first_gene"].as_str().unwrap());
    assert_eq!(a.missing_values, 0);
    for (gene, mean) in reference["gene_means"].as_object().unwrap() {
        let vals: Vec<f64> = a.samples.iter().map(|s| a.get(s, gene).unwrap()).collect();
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let want = mean.as_f64().unwrap();
        assert!(
            (m - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{gene}: {m} vs {want}"
        );
    }
    let last = a.genes.last().unwrap();
    assert_eq!(
        a.get("patient_007", last).unwrap(),
        reference["value_patient_007_last_gene"].as_f64().unwrap()
    );
}
