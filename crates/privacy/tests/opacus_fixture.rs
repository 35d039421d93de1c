//! oncolens-privacy's RDP accountant against Opacus' `RDPAccountant`.
//!
//! Reference: `fixtures/privacy/opacus_rdp.json`, written by `fixtures/privacy/make_fixture.py`
//! with opacus 1.6.0 (versions in `fixtures/privacy/requirements.txt` and in the file itself).
//! Every ε and every best order must agree to 1e-6 relative; every per-order RDP value too, up to
//! an absolute 1e-13 that Opacus' own double-precision cancellation needs where the RDP is tiny
//! (q = 0.001, σ = 5: RDP ≈ 2e-8 with an error of 2e-14). That those differences are Opacus'
//! and not ours is checked against 50-digit mpmath values (`high_precision`) at 1e-9.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use oncolens_privacy::rdp::{
    DEFAULT_ORDERS, RdpAccountant, epsilon_from_rdp, rdp_sampled_gaussian,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    orders: Vec<f64>,
    grid: Vec<GridEntry>,
    histories: Vec<HistoryEntry>,
    high_precision: Vec<HighPrecision>,
}

#[derive(Deserialize)]
struct HighPrecision {
    q: f64,
    sigma: f64,
    order: f64,
    rdp_one_step: f64,
}

#[derive(Deserialize)]
struct GridEntry {
    q: f64,
    sigma: f64,
    rdp_one_step: Vec<f64>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    steps: u64,
    delta: f64,
    epsilon: f64,
    best_order: f64,
}

#[derive(Deserialize)]
struct HistoryEntry {
    history: Vec<Step>,
    results: Vec<Spent>,
}

#[derive(Deserialize)]
struct Step {
    noise_multiplier: f64,
    sample_rate: f64,
    steps: u64,
}

#[derive(Deserialize)]
struct Spent {
    delta: f64,
    epsilon: f64,
    best_order: f64,
}

const REL: f64 = 1e-6;

fn fixture() -> Fixture {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/privacy/opacus_rdp.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= REL * theirs.abs() + 1e-300
}

/// The best order may legitimately differ where two orders give ε equal to within rounding;
/// then ε itself still has to agree, which is what matters.
fn check_order(
    ours: (f64, f64),
    theirs: (f64, f64),
    rdp: &[f64],
    orders: &[f64],
    delta: f64,
    what: &str,
) {
    if ours.1 != theirs.1 {
        let i = orders.iter().position(|&o| o == theirs.1).unwrap();
        let (eps_at_theirs, _) = epsilon_from_rdp(&orders[i..=i], &rdp[i..=i], delta).unwrap();
        assert!(
            close(eps_at_theirs, ours.0),
            "{what}: best order {} vs Opacus {}",
            ours.1,
            theirs.1
        );
    }
}

#[test]
fn default_orders_equal_opacus() {
    assert_eq!(fixture().orders, DEFAULT_ORDERS.to_vec());
}

#[test]
fn per_order_rdp_and_epsilon_match_opacus_on_the_grid() {
    let fx = fixture();
    let mut checked = 0;
    let mut worst = 0.0f64;
    for g in &fx.grid {
        let one = rdp_sampled_gaussian(g.q, g.sigma, 1, &fx.orders);
        for ((ours, theirs), order) in one.iter().zip(&g.rdp_one_step).zip(&fx.orders) {
            assert!(
                (ours - theirs).abs() <= REL * theirs.abs() + 1e-13,
                "q={} sigma={} order={order}: rdp {ours} vs Opacus {theirs}",
                g.q,
                g.sigma
            );
        }
        for c in &g.cases {
            // T steps compose to T times the one-step RDP (what rdp_sampled_gaussian returns).
            let rdp: Vec<f64> = one.iter().map(|r| r * c.steps as f64).collect();
            let (eps, order) = epsilon_from_rdp(&fx.orders, &rdp, c.delta).unwrap();
            let what = format!(
                "q={} sigma={} steps={} delta={}",
                g.q, g.sigma, c.steps, c.delta
            );
            assert!(
                close(eps, c.epsilon),
                "{what}: epsilon {eps} vs Opacus {}",
                c.epsilon
            );
            worst = worst.max((eps - c.epsilon).abs() / c.epsilon.abs());
            check_order(
                (eps, order),
                (c.epsilon, c.best_order),
                &rdp,
                &fx.orders,
                c.delta,
                &what,
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 360);
    eprintln!("{checked} (q, sigma, steps, delta) cases, worst relative epsilon error {worst:.3e}");
}

#[test]
fn rdp_matches_50_digit_quadrature() {
    for h in fixture().high_precision {
        let ours = rdp_sampled_gaussian(h.q, h.sigma, 1, &[h.order])[0];
        assert!(
            (ours - h.rdp_one_step).abs() <= 1e-9 * h.rdp_one_step,
            "q={} sigma={} order={}: {ours} vs {}",
            h.q,
            h.sigma,
            h.order,
            h.rdp_one_step
        );
    }
}

#[test]
fn steps_compose_linearly() {
    let one = rdp_sampled_gaussian(0.01, 1.3, 1, &DEFAULT_ORDERS);
    let many = rdp_sampled_gaussian(0.01, 1.3, 777, &DEFAULT_ORDERS);
    for (a, b) in one.iter().zip(&many) {
        assert_eq!(a * 777.0, *b);
    }
}

#[test]
fn accountant_matches_opacus_on_the_grid_and_mixed_histories() {
    let fx = fixture();
    // The accountant path on a slice of the grid (one (steps, delta) per (q, sigma)).
    for g in &fx.grid {
        let c = &g.cases[5];
        let mut acc = RdpAccountant::new();
        acc.record(g.sigma, g.q, c.steps).unwrap();
        let eps = acc.epsilon(c.delta).unwrap();
        assert!(
            close(eps, c.epsilon),
            "q={} sigma={}: {eps} vs {}",
            g.q,
            g.sigma,
            c.epsilon
        );
    }
    for h in &fx.histories {
        let mut acc = RdpAccountant::new();
        for s in &h.history {
            acc.record(s.noise_multiplier, s.sample_rate, s.steps)
                .unwrap();
        }
        // A persisted and reloaded accountant gives the same answer.
        let reloaded: RdpAccountant =
            serde_json::from_str(&serde_json::to_string(&acc).unwrap()).unwrap();
        assert_eq!(reloaded, acc);
        for r in &h.results {
            let (eps, order) = reloaded.epsilon_and_order(r.delta).unwrap();
            assert!(
                close(eps, r.epsilon),
                "history: {eps} vs Opacus {}",
                r.epsilon
            );
            check_order(
                (eps, order),
                (r.epsilon, r.best_order),
                &acc.rdp(),
                acc.orders(),
                r.delta,
                "history",
            );
        }
    }
}

#[test]
fn budget_check_refuses_a_job_that_would_exceed_it() {
    // The station's use: accept while epsilon_if stays within budget, then record.
    let budget = 3.0;
    let delta = 1e-5;
    let mut acc = RdpAccountant::new();
    let mut accepted = 0;
    for _ in 0..100 {
        let next = acc.epsilon_if(1.0, 0.01, 500, delta).unwrap();
        if next > budget {
            break;
        }
        acc.record(1.0, 0.01, 500).unwrap();
        accepted += 1;
    }
    assert!(accepted > 0 && accepted < 100, "accepted {accepted}");
    assert!(acc.epsilon(delta).unwrap() <= budget);
    assert!(acc.epsilon_if(1.0, 0.01, 500, delta).unwrap() > budget);
}
