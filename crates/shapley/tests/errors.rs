//! Bad input gives a clear error, never a panic.

use oncolens_shapley::{
    KernelOptions, MAX_EXACT_PLAYERS, ShapleyError, TabularExplainer, exact_shapley, kernel_shap,
    kernel_shap_from_value_fn, shapley_from_value_fn,
};

fn sum_model(rows: &[Vec<f64>]) -> Vec<f64> {
    rows.iter().map(|r| r.iter().sum()).collect()
}

#[test]
fn zero_features() {
    let bg = vec![Vec::new(), Vec::new()];
    assert_eq!(
        exact_shapley(&sum_model, &bg, &[]),
        Err(ShapleyError::NoPlayers)
    );
    assert_eq!(
        shapley_from_value_fn(0, |_| 0.0),
        Err(ShapleyError::NoPlayers)
    );
    assert_eq!(
        kernel_shap_from_value_fn(0, |_| 0.0, &KernelOptions::default()),
        Err(ShapleyError::NoPlayers)
    );
    let bg = vec![vec![1.0]];
    let r = TabularExplainer::new(&sum_model, &bg).and_then(|e| e.with_groups(&[]));
    assert_eq!(r.err(), Some(ShapleyError::NoPlayers));
}

#[test]
fn too_many_players_for_exact_suggests_kernel_shap() {
    let m = MAX_EXACT_PLAYERS + 1;
    let bg = vec![vec![0.0; m]];
    let err = exact_shapley(&sum_model, &bg, &vec![1.0; m]).unwrap_err();
    assert_eq!(
        err,
        ShapleyError::TooManyPlayers {
            players: m,
            limit: MAX_EXACT_PLAYERS
        }
    );
    assert!(err.to_string().contains("Kernel SHAP"), "{err}");
    assert!(matches!(
        shapley_from_value_fn(m, |_| 0.0),
        Err(ShapleyError::TooManyPlayers { .. })
    ));
    // ...and Kernel SHAP does take it
    let k = kernel_shap(&sum_model, &bg, &vec![1.0; m], &KernelOptions::default()).unwrap();
    assert!(k.values.iter().all(|&v| (v - 1.0).abs() < 1e-10));
}

#[test]
fn empty_background() {
    let bg: Vec<Vec<f64>> = Vec::new();
    assert_eq!(
        exact_shapley(&sum_model, &bg, &[1.0]),
        Err(ShapleyError::EmptyBackground)
    );
    assert_eq!(
        kernel_shap(&sum_model, &bg, &[1.0], &KernelOptions::default()),
        Err(ShapleyError::EmptyBackground)
    );
}

#[test]
fn width_mismatch() {
    let bg = vec![vec![0.0, 1.0], vec![0.0]];
    let err = exact_shapley(&sum_model, &bg, &[1.0, 2.0]).unwrap_err();
    assert_eq!(
        err,
        ShapleyError::WidthMismatch {
            what: "background row 1".into(),
            expected: 2,
            found: 1
        }
    );
    let bg = vec![vec![0.0, 1.0]];
    let err = exact_shapley(&sum_model, &bg, &[1.0, 2.0, 3.0]).unwrap_err();
    assert_eq!(
        err,
        ShapleyError::WidthMismatch {
            what: "explained row".into(),
            expected: 2,
            found: 3
        }
    );
    assert!(
        err.to_string()
            .contains("explained row has 3 features, expected 2")
    );
}

#[test]
fn nan_output_names_the_coalition() {
    // NaN exactly when feature 2 comes from x and feature 0 from the background
    let model = |rows: &[Vec<f64>]| -> Vec<f64> {
        rows.iter()
            .map(|r| {
                if r[2] > 5.0 && r[0] < 0.5 {
                    f64::NAN
                } else {
                    r.iter().sum()
                }
            })
            .collect()
    };
    let bg = vec![vec![0.0, 0.0, 0.0]];
    let err = exact_shapley(&model, &bg, &[1.0, 1.0, 9.0]).unwrap_err();
    match &err {
        ShapleyError::NonFiniteOutput { coalition, value } => {
            assert!(value.is_nan());
            assert!(
                coalition.contains(&2) && !coalition.contains(&0),
                "{coalition:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("coalition [2]"), "{err}");
    let kerr = kernel_shap(&model, &bg, &[1.0, 1.0, 9.0], &KernelOptions::default()).unwrap_err();
    assert!(matches!(kerr, ShapleyError::NonFiniteOutput { .. }));

    let err =
        shapley_from_value_fn(3, |s| if s[1] && s[2] { f64::INFINITY } else { 0.0 }).unwrap_err();
    assert_eq!(
        err,
        ShapleyError::NonFiniteOutput {
            coalition: vec![1, 2],
            value: f64::INFINITY
        }
    );
}

#[test]
fn model_breaking_its_output_contract() {
    let model = |rows: &[Vec<f64>]| -> Vec<f64> { vec![0.0; rows.len() + 1] };
    let bg = vec![vec![0.0, 0.0]];
    assert!(matches!(
        exact_shapley(&model, &bg, &[1.0, 1.0]),
        Err(ShapleyError::OutputLength { .. })
    ));
}

#[test]
fn invalid_groups_and_options() {
    let bg = vec![vec![0.0, 0.0, 0.0]];
    let make = || TabularExplainer::new(&sum_model, &bg).unwrap();
    for groups in [
        vec![vec![0, 1], vec![]],
        vec![vec![0, 1], vec![1, 2]],
        vec![vec![0, 1]],
        vec![vec![0, 1, 2, 3]],
    ] {
        assert!(
            matches!(
                make().with_groups(&groups),
                Err(ShapleyError::InvalidGroups(_))
            ),
            "{groups:?}"
        );
    }
    assert!(matches!(
        make().with_batch_rows(0),
        Err(ShapleyError::InvalidOption(_))
    ));
    let bg20 = vec![vec![0.0; 20]];
    let err = kernel_shap(
        &sum_model,
        &bg20,
        &[1.0; 20],
        &KernelOptions {
            nsamples: Some(5),
            seed: 0,
        },
    )
    .unwrap_err();
    assert!(matches!(err, ShapleyError::InvalidOption(_)));
}
