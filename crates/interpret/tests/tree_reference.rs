//! CART against scikit-learn 1.9.1 (fixtures/interpret/tree_reference.json).
mod common;
use common::*;
use oncolens_interpret::tree::{ClassWeight, Criterion, Dataset, DecisionTree, TreeParams};

fn params(p: &serde_json::Value, state: Option<u32>) -> TreeParams {
    let mut t = TreeParams {
        sklearn_rand_r_state: state,
        ..TreeParams::default()
    };
    if p["criterion"] == "entropy" {
        t.criterion = Criterion::Entropy;
    }
    if let Some(d) = p["max_depth"].as_u64() {
        t.max_depth = Some(d as usize);
    }
    if let Some(v) = p["min_samples_leaf"].as_u64() {
        t.min_samples_leaf = v as usize;
    }
    if let Some(v) = p["min_samples_split"].as_u64() {
        t.min_samples_split = v as usize;
    }
    if p["class_weight"] == "balanced" {
        t.class_weight = ClassWeight::Balanced;
    }
    if let Some(a) = p["ccp_alpha"].as_f64() {
        t.ccp_alpha = a;
    }
    t
}

#[test]
fn trees_equal_sklearn() {
    let (names, cols, y) = wdbc();
    let x = Dataset::numeric(names, cols.clone()).expect("dataset");
    let target = oncolens_interpret::tree::Target::from_labels("diagnosis", &y).expect("target");
    let reference = json("tree_reference.json");
    for case in reference["trees"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        assert_eq!(
            target.classes(),
            &["benign".to_string(), "malignant".to_string()]
        );
        for fit in case["fits"].as_array().expect("fits") {
            let state = fit["rand_r_state"].as_u64().expect("state") as u32;
            let tree = DecisionTree::fit(&x, &target, &params(&case["params"], Some(state)), None)
                .expect("fit");
            let r = &fit["tree"];
            let nodes = tree.nodes();
            let what = format!("{name} seed {}", fit["seed"]);
            assert_eq!(
                nodes.len(),
                r["feature"].as_array().expect("a").len(),
                "{what}: node count"
            );
            for (i, nd) in nodes.iter().enumerate() {
                let feat = r["feature"][i].as_i64().expect("f");
                match &nd.split {
                    Some(s) => {
                        assert_eq!(s.feature() as i64, feat, "{what} node {i} feature");
                        if let oncolens_interpret::tree::Split::Threshold { threshold, .. } = s {
                            assert_eq!(
                                *threshold,
                                r["threshold"][i].as_f64().expect("t"),
                                "{what} node {i} threshold"
                            );
                        }
                        assert_eq!(nd.left as i64, r["children_left"][i].as_i64().expect("l"));
                        assert_eq!(nd.right as i64, r["children_right"][i].as_i64().expect("r"));
                    }
                    None => assert_eq!(feat, -2, "{what} node {i} should split"),
                }
                assert_close(
                    nd.impurity,
                    r["impurity"][i].as_f64().expect("imp"),
                    1e-12,
                    &format!("{what} node {i} impurity"),
                );
                assert_eq!(
                    nd.n_samples as u64,
                    r["n_node_samples"][i].as_u64().expect("n")
                );
                assert_close(
                    nd.weighted_n_samples,
                    r["weighted_n_node_samples"][i].as_f64().expect("w"),
                    1e-12,
                    &what,
                );
                for (a, b) in nd.proba().iter().zip(f64s(&r["value"][i])) {
                    assert_close(*a, b, 1e-12, &format!("{what} node {i} value"));
                }
            }
            for (a, b) in tree
                .feature_importances()
                .iter()
                .zip(f64s(&fit["feature_importances"]))
            {
                assert_close(*a, b, 1e-12, &format!("{what} importances"));
            }
            let rows: Vec<usize> = fit["predict_proba_rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|v| v.as_u64().expect("u") as usize)
                .collect();
            for (k, &row) in rows.iter().enumerate() {
                let xrow: Vec<f64> = cols.iter().map(|c| c[row]).collect();
                let p = tree.predict_proba(&xrow).expect("proba");
                for (a, b) in p.iter().zip(f64s(&fit["predict_proba"][k])) {
                    assert_close(*a, b, 1e-12, &format!("{what} proba row {row}"));
                }
            }
            assert_eq!(
                tree.to_dot(),
                fit["dot"].as_str().expect("dot"),
                "{what} dot"
            );
            assert_eq!(
                tree.to_text(),
                fit["text"].as_str().expect("text"),
                "{what} text"
            );
        }
        let seed0 = case["fits"][0]["rand_r_state"].as_u64().expect("s") as u32;
        let path = DecisionTree::cost_complexity_pruning_path(
            &x,
            &target,
            &params(&case["params"], Some(seed0)),
            None,
        )
        .expect("path");
        let ra = f64s(&case["ccp_alphas"]);
        let ri = f64s(&case["impurities"]);
        let ours: Vec<(f64, f64)> = path
            .ccp_alphas
            .iter()
            .copied()
            .zip(path.impurities.iter().copied())
            .collect();
        assert_eq!(ours.len(), ra.len(), "{name} path length");
        for ((a, _), b) in ours.iter().zip(&ra) {
            assert_close(*a, *b, 1e-12, &format!("{name} ccp_alpha"));
        }
        for ((_, a), b) in ours.iter().zip(&ri) {
            assert_close(*a, *b, 1e-12, &format!("{name} path impurity"));
        }
    }
}
