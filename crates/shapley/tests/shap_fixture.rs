//! Equality with shap 0.51 on real data (fixtures/shapley/shap_reference.json, made by
//! fixtures/shapley/make_fixture.py): the same two models are evaluated here from their stored
//! weights, and the exact / Kernel SHAP values must agree with shap's to 1e-10 relative.

use std::path::PathBuf;

use oncolens_shapley::{KernelOptions, TabularExplainer};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    background: Vec<Vec<f64>>,
    rows: Vec<Vec<f64>>,
    models: Models,
    exact: Refs,
    kernel: KernelRefs,
    group_exact: GroupRefs,
}

#[derive(Deserialize)]
struct Models {
    logistic: Logistic,
    mlp: Mlp,
}

#[derive(Deserialize)]
struct Logistic {
    coef: Vec<f64>,
    intercept: f64,
}

#[derive(Deserialize)]
struct Mlp {
    w1: Vec<Vec<f64>>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: f64,
}

#[derive(Deserialize)]
struct ExactRef {
    values: Vec<Vec<f64>>,
    base_values: Vec<f64>,
    fx: Vec<f64>,
}

#[derive(Deserialize)]
struct Refs {
    logistic: ExactRef,
    mlp: ExactRef,
}

#[derive(Deserialize)]
struct KernelRef {
    values: Vec<Vec<f64>>,
    base_value: f64,
}

#[derive(Deserialize)]
struct KernelRefs {
    logistic: KernelRef,
    mlp: KernelRef,
}

#[derive(Deserialize)]
struct GroupRef {
    groups: Vec<Vec<usize>>,
    values: Vec<Vec<f64>>,
    base_values: Vec<f64>,
}

#[derive(Deserialize)]
struct GroupRefs {
    mlp: GroupRef,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/shapley/shap_reference.json");
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    serde_json::from_str(&text).expect("fixture parses")
}

impl Logistic {
    fn eval(&self, x: &[f64]) -> f64 {
        x.iter().zip(&self.coef).map(|(a, b)| a * b).sum::<f64>() + self.intercept
    }
}

impl Mlp {
    fn eval(&self, x: &[f64]) -> f64 {
        let z: f64 = self
            .w1
            .iter()
            .zip(&self.b1)
            .zip(&self.w2)
            .map(|((w, b), w2)| {
                let pre: f64 = w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + b;
                w2 * pre.tanh()
            })
            .sum::<f64>()
            + self.b2;
        1.0 / (1.0 + (-z).exp())
    }
}

/// Relative error, with a floor of 1e-9 × the row's largest |φ| under the denominator so that a
/// φ that is numerically zero (~1e-16) does not turn rounding noise into a huge "relative" error.
/// (Observed: worst 1.6e-13 over all checks, i.e. plain relative error.)
fn rel_err(ours: f64, theirs: f64, scale: f64) -> f64 {
    (ours - theirs).abs() / theirs.abs().max(1e-9 * scale)
}

const TOL: f64 = 1e-10;

fn check_rows(name: &str, ours: &[Vec<f64>], theirs: &[Vec<f64>]) -> f64 {
    let mut worst = 0.0_f64;
    for (r, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a.len(), b.len(), "{name} row {r}");
        let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        for (j, (&x, &y)) in a.iter().zip(b).enumerate() {
            let e = rel_err(x, y, scale);
            assert!(
                e <= TOL,
                "{name} row {r} feature {j}: ours {x:e} shap {y:e} rel {e:e}"
            );
            worst = worst.max(e);
        }
    }
    eprintln!("{name}: worst relative error {worst:e}");
    worst
}

/// A row-wise model evaluated from the fixture's weights.
type RowModel<'a> = Box<dyn Fn(&[f64]) -> f64 + Sync + 'a>;

fn models(fx: &Fixture) -> [(&'static str, RowModel<'_>); 2] {
    [
        ("logistic", Box::new(|x: &[f64]| fx.models.logistic.eval(x))),
        ("mlp", Box::new(|x: &[f64]| fx.models.mlp.eval(x))),
    ]
}

#[test]
fn exact_matches_shap_exact_explainer() {
    let fx = fixture();
    for (name, f) in models(&fx) {
        let model = |rows: &[Vec<f64>]| rows.iter().map(|r| f(r)).collect::<Vec<f64>>();
        let reference = if name == "logistic" {
            &fx.exact.logistic
        } else {
            &fx.exact.mlp
        };
        let explainer = TabularExplainer::new(&model, &fx.background).unwrap();
        let ours = explainer.exact_batch(&fx.rows).unwrap();
        for (r, e) in ours.iter().enumerate() {
            let base = reference.base_values[r];
            assert!(
                (e.base_value - base).abs() <= TOL * base.abs(),
                "{name} base {r}"
            );
            assert!((e.output - reference.fx[r]).abs() <= TOL * reference.fx[r].abs());
            assert!(
                e.efficiency_gap().abs() < 1e-12,
                "{name} efficiency row {r}"
            );
            assert_eq!(e.coalitions_evaluated, 256);
        }
        let values: Vec<Vec<f64>> = ours.into_iter().map(|e| e.values).collect();
        check_rows(&format!("exact/{name}"), &values, &reference.values);
    }
}

#[test]
fn kernel_with_full_budget_matches_shap_kernel_explainer_and_exact() {
    let fx = fixture();
    for (name, f) in models(&fx) {
        let model = |rows: &[Vec<f64>]| rows.iter().map(|r| f(r)).collect::<Vec<f64>>();
        let (kref, eref) = if name == "logistic" {
            (&fx.kernel.logistic, &fx.exact.logistic)
        } else {
            (&fx.kernel.mlp, &fx.exact.mlp)
        };
        let explainer = TabularExplainer::new(&model, &fx.background).unwrap();
        // nsamples above 2^8 - 2 is capped to full enumeration, as in shap
        let opts = KernelOptions {
            nsamples: Some(1000),
            seed: 1,
        };
        let ours: Vec<_> = fx
            .rows
            .iter()
            .map(|x| explainer.kernel(x, &opts).unwrap())
            .collect();
        for e in &ours {
            assert_eq!(e.coalitions_evaluated, 254);
            assert!((e.base_value - kref.base_value).abs() <= TOL * kref.base_value.abs());
            assert!(e.efficiency_gap().abs() < 1e-12);
        }
        let values: Vec<Vec<f64>> = ours.into_iter().map(|e| e.values).collect();
        check_rows(
            &format!("kernel-vs-shap-kernel/{name}"),
            &values,
            &kref.values,
        );
        check_rows(
            &format!("kernel-vs-shap-exact/{name}"),
            &values,
            &eref.values,
        );
    }
}

#[test]
fn group_shapley_matches_shap_on_group_players() {
    let fx = fixture();
    let mlp = &fx.models.mlp;
    let model = |rows: &[Vec<f64>]| rows.iter().map(|r| mlp.eval(r)).collect::<Vec<f64>>();
    let explainer = TabularExplainer::new(&model, &fx.background)
        .unwrap()
        .with_groups(&fx.group_exact.mlp.groups)
        .unwrap();
    let ours = explainer.exact_batch(&fx.rows).unwrap();
    for (r, e) in ours.iter().enumerate() {
        let base = fx.group_exact.mlp.base_values[r];
        assert!((e.base_value - base).abs() <= TOL * base.abs());
        assert!(e.efficiency_gap().abs() < 1e-12);
        let s: f64 = e.shares().iter().sum();
        assert!((s - 1.0).abs() < 1e-12);
    }
    let values: Vec<Vec<f64>> = ours.into_iter().map(|e| e.values).collect();
    check_rows("group-exact/mlp", &values, &fx.group_exact.mlp.values);
}
