//! Library-level input validation (the CSV-level cases are in `table.rs`).

use ndarray::{Array2, array};
use oncolens_harmonize::{CombatOptions, Covariate, HarmonizeError, combat, combat_named};

fn toy() -> (Array2<f64>, Vec<&'static str>) {
    let data = array![
        [1.0, 2.0, 3.5, 5.0, 6.5, 9.0],
        [10.0, 12.0, 11.0, 20.0, 26.0, 21.0],
        [0.1, 0.3, 0.2, 0.9, 0.5, 0.7],
    ];
    (data, vec!["a", "a", "a", "b", "b", "b"])
}

fn err<T: std::fmt::Debug>(r: Result<T, HarmonizeError>) -> HarmonizeError {
    r.expect_err("expected an error")
}

#[test]
fn one_site_is_rejected() {
    let (d, _) = toy();
    let e = err(combat(d.view(), &["a"; 6], &[], &CombatOptions::default()));
    assert!(matches!(e, HarmonizeError::TooFewSites { found: 1 }));
}

#[test]
fn wrong_lengths_are_rejected() {
    let (d, b) = toy();
    assert!(matches!(
        err(combat(d.view(), &b[..5], &[], &CombatOptions::default())),
        HarmonizeError::LengthMismatch {
            len: 5,
            samples: 6,
            ..
        }
    ));
    let age = Covariate::Continuous {
        name: "age".into(),
        values: vec![1.0; 4],
    };
    let e = err(combat(d.view(), &b, &[age], &CombatOptions::default()));
    assert!(e.to_string().contains("covariate 'age'"), "{e}");
}

#[test]
fn non_finite_values_name_feature_and_sample() {
    let (mut d, b) = toy();
    d[[1, 4]] = f64::NAN;
    let names = vec![
        "mean".to_owned(),
        "glcm_contrast".to_owned(),
        "entropy".to_owned(),
    ];
    let e = err(combat_named(
        d.view(),
        &names,
        &b,
        &[],
        &CombatOptions::default(),
    ));
    assert!(
        matches!(&e, HarmonizeError::NonFiniteData { feature, sample: 4, .. } if feature == "glcm_contrast"),
        "{e}"
    );

    let (d, b) = toy();
    let age = Covariate::Continuous {
        name: "age".into(),
        values: vec![50.0, 60.0, f64::INFINITY, 40.0, 45.0, 70.0],
    };
    let e = err(combat(d.view(), &b, &[age], &CombatOptions::default()));
    assert!(
        matches!(&e, HarmonizeError::NonFiniteCovariate { covariate, sample: 2, .. } if covariate == "age")
    );
}

#[test]
fn constant_within_reference_site_is_zero_variance() {
    let (mut d, b) = toy();
    d[[2, 0]] = 0.4;
    d[[2, 1]] = 0.4;
    d[[2, 2]] = 0.4;
    let opts = CombatOptions {
        reference_batch: Some("a".into()),
        ..CombatOptions::default()
    };
    let e = err(combat(d.view(), &b, &[], &opts));
    assert!(
        matches!(&e, HarmonizeError::ZeroVariance { feature, reference: Some(r) } if feature == "feature_2" && r == "a"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "feature 'feature_2' has zero residual variance within reference site 'a'; it cannot be standardised"
    );
}

#[test]
fn too_few_features_for_pooling() {
    let (d, b) = toy();
    let one = d.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..1));
    assert!(matches!(
        err(combat(one, &b, &[], &CombatOptions::default())),
        HarmonizeError::TooFewFeatures { found: 1 }
    ));
}

#[test]
fn apply_rejects_unknown_site_level_and_covariates() {
    let (d, b) = toy();
    let sex = |v: [&str; 6]| Covariate::Categorical {
        name: "sex".into(),
        values: v.map(String::from).to_vec(),
    };
    let fit = combat(
        d.view(),
        &b,
        &[sex(["F", "M", "F", "M", "F", "M"])],
        &CombatOptions::default(),
    )
    .expect("fit")
    .fit;
    let new = d
        .slice_axis(ndarray::Axis(1), ndarray::Slice::from(0..2))
        .to_owned();
    let sex2 = |a: &str, b: &str| Covariate::Categorical {
        name: "sex".into(),
        values: vec![a.into(), b.into()],
    };
    assert!(
        matches!(err(fit.apply(new.view(), &["a", "c"], &[sex2("F", "M")])), HarmonizeError::UnknownSite { site } if site == "c")
    );
    assert!(matches!(
        err(fit.apply(new.view(), &["a", "b"], &[sex2("F", "X")])),
        HarmonizeError::UnknownLevel { covariate, level } if covariate == "sex" && level == "X"
    ));
    assert!(matches!(
        err(fit.apply(new.view(), &["a", "b"], &[])),
        HarmonizeError::CovariateMismatch { .. }
    ));
    let two = new.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..2));
    assert!(matches!(
        err(fit.apply(two, &["a", "b"], &[sex2("F", "M")])),
        HarmonizeError::FeatureCountMismatch {
            expected: 3,
            found: 2
        }
    ));
    assert!(
        fit.apply(new.view(), &["a", "b"], &[sex2("F", "M")])
            .is_ok()
    );
}
