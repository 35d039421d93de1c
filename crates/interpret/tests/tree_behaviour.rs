//! Bad input, categorical splits, pruning and exports on small hand-made tables.
use oncolens_interpret::InterpretError;
use oncolens_interpret::tree::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn rejects_bad_tables_with_named_errors() {
    assert!(matches!(
        Dataset::numeric(s(&["a"]), vec![vec![]]),
        Err(InterpretError::EmptyTable(_))
    ));
    assert!(matches!(
        Dataset::numeric(vec![], vec![]),
        Err(InterpretError::EmptyTable(_))
    ));
    let e = Dataset::numeric(
        s(&["age", "size"]),
        vec![vec![1.0, 2.0], vec![3.0, f64::NAN]],
    )
    .expect_err("nan");
    assert!(
        matches!(&e, InterpretError::NonFinite { column, row: 1, value } if column == "size" && value.is_nan())
    );
    assert!(e.to_string().contains("`size` row 1"), "{e}");
    let e = Dataset::numeric(s(&["a", "b"]), vec![vec![1.0, 2.0], vec![3.0]]).expect_err("ragged");
    assert!(e.to_string().contains("`b`"), "{e}");
    assert!(Target::from_labels::<&str>("y", &[]).is_err());
    let x = Dataset::numeric(s(&["a"]), vec![vec![1.0, 2.0]]).expect("x");
    let y = Target::from_labels("y", &["p", "q", "r"]).expect("y");
    assert!(matches!(
        DecisionTree::fit(&x, &y, &TreeParams::default(), None),
        Err(InterpretError::RaggedColumn { .. })
    ));
    let y = Target::from_labels("y", &["p", "q"]).expect("y");
    let bad = TreeParams {
        min_samples_split: 1,
        ..TreeParams::default()
    };
    assert!(DecisionTree::fit(&x, &y, &bad, None).is_err());
    let bad = TreeParams {
        ccp_alpha: f64::NAN,
        ..TreeParams::default()
    };
    assert!(DecisionTree::fit(&x, &y, &bad, None).is_err());
    let tree = DecisionTree::fit(&x, &y, &TreeParams::default(), None).expect("fit");
    assert!(tree.predict_proba(&[f64::NAN]).is_err());
    assert!(tree.predict_proba(&[1.0, 2.0]).is_err());
}

#[test]
fn constant_columns_give_a_single_leaf() {
    let x = Dataset::numeric(s(&["c"]), vec![vec![5.0; 6]]).expect("x");
    let y = Target::from_labels("y", &["a", "b", "a", "b", "a", "a"]).expect("y");
    let t = DecisionTree::fit(&x, &y, &TreeParams::default(), None).expect("fit");
    assert_eq!(t.nodes().len(), 1);
    assert_eq!(t.predict(&[5.0]).expect("p"), 0);
    assert_eq!(t.feature_importances(), vec![0.0]);
    let path = DecisionTree::cost_complexity_pruning_path(&x, &y, &TreeParams::default(), None)
        .expect("path");
    assert_eq!(path.ccp_alphas, vec![0.0]);
}

#[test]
fn categorical_split_orders_levels_by_target_rate() {
    // level rates of class "m": low 0/3, mid 3/3, high 0/3 -> {low, high} vs {mid}
    let codes = vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0];
    let kinds = vec![FeatureKind::Categorical {
        levels: s(&["low", "mid", "high"]),
    }];
    let x = Dataset::new(s(&["grade"]), kinds.clone(), vec![codes]).expect("x");
    let y = Target::from_labels("dx", &["b", "b", "b", "m", "m", "m", "b", "b", "b"]).expect("y");
    let t = DecisionTree::fit(&x, &y, &TreeParams::default(), None).expect("fit");
    assert_eq!(t.n_leaves(), 2);
    assert_eq!(
        t.nodes()[0].split,
        Some(Split::Categories {
            feature: 0,
            left: vec![0, 2]
        })
    );
    assert_eq!(t.predict(&[1.0]).expect("p"), 1);
    assert_eq!(t.predict(&[2.0]).expect("p"), 0);
    assert!(
        t.to_text().contains("grade in {low, high}"),
        "{}",
        t.to_text()
    );
    // three classes cannot be ordered by "the" target rate
    let y3 = Target::from_labels("dx", &["a", "b", "c", "a", "b", "c", "a", "b", "c"]).expect("y");
    let e = DecisionTree::fit(&x, &y3, &TreeParams::default(), None).expect_err("non-binary");
    assert!(
        matches!(e, InterpretError::NonBinaryTarget { classes: 3, .. }),
        "{e}"
    );
    // codes outside the levels are rejected
    assert!(Dataset::new(s(&["grade"]), kinds, vec![vec![3.0]]).is_err());
}

#[test]
fn pruning_at_the_largest_alpha_leaves_the_root() {
    let x = Dataset::numeric(
        s(&["a", "b"]),
        vec![
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            vec![0.5, 0.1, 0.3, 0.2, 0.9, 0.4],
        ],
    )
    .expect("x");
    let y = Target::from_labels("y", &["n", "n", "y", "n", "y", "y"]).expect("y");
    let path = DecisionTree::cost_complexity_pruning_path(&x, &y, &TreeParams::default(), None)
        .expect("path");
    assert!(path.ccp_alphas.windows(2).all(|w| w[0] <= w[1]));
    let last = *path.ccp_alphas.last().expect("non-empty");
    let p = TreeParams {
        ccp_alpha: last,
        ..TreeParams::default()
    };
    let t = DecisionTree::fit(&x, &y, &p, None).expect("fit");
    assert_eq!(t.nodes().len(), 1);
    let full = DecisionTree::fit(&x, &y, &TreeParams::default(), None).expect("fit");
    assert!(full.to_dot().starts_with("digraph Tree {"));
    assert!(full.to_rules().iter().all(|r| r.starts_with("IF ")));
    let w = DecisionTree::fit(
        &x,
        &y,
        &TreeParams::default(),
        Some(&[1.0, 1.0, 1.0, 1.0, 1.0, -1.0]),
    );
    assert!(w.is_err(), "negative sample weight");
}
