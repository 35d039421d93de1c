//! Every mode against neuroCombat 0.2.12 (see fixtures/harmonize/README.md):
//! harmonised data and all estimates, to 1e-8 relative.

mod common;

use common::*;
use oncolens_harmonize::{CombatFit, combat};

fn fit_run(r: &serde_json::Value, run: &serde_json::Value) -> (ndarray::Array2<f64>, CombatFit) {
    let dat = matrix(&r["dat"]);
    let site = strings(&r["site"]);
    let res = combat(dat.view(), &site, &covariates(r, run), &options(run)).expect("fit");
    (res.data, res.fit)
}

#[test]
fn fixture_covers_all_modes() {
    let r = reference();
    assert_eq!(r["neuroCombat_version"], "0.2.12");
    assert_eq!(r["runs"].as_array().map(Vec::len), Some(20));
}

#[test]
fn every_mode_matches_neurocombat() {
    let r = reference();
    let mut failures = Vec::new();
    for run in r["runs"].as_array().expect("runs") {
        let name = run["name"].as_str().unwrap_or("?");
        let (data, fit) = fit_run(&r, run);
        let mod_mean = matrix(&run["mod_mean"]);
        let mean_mod: Vec<f64> = mod_mean
            .rows()
            .into_iter()
            .map(|x| x.mean().unwrap_or(0.0))
            .collect();
        let checks = [
            assert_close("data", data.view(), matrix(&run["data"]).view(), 0),
            assert_close(
                "gamma_star",
                fit.gamma_star.view(),
                matrix(&run["gamma_star"]).view(),
                1,
            ),
            assert_close(
                "delta_star",
                fit.delta_star.view(),
                matrix(&run["delta_star"]).view(),
                1,
            ),
            assert_close(
                "gamma_hat",
                fit.gamma_hat.view(),
                matrix(&run["gamma_hat"]).view(),
                1,
            ),
            assert_close(
                "delta_hat",
                fit.delta_hat.view(),
                matrix(&run["delta_hat"]).view(),
                1,
            ),
            assert_close(
                "var_pooled",
                row(fit.var_pooled.to_vec()).view(),
                row(vector(&run["var_pooled"])).view(),
                1,
            ),
            assert_close(
                "stand_mean",
                row(fit.grand_mean.to_vec()).view(),
                row(vector(&run["stand_mean"])).view(),
                1,
            ),
            assert_close(
                "mod_mean (training average)",
                row(fit.mean_covariate_effect.to_vec()).view(),
                row(mean_mod).view(),
                1,
            ),
        ];
        failures.extend(
            checks
                .into_iter()
                .filter_map(Result::err)
                .map(|e| format!("{name}: {e}")),
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn apply_from_training_matches_neurocombat_from_training() {
    let r = reference();
    let new_dat = matrix(&r["new_dat"]);
    let new_site = strings(&r["new_site"]);
    let mut checked = 0;
    for run in r["runs"].as_array().expect("runs") {
        let Some(expected) = run.get("from_training") else {
            continue;
        };
        let (_, fit) = fit_run(&r, run);
        let got = fit
            .apply_from_training(new_dat.view(), &new_site)
            .expect("apply");
        let name = run["name"].as_str().unwrap_or("?");
        if let Err(e) = assert_close("from_training", got.view(), matrix(expected).view(), 0) {
            panic!("{name}: {e}");
        }
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn apply_to_training_data_reproduces_fit() {
    let r = reference();
    let dat = matrix(&r["dat"]);
    let site = strings(&r["site"]);
    for run in r["runs"].as_array().expect("runs") {
        let (data, fit) = fit_run(&r, run);
        let again = fit
            .apply(dat.view(), &site, &covariates(&r, run))
            .expect("apply");
        let name = run["name"].as_str().unwrap_or("?");
        if let Err(e) = assert_close("apply(training)", again.view(), data.view(), 0) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn fit_round_trips_through_json() {
    let r = reference();
    let (_, fit) = fit_run(&r, &r["runs"][10]);
    let text = serde_json::to_string(&fit).expect("serialise");
    let back: CombatFit = serde_json::from_str(&text).expect("deserialise");
    assert_eq!(back, fit);
}
