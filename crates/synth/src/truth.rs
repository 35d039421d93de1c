//! The generative model: latent patient and lesion variables, and the malignancy label they cause.
//!
//! This is the ground truth that explanation checks score against, so every number is a named
//! constant and the README's "Sample cohort" section describes the same model.
//!
//! Each causal factor enters the log-odds as `coefficient * standardised value`:
//!
//! | factor | standardised as | coefficient | seen by |
//! |---|---|---|---|
//! | lesion diameter | `(ln d_mm - ln 35) / 0.4` | 1.2 | image (and report) |
//! | margin irregularity | `probit(irregularity)` | 1.0 | image (and report) |
//! | internal heterogeneity | `probit(heterogeneity)` | 0.8 | image (and report) |
//! | enhancement | `(HU - 70) / 30` | 0.9 | image (and report) |
//! | age | `(years - 62) / 12` | 0.5 | clinical |
//! | LDH | `ln(LDH / 190) / 0.25` | 0.7 | clinical |
//!
//! plus an intercept and the site's case-mix offset. Sex, kidney side, haemoglobin and creatinine
//! have no effect (distractors an explanation should not credit).

use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

/// Log-odds coefficients of the standardised factors.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Coefficients {
    pub intercept: f64,
    pub size: f64,
    pub irregularity: f64,
    pub heterogeneity: f64,
    pub enhancement: f64,
    pub age: f64,
    pub ldh: f64,
}

pub const COEFFICIENTS: Coefficients = Coefficients {
    intercept: -0.2,
    size: 1.2,
    irregularity: 1.0,
    heterogeneity: 0.8,
    enhancement: 0.9,
    age: 0.5,
    ldh: 0.7,
};

/// Latent values of one patient and lesion, in natural units.
#[derive(Debug, Clone, Serialize)]
pub struct Latent {
    pub diameter_mm: f64,
    /// 0 = smooth sphere, 1 = strongly lobulated/infiltrative margin.
    pub irregularity: f64,
    /// 0 = homogeneous, 1 = strongly heterogeneous with necrosis.
    pub heterogeneity: f64,
    /// Mean lesion attenuation after contrast, HU (before site offset).
    pub enhancement_hu: f64,
    pub age_years: f64,
    pub male: bool,
    pub ldh_u_per_l: f64,
    pub hemoglobin_g_per_dl: f64,
    pub creatinine_mg_per_dl: f64,
    /// `true` = right kidney.
    pub right_kidney: bool,
}

/// Each factor's additive contribution to the log-odds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Contributions {
    pub size: f64,
    pub irregularity: f64,
    pub heterogeneity: f64,
    pub enhancement: f64,
    pub age: f64,
    pub ldh: f64,
    pub site: f64,
}

impl Contributions {
    pub fn image(&self) -> f64 {
        self.size + self.irregularity + self.heterogeneity + self.enhancement
    }
    pub fn clinical(&self) -> f64 {
        self.age + self.ldh
    }
}

/// Standard normal CDF (Abramowitz-Stegun 7.1.26 through erf), accurate to ~1e-7.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// Inverse of [`normal_cdf`] by bisection (only used on generator values, never hot).
pub fn probit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    let (mut lo, mut hi) = (-9.0f64, 9.0f64);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Draws the latent variables of one patient.
pub fn draw_latent(rng: &mut impl Rng) -> Latent {
    let n = Normal::new(0.0, 1.0).expect("unit normal is valid");
    let z_size: f64 = n.sample(rng);
    let z_irr: f64 = n.sample(rng);
    // Larger tumours are more often heterogeneous (necrosis) and raise LDH (tumour burden).
    let z_het = 0.3 * z_size + (1.0f64 - 0.09).sqrt() * n.sample(rng);
    let z_enh: f64 = n.sample(rng);
    let z_age: f64 = n.sample(rng);
    let z_ldh = 0.3 * z_size + (1.0f64 - 0.09).sqrt() * n.sample(rng);
    let male = rng.random::<f64>() < 0.62;
    let hb_mean = if male { 14.2 } else { 12.8 };
    Latent {
        diameter_mm: (35.0 * (0.4 * z_size).exp()).clamp(12.0, 80.0),
        irregularity: normal_cdf(z_irr),
        heterogeneity: normal_cdf(z_het),
        enhancement_hu: (70.0 + 30.0 * z_enh).clamp(10.0, 160.0),
        age_years: (62.0 + 12.0 * z_age).round().clamp(25.0, 90.0),
        male,
        ldh_u_per_l: 190.0 * (0.25 * z_ldh).exp(),
        hemoglobin_g_per_dl: hb_mean + 1.2 * n.sample(rng),
        creatinine_mg_per_dl: (0.95 + 0.2 * n.sample(rng)).max(0.4),
        right_kidney: rng.random::<bool>(),
    }
}

/// The standardised factors and their log-odds contributions, computed from the *final* latent
/// values (after clamping), so the truth is a function of what the files show.
pub fn contributions(l: &Latent, site_offset: f64) -> Contributions {
    let c = COEFFICIENTS;
    Contributions {
        size: c.size * ((l.diameter_mm.ln() - 35f64.ln()) / 0.4),
        irregularity: c.irregularity * probit(l.irregularity),
        heterogeneity: c.heterogeneity * probit(l.heterogeneity),
        enhancement: c.enhancement * ((l.enhancement_hu - 70.0) / 30.0),
        age: c.age * ((l.age_years - 62.0) / 12.0),
        ldh: c.ldh * ((l.ldh_u_per_l / 190.0).ln() / 0.25),
        site: site_offset,
    }
}

/// Log-odds of malignancy.
pub fn logit(contrib: &Contributions) -> f64 {
    COEFFICIENTS.intercept + contrib.image() + contrib.clinical() + contrib.site
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn probit_inverts_cdf() {
        for z in [-2.5, -1.0, 0.0, 0.3, 1.7] {
            assert!((probit(normal_cdf(z)) - z).abs() < 1e-5);
        }
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
    }

    #[test]
    fn larger_irregular_lesions_are_more_likely_malignant() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut l = draw_latent(&mut rng);
        l.diameter_mm = 20.0;
        l.irregularity = 0.2;
        let small = logit(&contributions(&l, 0.0));
        l.diameter_mm = 70.0;
        l.irregularity = 0.9;
        let large = logit(&contributions(&l, 0.0));
        assert!(large > small + 2.0, "{small} -> {large}");
    }

    #[test]
    fn classes_are_reasonably_balanced() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let n = 4000;
        let mean_p: f64 = (0..n)
            .map(|_| sigmoid(logit(&contributions(&draw_latent(&mut rng), 0.0))))
            .sum::<f64>()
            / n as f64;
        assert!((0.35..0.65).contains(&mean_p), "prevalence {mean_p}");
    }
}
