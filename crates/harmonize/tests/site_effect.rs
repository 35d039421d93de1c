//! Behavioural checks on synthetic data with a known truth: ComBat removes
//! the site effect and keeps the covariate effect it is told about.

use ndarray::Array2;
use oncolens_harmonize::{CombatOptions, Covariate, combat};

const SITES: usize = 3;
const PER_SITE: usize = 40;
const FEATURES: usize = 20;
const AGE_SLOPE: f64 = 0.5;
/// Additive site effects relative to site0 (before the per-feature factor).
const SHIFT: [f64; SITES] = [0.0, 6.0, -4.0];

/// Deterministic normal draws (LCG + Box–Muller) so the test needs no RNG crate.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

struct Sim {
    data: Array2<f64>,
    site: Vec<String>,
    age: Vec<f64>,
}

/// Sites differ in location, scale *and* age range, so age and site are
/// correlated (but not confounded), the hard case for harmonisation.  The
/// site shift is nearly the same for every feature, which is the situation the
/// empirical Bayes prior (exchangeable features) assumes.
fn simulate() -> Sim {
    let mut rng = Rng(42);
    let scale = [1.0, 2.0, 0.5];
    let age_lo = [40.0, 45.0, 50.0];
    let n = SITES * PER_SITE;
    let mut data = Array2::zeros((FEATURES, n));
    let (mut site, mut age) = (Vec::new(), Vec::new());
    for s in 0..SITES {
        for _ in 0..PER_SITE {
            let i = site.len();
            let a = age_lo[s] + 25.0 * rng.uniform();
            for f in 0..FEATURES {
                let base = 10.0 * (f as f64 + 1.0);
                data[[f, i]] = base
                    + AGE_SLOPE * (a - 60.0)
                    + SHIFT[s] * (1.0 + 0.02 * f as f64)
                    + 2.0 * scale[s] * rng.normal();
            }
            site.push(format!("site{s}"));
            age.push(a);
        }
    }
    Sim { data, site, age }
}

/// OLS by normal equations with Gaussian elimination (test-only helper).
fn ols(x: &Array2<f64>, y: &[f64]) -> Vec<f64> {
    let p = x.ncols();
    let mut a = x.t().dot(x);
    let mut b: Vec<f64> = (0..p)
        .map(|j| x.column(j).iter().zip(y).map(|(u, v)| u * v).sum())
        .collect();
    for k in 0..p {
        for i in (k + 1)..p {
            let m = a[[i, k]] / a[[k, k]];
            for j in k..p {
                a[[i, j]] -= m * a[[k, j]];
            }
            b[i] -= m * b[k];
        }
    }
    let mut beta = vec![0.0; p];
    for k in (0..p).rev() {
        let s: f64 = ((k + 1)..p).map(|j| a[[k, j]] * beta[j]).sum();
        beta[k] = (b[k] - s) / a[[k, k]];
    }
    beta
}

/// Columns: intercept, age, site1, site2.
fn design(sim: &Sim) -> Array2<f64> {
    let n = sim.site.len();
    let mut x = Array2::zeros((n, 4));
    for i in 0..n {
        x[[i, 0]] = 1.0;
        x[[i, 1]] = sim.age[i] - 60.0;
        x[[i, 2]] = f64::from(u8::from(sim.site[i] == "site1"));
        x[[i, 3]] = f64::from(u8::from(sim.site[i] == "site2"));
    }
    x
}

fn site_means(data: &Array2<f64>, site: &[String], f: usize) -> Vec<f64> {
    (0..SITES)
        .map(|s| {
            let label = format!("site{s}");
            let v: Vec<f64> = (0..site.len())
                .filter(|&i| site[i] == label)
                .map(|i| data[[f, i]])
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        })
        .collect()
}

fn spread(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min)
}

#[test]
fn location_scale_without_eb_equalises_site_means_exactly() {
    let sim = simulate();
    let opts = CombatOptions {
        eb: false,
        ..CombatOptions::default()
    };
    let out = combat(sim.data.view(), &sim.site, &[], &opts)
        .expect("fit")
        .data;
    for f in 0..FEATURES {
        assert!(spread(&site_means(&sim.data, &sim.site, f)) > 5.0);
        assert!(
            spread(&site_means(&out, &sim.site, f)) < 1e-9,
            "feature {f}"
        );
    }
}

#[test]
fn empirical_bayes_removes_site_effect_and_keeps_age_effect() {
    let sim = simulate();
    let x = design(&sim);
    let age = Covariate::Continuous {
        name: "age".into(),
        values: sim.age.clone(),
    };
    for opts in [
        CombatOptions::default(),
        CombatOptions {
            parametric: false,
            ..CombatOptions::default()
        },
        CombatOptions {
            reference_batch: Some("site0".into()),
            ..CombatOptions::default()
        },
    ] {
        let out = combat(
            sim.data.view(),
            &sim.site,
            std::slice::from_ref(&age),
            &opts,
        )
        .expect("fit")
        .data;
        let (mut before_sum, mut after_sum) = ([0.0; 2], [0.0; 2]);
        for f in 0..FEATURES {
            let before = ols(&x, &sim.data.row(f).to_vec());
            let after = ols(&x, &out.row(f).to_vec());
            for k in 0..2 {
                assert!(
                    before[k + 2].abs() > 2.0,
                    "{opts:?} feature {f}: weak simulated site effect"
                );
                // per feature, EB leaves only sampling noise of the site mean
                // (it shrinks γ̂ towards the across-feature mean γ̄); with
                // s.e. ≈ 0.4 here, 0.3 × |true shift| is a > 3 s.e. bound
                let truth = SHIFT[k + 1] * (1.0 + 0.02 * f as f64);
                assert!(
                    after[k + 2].abs() < 0.3 * truth.abs(),
                    "{opts:?} feature {f}: site coef {} vs {}",
                    after[k + 2],
                    before[k + 2]
                );
                before_sum[k] += before[k + 2];
                after_sum[k] += after[k + 2];
            }
            // the age slope stays at the truth
            assert!(
                (after[1] - AGE_SLOPE).abs() < 0.05,
                "{opts:?} feature {f}: age slope {}",
                after[1]
            );
        }
        // the systematic (shared) site effect is gone
        for k in 0..2 {
            assert!(
                after_sum[k].abs() < 0.05 * before_sum[k].abs(),
                "{opts:?}: mean site coef {after_sum:?} vs {before_sum:?}"
            );
        }
        // site variances equalise too (scale effect 0.5..2 in the simulation)
        let resid_sd = |data: &Array2<f64>, s: &str| {
            let idx: Vec<usize> = (0..sim.site.len()).filter(|&i| sim.site[i] == s).collect();
            let beta = ols(&x, &data.row(0).to_vec());
            let r: Vec<f64> = idx
                .iter()
                .map(|&i| data[[0, i]] - x.row(i).dot(&ndarray::arr1(&beta)))
                .collect();
            (r.iter().map(|v| v * v).sum::<f64>() / r.len() as f64).sqrt()
        };
        let ratio = resid_sd(&out, "site1") / resid_sd(&out, "site2");
        assert!(
            (0.6..1.6).contains(&ratio),
            "{opts:?}: sd ratio {ratio} (raw is about 4)"
        );
    }
}

#[test]
fn omitting_a_site_correlated_covariate_distorts_its_effect() {
    // Why covariates matter: sites differ in age, so without the covariate
    // ComBat attributes part of the age effect to the site and removes it.
    let sim = simulate();
    let x = design(&sim);
    let out = combat(sim.data.view(), &sim.site, &[], &CombatOptions::default())
        .expect("fit")
        .data;
    let mut pooled = Array2::zeros((sim.site.len(), 2));
    for i in 0..sim.site.len() {
        pooled[[i, 0]] = 1.0;
        pooled[[i, 1]] = x[[i, 1]];
    }
    let slope_without = ols(&pooled, &out.row(0).to_vec())[1];
    // site mean ages differ by 5 years: about a quarter of the pooled age
    // variance is between sites, and ComBat without `age` removes that part
    assert!(
        slope_without < 0.94 * AGE_SLOPE,
        "slope without covariate {slope_without}"
    );
    let age = Covariate::Continuous {
        name: "age".into(),
        values: sim.age.clone(),
    };
    let kept = combat(
        sim.data.view(),
        &sim.site,
        &[age],
        &CombatOptions::default(),
    )
    .expect("fit")
    .data;
    let slope_with = ols(&pooled, &kept.row(0).to_vec())[1];
    assert!(
        (slope_with - AGE_SLOPE).abs() < 0.03,
        "slope with covariate {slope_with}"
    );
}
