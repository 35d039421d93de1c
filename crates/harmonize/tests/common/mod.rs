//! Shared helpers: load the neuroCombat fixture.
#![allow(dead_code)]

use std::path::PathBuf;

use ndarray::Array2;
use oncolens_harmonize::{CombatOptions, Covariate};
use serde_json::Value;

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/harmonize")
}

pub fn reference() -> Value {
    let path = fixture_dir().join("neurocombat_reference.json");
    let text = std::fs::read_to_string(&path).expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

pub fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("matrix");
    let (r, c) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((r, c), rows.into_iter().flatten().collect()).expect("rectangular")
}

pub fn vector(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).expect("vector")
}

pub fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).expect("strings")
}

pub fn options(run: &Value) -> CombatOptions {
    CombatOptions {
        parametric: run["parametric"].as_bool().expect("bool"),
        eb: run["eb"].as_bool().expect("bool"),
        mean_only: run["mean_only"].as_bool().expect("bool"),
        reference_batch: run["ref_batch"].as_str().map(str::to_owned),
    }
}

pub fn covariates(reference: &Value, run: &Value) -> Vec<Covariate> {
    match run["covariates"].as_str() {
        Some("age_sex") => vec![
            Covariate::Continuous {
                name: "age".into(),
                values: vector(&reference["age"]),
            },
            Covariate::Categorical {
                name: "sex".into(),
                values: strings(&reference["sex"]),
            },
        ],
        _ => vec![],
    }
}

/// Largest `|a − b| / max(|b|, floor)` over the two arrays.
pub fn max_rel(
    a: impl IntoIterator<Item = f64>,
    b: impl IntoIterator<Item = f64>,
    floor: f64,
) -> f64 {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}

/// Relative tolerance for equality with neuroCombat.
pub const REL_TOL: f64 = 1e-8;

/// Compare `actual` with neuroCombat's `expected` value by value:
/// `|a − e| ≤ REL_TOL · max(|e|, 1e-4 · max_feature |e|)`.
///
/// Why the floor: a few estimates are exactly zero in exact arithmetic (the
/// reference site's γ̂ in reference mode) and both implementations return
/// round-off noise of order 1e-15 there, which no relative tolerance can
/// compare.  The floor is taken per feature, so features on very different
/// scales (a mean of 45 vs a coarseness of 0.013) are each held to 1e-8
/// relative.  `feature_axis` is the axis along which features run.
pub fn assert_close(
    what: &str,
    actual: ndarray::ArrayView2<f64>,
    expected: ndarray::ArrayView2<f64>,
    feature_axis: usize,
) -> Result<(), String> {
    if actual.dim() != expected.dim() {
        return Err(format!(
            "{what}: shape {:?} vs {:?}",
            actual.dim(),
            expected.dim()
        ));
    }
    let ax = ndarray::Axis(feature_axis);
    for (f, (a_lane, e_lane)) in actual.axis_iter(ax).zip(expected.axis_iter(ax)).enumerate() {
        let scale = e_lane.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (k, (a, e)) in a_lane.iter().zip(e_lane.iter()).enumerate() {
            let tol = REL_TOL * e.abs().max(1e-4 * scale);
            if (a - e).abs() > tol || !a.is_finite() {
                return Err(format!(
                    "{what}: feature {f} entry {k}: {a} vs neuroCombat {e}"
                ));
            }
        }
    }
    Ok(())
}

pub fn row(v: Vec<f64>) -> Array2<f64> {
    let n = v.len();
    Array2::from_shape_vec((1, n), v).expect("row")
}
