//! Rényi-DP accounting for the (Poisson-)subsampled Gaussian mechanism.
//!
//! # What is computed
//!
//! One step of DP-SGD / DP-FedAvg samples each record (or station) with probability `q` and
//! releases a clipped sum plus `N(0, σ²C²)` noise. Its Rényi divergence of order `α` is
//! `ε(α) = log(A_α) / (α − 1)`, where `A_α = E_{z∼μ0}[(μ(z)/μ0(z))^α]`, `μ0 = N(0, σ²)` and
//! `μ = (1−q)·μ0 + q·N(1, σ²)` (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the
//! Sampled Gaussian Mechanism", arXiv:1908.10530, Section 3.3). RDP composes additively, so `T`
//! steps cost `T·ε(α)` at every order and a history of different steps costs the sum.
//!
//! * Integer `α`: the binomial expansion `A_α = Σ_{k=0..α} C(α,k) (1−q)^{α−k} q^k
//!   exp((k²−k)/(2σ²))`, all terms positive, summed in log space.
//! * Fractional `α`: the paper splits the integral at `z0 = σ²·ln(1/q − 1) + ½` (where
//!   `q·μ1/μ0 = 1−q`) and expands `(1−q + q·e^{(2z−1)/(2σ²)})^α` as a binomial *series* on each side:
//!   `A_α = Σ_k C(α,k) (1−q)^{α−k} q^k e^{(k²−k)/(2σ²)} · ½erfc((k−z0)/(√2σ))
//!        + Σ_k C(α,k) (1−q)^k q^{α−k} e^{(j²−j)/(2σ²)} · ½erfc((z0−j)/(√2σ))`, `j = α−k`.
//!   For `k > α` the coefficients `C(α,k)` alternate in sign and the terms decrease in magnitude,
//!   so positive and negative parts are accumulated separately in log space and the series is
//!   cut once a term is below `e^{−36}` of the sum (the alternating-series bound makes that the
//!   truncation error). If it does not converge within [`MAX_SERIES_TERMS`] terms (e.g. an
//!   enormous σ), the order falls back to the integer order above it, which is a valid upper
//!   bound because `ε(α)` is non-decreasing in `α`.
//! * `q = 1` (no subsampling): the Gaussian mechanism, `ε(α) = α/(2σ²)`; `q = 0`: `0`.
//!
//! The conversion to `(ε, δ)`-DP is the improved bound of Balle, Barthe, Gaboardi, Hsu & Sato
//! 2020 ("Hypothesis testing interpretations and Rényi differential privacy", Theorem 21):
//! `ε = ε(α) + ln((α−1)/α) − (ln δ + ln α)/(α−1)`, minimised over the orders. This is the
//! conversion Opacus' `get_privacy_spent` uses, and [`DEFAULT_ORDERS`] are Opacus'
//! `RDPAccountant.DEFAULT_ALPHAS`, so the numbers are comparable with Opacus runs.
//!
//! # Reference values
//!
//! `fixtures/privacy/opacus_rdp.json` holds ε, the best order and per-order RDP computed by
//! Opacus' `RDPAccountant` (`opacus.accountants.analysis.rdp`) for a grid of `(q, σ, steps, δ)`;
//! `fixtures/privacy/make_fixture.py` writes it and `tests/opacus_fixture.rs` checks this module
//! against it to 1e-6 relative. The implementation here follows the paper, not Opacus' code.

use serde::{Deserialize, Serialize};

use crate::PrivacyError;

/// Opacus' default RDP orders: `1.1, 1.2, …, 10.9` then `12, 13, …, 63` (151 orders).
pub const DEFAULT_ORDERS: [f64; 151] = default_orders();

const fn default_orders() -> [f64; 151] {
    let mut out = [0.0; 151];
    let mut x = 1;
    while x < 100 {
        // Same expression (and so the same f64) as Python's `1 + x / 10.0`.
        out[x - 1] = 1.0 + x as f64 / 10.0;
        x += 1;
    }
    let mut k = 12;
    while k < 64 {
        out[99 + k - 12] = k as f64;
        k += 1;
    }
    out
}

/// The most terms summed for one fractional order before falling back to the next integer order.
pub const MAX_SERIES_TERMS: usize = 2_000_000;

/// Integer orders above this are not expanded (the sum has `α + 1` terms); they get `+∞`, a
/// valid (useless) upper bound that the ε conversion never picks.
const MAX_INTEGER_ORDER: f64 = 1.0e5;

/// A term below `e^{-SERIES_CUTOFF}` of the running sum ends the fractional series.
const SERIES_CUTOFF: f64 = 36.0;

/// `ln(e^a + e^b)` without overflow.
fn log_add(a: f64, b: f64) -> f64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `ln(erfc(x))`, accurate also where `erfc(x)` underflows.
fn log_erfc(x: f64) -> f64 {
    if x < 25.0 {
        // erfc(25) ≈ 8e-274: still a normal f64, and libm's erfc is accurate to ~1 ulp there.
        libm::erfc(x).ln()
    } else {
        // Asymptotic expansion erfc(x) = e^{-x²}/(x√π) · Σ_n (−1)^n (2n−1)!! / (2x²)^n;
        // at x ≥ 25 the first omitted term is below 3e-13 relative.
        let u = 1.0 / (2.0 * x * x);
        let series = 1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u * (1.0 - 7.0 * u)));
        -x * x - x.ln() - 0.5 * std::f64::consts::PI.ln() + series.ln()
    }
}

/// `ln A_α` for integer `α` (binomial expansion, all terms positive).
fn log_a_integer(q: f64, sigma: f64, alpha: f64) -> f64 {
    let n = alpha as u64;
    let log_q = q.ln();
    let log_1mq = (-q).ln_1p();
    let two_s2 = 2.0 * sigma * sigma;
    let mut log_binom = 0.0; // ln C(α, k)
    let mut acc = f64::NEG_INFINITY;
    for k in 0..=n {
        let kf = k as f64;
        let term = log_binom + kf * log_q + (alpha - kf) * log_1mq + (kf * kf - kf) / two_s2;
        acc = log_add(acc, term);
        if k < n {
            log_binom += (alpha - kf).ln() - (kf + 1.0).ln();
        }
    }
    acc
}

/// `ln A_α` for fractional `α` (the two binomial series split at `z0`), or `None` if the
/// series did not converge in [`MAX_SERIES_TERMS`] terms or cancelled numerically.
fn log_a_fractional(q: f64, sigma: f64, alpha: f64) -> Option<f64> {
    let s2 = sigma * sigma;
    let two_s2 = 2.0 * s2;
    let sqrt2_sigma = std::f64::consts::SQRT_2 * sigma;
    let log_q = q.ln();
    let log_1mq = (-q).ln_1p();
    let z0 = s2 * (1.0 / q - 1.0).ln() + 0.5;
    let log_half = 0.5f64.ln();

    let mut positive = f64::NEG_INFINITY;
    let mut negative = f64::NEG_INFINITY;
    let mut log_binom = 0.0; // ln |C(α, k)|
    let mut sign_positive = true; // sign of C(α, k)
    let mut converged = false;
    for k in 0..MAX_SERIES_TERMS {
        let kf = k as f64;
        let j = alpha - kf;
        let below = log_binom
            + kf * log_q
            + j * log_1mq
            + (kf * kf - kf) / two_s2
            + log_half
            + log_erfc((kf - z0) / sqrt2_sigma);
        let above = log_binom
            + j * log_q
            + kf * log_1mq
            + (j * j - j) / two_s2
            + log_half
            + log_erfc((z0 - j) / sqrt2_sigma);
        let term = log_add(below, above);
        if sign_positive {
            positive = log_add(positive, term);
        } else {
            negative = log_add(negative, term);
        }
        // Past k > α the signs alternate and |terms| decrease: the first omitted term bounds
        // the truncation error.
        if kf > alpha + 1.0 && term < positive - SERIES_CUTOFF {
            converged = true;
            break;
        }
        let ratio = (alpha - kf) / (kf + 1.0);
        log_binom += ratio.abs().ln();
        if ratio < 0.0 {
            sign_positive = !sign_positive;
        }
    }
    if !converged || negative.partial_cmp(&positive) != Some(std::cmp::Ordering::Less) {
        return None;
    }
    Some(positive + (-(negative - positive).exp_m1()).ln())
}

/// RDP `ε(α)` of one step of the sampled Gaussian mechanism.
fn rdp_one_step(q: f64, sigma: f64, alpha: f64) -> f64 {
    let valid = (0.0..=1.0).contains(&q) && sigma >= 0.0 && alpha > 1.0; // rejects NaN too
    if !valid {
        return f64::INFINITY;
    }
    if q == 0.0 || sigma == f64::INFINITY {
        return 0.0;
    }
    if sigma == 0.0 || alpha == f64::INFINITY {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 {
        if alpha > MAX_INTEGER_ORDER {
            return f64::INFINITY;
        }
        log_a_integer(q, sigma, alpha)
    } else {
        match log_a_fractional(q, sigma, alpha) {
            Some(v) => v,
            // ε(α) is non-decreasing in α: the next integer order's value bounds this one.
            None => {
                let upper = alpha.ceil();
                if upper > MAX_INTEGER_ORDER {
                    return f64::INFINITY;
                }
                return log_a_integer(q, sigma, upper) / (upper - 1.0);
            }
        }
    };
    log_a / (alpha - 1.0)
}

/// RDP at each of `orders` after `steps` steps of the Gaussian mechanism with noise multiplier
/// `noise_multiplier`, each record sampled with probability `q` (Poisson sampling).
///
/// Returns one value per order. Out-of-domain inputs (q outside [0, 1], a negative or NaN σ, an
/// order ≤ 1) give `+∞` at the affected orders rather than an error: `+∞` is always a valid
/// (if useless) RDP bound, so a caller that forgets to validate can never under-count privacy
/// loss. [`RdpAccountant::record`] validates and reports errors.
pub fn rdp_sampled_gaussian(q: f64, noise_multiplier: f64, steps: u64, orders: &[f64]) -> Vec<f64> {
    orders
        .iter()
        .map(|&alpha| {
            if steps == 0 {
                return 0.0;
            }
            let per_step = rdp_one_step(q, noise_multiplier, alpha);
            if per_step == 0.0 {
                0.0
            } else {
                per_step * steps as f64
            }
        })
        .collect()
}

/// Converts RDP values (one per order) to `(ε, best order)` for the given `δ`, with the
/// conversion of Balle et al. 2020 (Theorem 21), minimised over the orders.
///
/// Orders whose ε is NaN are skipped; if every order gives `+∞` or NaN the result is
/// `(+∞, orders[0])` (no privacy). Errors: lengths differ, no orders, an order ≤ 1 or not finite,
/// `δ` outside (0, 1).
pub fn epsilon_from_rdp(
    orders: &[f64],
    rdp: &[f64],
    delta: f64,
) -> Result<(f64, f64), PrivacyError> {
    if orders.len() != rdp.len() {
        return Err(PrivacyError::LengthMismatch {
            what: "RDP values per order",
            expected: orders.len(),
            got: rdp.len(),
        });
    }
    let Some(&first) = orders.first() else {
        return Err(PrivacyError::invalid(
            "orders",
            "[]",
            "at least one order is needed",
        ));
    };
    if !(delta > 0.0 && delta < 1.0) {
        return Err(PrivacyError::invalid("delta", delta, "must lie in (0, 1)"));
    }
    let log_delta = delta.ln();
    let mut best: Option<(f64, f64)> = None;
    for (&alpha, &r) in orders.iter().zip(rdp) {
        if !(alpha.is_finite() && alpha > 1.0) {
            return Err(PrivacyError::invalid(
                "order",
                alpha,
                "must be finite and > 1",
            ));
        }
        let eps = r - (log_delta + alpha.ln()) / (alpha - 1.0) + ((alpha - 1.0) / alpha).ln();
        if eps.is_nan() {
            continue;
        }
        if best.is_none_or(|(b, _)| eps < b) {
            best = Some((eps, alpha));
        }
    }
    Ok(best.unwrap_or((f64::INFINITY, first)))
}

/// One entry of an accountant's history: `steps` steps at the given σ and sampling rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RdpStep {
    /// σ of the Gaussian mechanism (noise std / clipping norm).
    pub noise_multiplier: f64,
    /// Probability q with which each record (or station) takes part in a step.
    pub sample_rate: f64,
    /// Number of steps.
    pub steps: u64,
}

impl RdpStep {
    fn validate(&self) -> Result<(), PrivacyError> {
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier > 0.0) {
            return Err(PrivacyError::invalid(
                "noise_multiplier",
                self.noise_multiplier,
                "must be positive and finite",
            ));
        }
        if !(self.sample_rate > 0.0 && self.sample_rate <= 1.0) {
            return Err(PrivacyError::invalid(
                "sample_rate",
                self.sample_rate,
                "must lie in (0, 1]",
            ));
        }
        Ok(())
    }
}

/// A Rényi-DP accountant: the history of mechanisms a station has run, and the ε it has spent.
///
/// Serialisable so a station can persist it next to its data and enforce a lifetime budget
/// across jobs: before accepting a job, [`RdpAccountant::epsilon_if`] says what ε would become,
/// and the station refuses if that exceeds its budget; after running, [`RdpAccountant::record`].
/// The history (not just the summed RDP) is kept so the spend can be audited and recomputed.
/// Consecutive records with the same σ and q are merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    history: Vec<RdpStep>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::new()
    }
}

impl RdpAccountant {
    /// An empty accountant over [`DEFAULT_ORDERS`].
    pub fn new() -> Self {
        Self {
            orders: DEFAULT_ORDERS.to_vec(),
            history: Vec::new(),
        }
    }

    /// An empty accountant over custom orders (each finite and > 1).
    pub fn with_orders(orders: Vec<f64>) -> Result<Self, PrivacyError> {
        let acc = Self {
            orders,
            history: Vec::new(),
        };
        acc.validate()?;
        Ok(acc)
    }

    /// The RDP orders.
    pub fn orders(&self) -> &[f64] {
        &self.orders
    }

    /// Everything recorded so far.
    pub fn history(&self) -> &[RdpStep] {
        &self.history
    }

    /// Checks orders and history (useful after deserialising a persisted accountant).
    pub fn validate(&self) -> Result<(), PrivacyError> {
        if self.orders.is_empty() {
            return Err(PrivacyError::invalid(
                "orders",
                "[]",
                "at least one order is needed",
            ));
        }
        if let Some(&bad) = self.orders.iter().find(|a| !(a.is_finite() && **a > 1.0)) {
            return Err(PrivacyError::invalid(
                "order",
                bad,
                "must be finite and > 1",
            ));
        }
        self.history.iter().try_for_each(RdpStep::validate)
    }

    /// Records `steps` steps of the Gaussian mechanism with noise multiplier σ and sampling rate
    /// q. Errors (and records nothing) unless σ is positive and finite and q lies in (0, 1].
    pub fn record(
        &mut self,
        noise_multiplier: f64,
        sample_rate: f64,
        steps: u64,
    ) -> Result<(), PrivacyError> {
        let step = RdpStep {
            noise_multiplier,
            sample_rate,
            steps,
        };
        step.validate()?;
        if steps == 0 {
            return Ok(());
        }
        match self.history.last_mut() {
            Some(last)
                if last.noise_multiplier == noise_multiplier && last.sample_rate == sample_rate =>
            {
                last.steps = last.steps.saturating_add(steps);
            }
            _ => self.history.push(step),
        }
        Ok(())
    }

    /// Total RDP at each order over the history.
    pub fn rdp(&self) -> Vec<f64> {
        let mut total = vec![0.0; self.orders.len()];
        for step in &self.history {
            let r = rdp_sampled_gaussian(
                step.sample_rate,
                step.noise_multiplier,
                step.steps,
                &self.orders,
            );
            for (t, v) in total.iter_mut().zip(r) {
                *t += v;
            }
        }
        total
    }

    /// `(ε, best order)` spent so far for the given δ. An accountant with nothing recorded has
    /// spent `(0, 0)` (as Opacus reports).
    pub fn epsilon_and_order(&self, delta: f64) -> Result<(f64, f64), PrivacyError> {
        self.validate()?;
        if !(delta > 0.0 && delta < 1.0) {
            return Err(PrivacyError::invalid("delta", delta, "must lie in (0, 1)"));
        }
        if self.history.iter().all(|s| s.steps == 0) {
            return Ok((0.0, 0.0));
        }
        epsilon_from_rdp(&self.orders, &self.rdp(), delta)
    }

    /// ε spent so far for the given δ.
    pub fn epsilon(&self, delta: f64) -> Result<f64, PrivacyError> {
        Ok(self.epsilon_and_order(delta)?.0)
    }

    /// ε after recording `steps` more steps at (σ, q), without recording them: what a station
    /// checks against its budget before accepting a job.
    pub fn epsilon_if(
        &self,
        noise_multiplier: f64,
        sample_rate: f64,
        steps: u64,
        delta: f64,
    ) -> Result<f64, PrivacyError> {
        let mut trial = self.clone();
        trial.record(noise_multiplier, sample_rate, steps)?;
        trial.epsilon(delta)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_orders_match_opacus_list() {
        assert_eq!(DEFAULT_ORDERS.len(), 151);
        assert_eq!(DEFAULT_ORDERS[0], 1.1);
        assert_eq!(DEFAULT_ORDERS[8], 1.9);
        assert_eq!(DEFAULT_ORDERS[9], 2.0);
        assert_eq!(DEFAULT_ORDERS[98], 10.9);
        assert_eq!(DEFAULT_ORDERS[99], 12.0);
        assert_eq!(DEFAULT_ORDERS[150], 63.0);
    }

    #[test]
    fn log_erfc_is_continuous_at_the_switch() {
        let below = libm::erfc(24.999_999).ln();
        let above = log_erfc(25.000_001);
        assert!((below - above).abs() < 2e-4, "{below} {above}");
        let exact_25 = libm::erfc(25.0).ln();
        let x: f64 = 25.0;
        let u = 1.0 / (2.0 * x * x);
        let series = 1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u * (1.0 - 7.0 * u)));
        let asym = -x * x - x.ln() - 0.5 * std::f64::consts::PI.ln() + series.ln();
        assert!((exact_25 - asym).abs() < 1e-10, "{exact_25} {asym}");
        assert!(log_erfc(1000.0).is_finite());
    }

    #[test]
    fn fractional_series_agrees_with_integer_expansion_near_integers() {
        // The series at α = 3 ± tiny must approach the closed-form integer sum at 3.
        for &(q, sigma) in &[(0.01, 1.0), (0.1, 2.0), (0.3, 0.7)] {
            let exact = log_a_integer(q, sigma, 3.0);
            let lo = log_a_fractional(q, sigma, 3.0 - 1e-9).unwrap();
            let hi = log_a_fractional(q, sigma, 3.0 + 1e-9).unwrap();
            assert!(
                lo <= exact + 1e-12 && exact <= hi + 1e-12,
                "{lo} {exact} {hi}"
            );
            assert!((hi - lo).abs() < 1e-6 * exact.abs().max(1e-300) + 1e-12);
        }
    }

    #[test]
    fn special_cases() {
        let o = [1.5, 2.0, 32.0];
        assert_eq!(
            rdp_sampled_gaussian(1.0, 2.0, 3, &o),
            vec![3.0 * 1.5 / 8.0, 3.0 * 2.0 / 8.0, 12.0]
        );
        assert_eq!(rdp_sampled_gaussian(0.0, 2.0, 3, &o), vec![0.0; 3]);
        assert_eq!(
            rdp_sampled_gaussian(0.1, 0.0, 3, &o),
            vec![f64::INFINITY; 3]
        );
        assert_eq!(
            rdp_sampled_gaussian(1.5, 1.0, 3, &o),
            vec![f64::INFINITY; 3]
        );
        assert_eq!(
            rdp_sampled_gaussian(0.1, f64::NAN, 3, &o),
            vec![f64::INFINITY; 3]
        );
        assert_eq!(rdp_sampled_gaussian(0.1, 1.0, 0, &o), vec![0.0; 3]);
        assert_eq!(
            rdp_sampled_gaussian(0.1, 1.0, 1, &[1.0]),
            vec![f64::INFINITY]
        );
    }

    #[test]
    fn rdp_is_monotone_in_order_and_subsampling_amplifies() {
        for &sigma in &[0.5, 1.0, 3.0] {
            let r = rdp_sampled_gaussian(0.05, sigma, 1, &DEFAULT_ORDERS);
            for w in r.windows(2) {
                assert!(w[1] >= w[0] * (1.0 - 1e-9), "{r:?}");
            }
            let full = rdp_sampled_gaussian(1.0, sigma, 1, &DEFAULT_ORDERS);
            assert!(r.iter().zip(&full).all(|(a, b)| a <= b));
        }
    }

    #[test]
    fn huge_sigma_falls_back_to_a_finite_upper_bound() {
        let r = rdp_sampled_gaussian(0.5, 1e4, 1, &[1.5, 2.0]);
        assert!(
            r[0].is_finite() && r[0] >= 0.0 && r[0] <= r[1] * (1.0 + 1e-9),
            "{r:?}"
        );
    }

    #[test]
    fn epsilon_conversion_validates() {
        assert!(epsilon_from_rdp(&[2.0], &[1.0, 2.0], 1e-5).is_err());
        assert!(epsilon_from_rdp(&[], &[], 1e-5).is_err());
        assert!(epsilon_from_rdp(&[2.0], &[1.0], 0.0).is_err());
        assert!(epsilon_from_rdp(&[2.0], &[1.0], 1.0).is_err());
        assert!(epsilon_from_rdp(&[1.0], &[1.0], 1e-5).is_err());
        let (eps, order) = epsilon_from_rdp(&[2.0, 3.0], &[f64::INFINITY, f64::NAN], 1e-5).unwrap();
        assert_eq!((eps, order), (f64::INFINITY, 2.0));
        // Balle et al. at a single order, by hand.
        let (eps, order) = epsilon_from_rdp(&[4.0], &[0.5], 1e-5).unwrap();
        let expected = 0.5 - ((1e-5f64).ln() + 4f64.ln()) / 3.0 + (0.75f64).ln();
        assert!((eps - expected).abs() < 1e-14);
        assert_eq!(order, 4.0);
    }

    #[test]
    fn accountant_records_merges_validates_and_predicts() {
        let mut acc = RdpAccountant::new();
        assert_eq!(acc.epsilon(1e-5).unwrap(), 0.0);
        assert!(acc.record(0.0, 0.1, 10).is_err());
        assert!(acc.record(1.0, 0.0, 10).is_err());
        assert!(acc.record(1.0, 1.5, 10).is_err());
        assert!(acc.record(f64::NAN, 0.1, 10).is_err());
        assert!(acc.history().is_empty());

        let predicted = acc.epsilon_if(1.1, 0.01, 100, 1e-5).unwrap();
        assert!(acc.history().is_empty());
        acc.record(1.1, 0.01, 40).unwrap();
        acc.record(1.1, 0.01, 60).unwrap();
        assert_eq!(acc.history().len(), 1);
        assert_eq!(acc.epsilon(1e-5).unwrap(), predicted);

        let before = acc.epsilon(1e-5).unwrap();
        acc.record(2.0, 0.05, 10).unwrap();
        assert_eq!(acc.history().len(), 2);
        assert!(acc.epsilon(1e-5).unwrap() > before);
        assert!(acc.epsilon(0.0).is_err());

        let bad = RdpAccountant {
            orders: vec![0.5],
            history: vec![],
        };
        assert!(bad.epsilon(1e-5).is_err());
        assert!(RdpAccountant::with_orders(vec![]).is_err());
    }
}
