//! The generator's own modality shares: how a model that knew this generator exactly would be
//! credited, modality by modality, by the same explanation oncolens reports for trained models.
//!
//! "The modality shares rank the modalities as the generator weights them" needs the generator's
//! weights in the explanation's currency. The generator's coefficients ([`crate::truth`]) weight
//! latent factors, not modalities: the report text and the omics profile have no effect of their
//! own, they are noisy readings of the image factors, and LDH is correlated with lesion size. So
//! the reference applies the product's modality explanation (exact Shapley values of the logit
//! over the modalities, a modality removed = not observed) to the Bayes-optimal classifier, whose
//! value for a set `S` of observed modalities is the log-odds of malignancy given what `S`
//! shows, `v(S) = logit P(malignant | S) = logit E[σ(true logit) | S]`. That is what a trained
//! model's missing-modality path estimates (each pattern of observed modalities predicts the
//! label from what it sees). It is not `E[true logit | S]`: the less `S` shows, the more the
//! unseen part of the logit spreads the probability and pulls the log-odds toward the prior,
//! and a reference on the logit scale would credit weak modalities (the clinical record alone)
//! with more than any classifier could show for them.
//!
//! Given `S`, the true logit is its conditional mean `μ_S` (fitted below) plus a residual of
//! variance `σ²_S`, taken as Gaussian: `P(malignant | S) = ∫ σ(c + μ_S + σ_S t) φ(t) dt`,
//! with `c` the generator's intercept, by the trapezoidal rule on a fine grid of `t` (exact to
//! far below Monte Carlo error for this smooth integrand).
//!
//! The conditional expectations are least-squares fits on a large simulated population drawn with
//! the generator's own functions (latent draw, radiologist reading, omics profile), with a basis
//! in which they are exact or nearly so:
//!
//! - image: the four standardised image factors (the CT shows size, margin, texture and
//!   enhancement);
//! - clinical: standardised age and LDH (sex, haemoglobin, creatinine carry nothing);
//! - text: the written size (log, up to cubic) plus one indicator per combination of the four
//!   written categories (margin, texture, enhancement, impression: 81 cells);
//! - omics: the nine phenotype-linked genes (Gaussian readings, so linear is exact; the other
//!   genes are pure noise).
//!
//! It is computed within one site: the site's case-mix offset and its omics batch shift are
//! constants there. The summary statistic is the one the demo reports for its model:
//! `Σ_patients |φ_m| / Σ_patients Σ_k |φ_k|`.
//!
//! The image block above is the latent factors themselves, which no reader of the CT sees.
//! [`modality_shares_reading_ct`] is the same reference with the image replaced by a reading of
//! the lesion's rendered CT (the sites' grids, blur and noise; a quadratic basis in the
//! reading), so the report is credited with what it knows beyond the CT.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::truth::{COEFFICIENTS, contributions, draw_latent};
use crate::{omics, report};

/// Modalities in the order of `oncolens_nn::MODALITIES`.
pub const MODALITIES: [&str; 4] = ["image", "clinical", "text", "omics"];

const FACTOR_COLS: usize = 4;
const CLINICAL_COLS: usize = 2;
const TEXT_CELLS: usize = 81;
const TEXT_COLS: usize = TEXT_CELLS + 3;

/// The reference shares and what they rest on.
#[derive(Debug, Clone, Serialize)]
pub struct OracleShares {
    /// Modality names, in the order of the arrays below.
    pub modalities: [&'static str; 4],
    /// `Σ_patients |φ_m| / Σ_patients Σ_k |φ_k|`, all four modalities observed.
    pub share: [f64; 4],
    /// Mean `|φ_m|` (log-odds units).
    pub mean_abs_shapley: [f64; 4],
    /// The same shares on the logit scale, `v(S) = E[true logit | S]` (what this reference used
    /// to be; kept to show how much the scale matters).
    pub share_expected_logit: [f64; 4],
    /// Share of the true logit's variance each modality explains on its own (R²).
    pub r2_alone: [f64; 4],
    /// Simulated patients.
    pub patients: usize,
    pub seed: u64,
}

impl OracleShares {
    /// Modality names from the largest share to the smallest.
    pub fn ranking(&self) -> Vec<&'static str> {
        let mut order: Vec<usize> = (0..4).collect();
        order.sort_by(|&a, &b| self.share[b].total_cmp(&self.share[a]));
        order.into_iter().map(|i| self.modalities[i]).collect()
    }
}

/// What the image modality shows the reference classifier.
pub enum ImageView<'a> {
    /// The four image factors themselves (size, margin, texture, enhancement): a reader that
    /// sees through the CT's resolution and noise, which no classifier of the CT can be.
    Factors,
    /// What `reader` makes of the lesion's CT, rendered on a site's scanner grid with its blur
    /// and noise ([`crate::render_lesion`]; the sites taken in turn): for instance the lesion
    /// features a model's radiomic path takes. `None` (a degenerate reading) drops the patient.
    Reading(&'a ImageReader, &'a crate::SynthConfig),
}

/// Reads a rendered lesion (HU region, lesion mask on its grid) into numbers.
pub type ImageReader =
    dyn Fn(&oncolens_core::Volume<f32>, &oncolens_core::LabelMap) -> Option<Vec<f64>> + Sync;

/// One simulated patient: the true logit (without intercept and site offset) and what each
/// modality shows, as regression columns (the image's before its basis is expanded).
struct Draw {
    logit: f64,
    image: Vec<f64>,
    clinical: [f64; CLINICAL_COLS],
    /// Text cell index (0..81) and log written size.
    text_cell: usize,
    log_size_cm: f64,
    omics: Vec<f64>,
}

/// The patient of `seed`; with an image reading, rendered on `site`'s grid. The draws for the
/// exact factors come first, so both views see the same patients.
fn draw(seed: u64, view: &ImageView, site: &crate::SiteProfile) -> Option<Draw> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let c = COEFFICIENTS;
    let l = draw_latent(&mut rng);
    let contrib = contributions(&l, 0.0);
    let z = [
        contrib.size / c.size,
        contrib.irregularity / c.irregularity,
        contrib.heterogeneity / c.heterogeneity,
        contrib.enhancement / c.enhancement,
    ];
    let reading = report::read_lesion(&l, report::shows_necrosis(&l), &mut rng);
    let [m, t, e, i] = reading.levels();
    let factors = [
        ("size", z[0]),
        ("irregularity", z[1]),
        ("heterogeneity", z[2]),
        ("enhancement", z[3]),
    ];
    // Unit baselines and no batch shift: a least-squares fit is blind to per-gene affine maps.
    let genes = omics::genes().len();
    let profile = omics::profile(
        &factors,
        &vec![(0.0, 1.0); genes],
        &vec![0.0; genes],
        &mut rng,
    );
    let image = match view {
        ImageView::Factors => z.to_vec(),
        ImageView::Reading(read, config) => {
            let (ct, mask) = crate::render_lesion(&l, config, site, &mut rng).ok()?;
            read(&ct, &mask).filter(|v| v.iter().all(|x| x.is_finite()))?
        }
    };
    Some(Draw {
        logit: contrib.image() + contrib.clinical(),
        image,
        clinical: [contrib.age / c.age, contrib.ldh / c.ldh],
        text_cell: ((m * 3 + t) * 3 + e) * 3 + i,
        log_size_cm: reading.size_cm.max(0.1).ln(),
        omics: profile[..omics::LINKS.len()].to_vec(),
    })
}

/// Column layout: intercept, then the blocks of image (`image_cols` wide), clinical, text,
/// omics.
fn block_ranges(image_cols: usize) -> [std::ops::Range<usize>; 4] {
    let mut start = 1;
    let mut out: [std::ops::Range<usize>; 4] = Default::default();
    for (k, width) in [image_cols, CLINICAL_COLS, TEXT_COLS, omics::LINKS.len()]
        .into_iter()
        .enumerate()
    {
        out[k] = start..start + width;
        start += width;
    }
    out
}

/// The image block's regression basis. The exact factors enter linearly (the logit is linear
/// in them). A reading enters standardised (by `scale`: mean and standard deviation over the
/// simulated patients) with its squares and pairwise products: a CT reading is not linear in
/// the factors (sphericity saturates, volume is the cube of a diameter), and a quadratic
/// surface lets the fit find the factors' combination the reading carries.
fn image_basis(raw: &[f64], scale: Option<&[(f64, f64)]>) -> Vec<f64> {
    let Some(scale) = scale else {
        return raw.to_vec();
    };
    let z: Vec<f64> = raw
        .iter()
        .zip(scale)
        .map(|(v, (m, sd))| (v - m) / sd)
        .collect();
    let mut out = z.clone();
    for a in 0..z.len() {
        for b in a..z.len() {
            out.push(z[a] * z[b]);
        }
    }
    out
}

fn row(d: &Draw, image: &[f64], width: usize) -> Vec<f64> {
    let mut r = vec![0.0; width];
    r[0] = 1.0;
    let [img, cli, txt, omx] = block_ranges(image.len());
    r[img].copy_from_slice(image);
    r[cli].copy_from_slice(&d.clinical);
    let t = txt.start;
    r[t + d.text_cell] = 1.0;
    let s = d.log_size_cm;
    r[t + TEXT_CELLS..t + TEXT_COLS].copy_from_slice(&[s, s * s, s * s * s]);
    r[omx].copy_from_slice(&d.omics);
    r
}

/// The reference shares over `patients` simulated patients (seeded; 20 000 give shares stable
/// to about 0.005), the image showing the image factors exactly ([`ImageView::Factors`]).
pub fn modality_shares(patients: usize, seed: u64) -> OracleShares {
    shares_for(patients, seed, &ImageView::Factors)
}

/// The reference shares when the image modality is what `reader` makes of the lesion's CT
/// rendered on the grids of `config`'s sites ([`ImageView::Reading`]; the sites' scanners taken
/// in turn, each patient's lesion rendered as [`crate::generate`] renders it): the
/// Bayes-optimal classifier of the same patients, its image seen through the scanner and the
/// reader rather than through the latent factors. The report still reads the latent factors
/// with its own error, so it keeps what the CT does not show, and this reference credits it
/// for that, as it must credit any model that reads the CT this way. Rendering and reading
/// cost a few milliseconds per patient.
pub fn modality_shares_reading_ct(
    patients: usize,
    seed: u64,
    config: &crate::SynthConfig,
    reader: &ImageReader,
) -> OracleShares {
    shares_for(patients, seed, &ImageView::Reading(reader, config))
}

fn shares_for(patients: usize, seed: u64, view: &ImageView) -> OracleShares {
    let sites = match view {
        ImageView::Reading(_, config) => crate::site_profiles(config.sites.max(1)),
        ImageView::Factors => crate::site_profiles(3),
    };
    let draws: Vec<Draw> = (0..patients as u64)
        .into_par_iter()
        .filter_map(|i| {
            let site = &sites[i as usize % sites.len()];
            draw(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i, view, site)
        })
        .collect();
    let patients = draws.len();
    let scale: Option<Vec<(f64, f64)>> = match view {
        ImageView::Factors => None,
        ImageView::Reading(..) => {
            let k = draws.first().map_or(0, |d| d.image.len());
            Some(
                (0..k)
                    .map(|j| {
                        let n = patients as f64;
                        let mean = draws.iter().map(|d| d.image[j]).sum::<f64>() / n;
                        let var = draws
                            .iter()
                            .map(|d| (d.image[j] - mean).powi(2))
                            .sum::<f64>()
                            / n;
                        (mean, var.sqrt().max(1e-12))
                    })
                    .collect(),
            )
        }
    };
    let images: Vec<Vec<f64>> = draws
        .par_iter()
        .map(|d| image_basis(&d.image, scale.as_deref()))
        .collect();
    let image_cols = images.first().map_or(FACTOR_COLS, Vec::len);
    let width = block_ranges(image_cols)[3].end;
    let rows: Vec<Vec<f64>> = draws
        .par_iter()
        .zip(&images)
        .map(|(d, img)| row(d, img, width))
        .collect();
    let y: Vec<f64> = draws.iter().map(|d| d.logit).collect();

    // Gram matrix and X'y once; every subset's normal equations are a sub-block. Blocks of
    // rows in parallel, added in order: the same sums, to the last bit, on any thread count.
    let partial = |rows: &[Vec<f64>], y: &[f64]| {
        let mut g = vec![0.0; width * width];
        let mut b = vec![0.0; width];
        for (r, &yi) in rows.iter().zip(y) {
            let nz: Vec<usize> = (0..width).filter(|&k| r[k] != 0.0).collect();
            for &a in &nz {
                b[a] += r[a] * yi;
                for &c in &nz {
                    g[a * width + c] += r[a] * r[c];
                }
            }
        }
        (g, b)
    };
    const BLOCK: usize = 2048;
    let blocks: Vec<(Vec<f64>, Vec<f64>)> = rows
        .par_chunks(BLOCK)
        .zip(y.par_chunks(BLOCK))
        .map(|(r, y)| partial(r, y))
        .collect();
    let mut gram = vec![0.0; width * width];
    let mut xty = vec![0.0; width];
    for (g, b) in &blocks {
        gram.iter_mut().zip(g).for_each(|(x, v)| *x += v);
        xty.iter_mut().zip(b).for_each(|(x, v)| *x += v);
    }

    let ranges = block_ranges(image_cols);
    // E[true logit | S] for each patient and each of the 16 subsets (bit m = modality m
    // observed), and the residual variance of each subset's fit.
    let mut value = vec![[0.0f64; 16]; patients];
    let mut residual_var = [0.0f64; 16];
    for subset in 0..16usize {
        let cols: Vec<usize> = std::iter::once(0)
            .chain(
                (0..4)
                    .filter(|m| subset & (1 << m) != 0)
                    .flat_map(|m| ranges[m].clone()),
            )
            .collect();
        let p = cols.len();
        let mut a = vec![0.0; p * p];
        for (i, &ci) in cols.iter().enumerate() {
            for (j, &cj) in cols.iter().enumerate() {
                a[i * p + j] = gram[ci * width + cj];
            }
            // A tiny ridge: text cells nobody falls into get weight 0 instead of no solution.
            if i > 0 {
                a[i * p + i] += 1e-9 * patients as f64;
            }
        }
        let b: Vec<f64> = cols.iter().map(|&c| xty[c]).collect();
        let beta = oncolens_core::linalg::solve(a, b, p)
            .expect("ridge-regularised normal equations are positive definite");
        value.par_iter_mut().zip(&rows).for_each(|(v, r)| {
            v[subset] = cols.iter().zip(&beta).map(|(&c, w)| r[c] * w).sum();
        });
        residual_var[subset] = value
            .iter()
            .zip(&y)
            .map(|(v, yi)| (yi - v[subset]).powi(2))
            .sum::<f64>()
            / patients as f64;
    }
    // The classifier's log-odds for each patient and subset.
    let log_odds: Vec<[f64; 16]> = value
        .par_iter()
        .map(|v| {
            std::array::from_fn(|s| {
                expected_sigmoid_log_odds(COEFFICIENTS.intercept + v[s], residual_var[s].sqrt())
            })
        })
        .collect();

    let mean_y = y.iter().sum::<f64>() / patients as f64;
    let var_y = y.iter().map(|v| (v - mean_y).powi(2)).sum::<f64>() / patients as f64;
    let abs_shapley = |values: &[[f64; 16]]| {
        let mut abs_sum = [0.0f64; 4];
        for v in values {
            for (m, slot) in abs_sum.iter_mut().enumerate() {
                *slot += shapley(m, |s| v[s]).abs();
            }
        }
        abs_sum
    };
    let abs_sum = abs_shapley(&log_odds);
    let total: f64 = abs_sum.iter().sum();
    let abs_logit = abs_shapley(&value);
    let total_logit: f64 = abs_logit.iter().sum();
    let r2_alone = std::array::from_fn(|m| {
        let sse: f64 = value
            .iter()
            .zip(&y)
            .map(|(f, v)| (v - f[1 << m]).powi(2))
            .sum();
        1.0 - sse / patients as f64 / var_y
    });
    OracleShares {
        modalities: MODALITIES,
        share: abs_sum.map(|s| s / total),
        mean_abs_shapley: abs_sum.map(|s| s / patients as f64),
        share_expected_logit: abs_logit.map(|s| s / total_logit),
        r2_alone,
        patients,
        seed,
    }
}

/// `logit E[σ(mean + sd · t)]` for a standard normal `t`: the trapezoidal rule over
/// `t ∈ [-8, 8]` in steps of 1/8, weights normalised (geometrically convergent for this
/// analytic integrand; the truncated tails weigh under 1e-15).
fn expected_sigmoid_log_odds(mean: f64, sd: f64) -> f64 {
    const STEPS: i32 = 64;
    let (mut p, mut weight_sum) = (0.0, 0.0);
    for k in -STEPS..=STEPS {
        let t = f64::from(k) / 8.0;
        let w = (-0.5 * t * t).exp();
        p += w / (1.0 + (-(mean + sd * t)).exp());
        weight_sum += w;
    }
    let p = (p / weight_sum).clamp(1e-300, 1.0 - 1e-16);
    (p / (1.0 - p)).ln()
}

/// Exact Shapley value of player `m` of 4, from the value of every subset (a bit mask).
fn shapley(m: usize, v: impl Fn(usize) -> f64) -> f64 {
    const WEIGHT: [f64; 4] = [6.0 / 24.0, 2.0 / 24.0, 2.0 / 24.0, 6.0 / 24.0];
    (0..16usize)
        .filter(|s| s & (1 << m) == 0)
        .map(|s| WEIGHT[s.count_ones() as usize] * (v(s | (1 << m)) - v(s)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapley_weights_are_exact_for_an_additive_game() {
        // v(S) = sum of the members' worths: each player's value is its own worth.
        let worth = [3.0, -1.0, 0.5, 2.0];
        let v = |s: usize| (0..4).filter(|m| s & (1 << m) != 0).map(|m| worth[m]).sum();
        for (m, w) in worth.iter().enumerate() {
            assert!((shapley(m, v) - w).abs() < 1e-12);
        }
        // A pure interaction of players 0 and 1 is split equally between them.
        let v = |s: usize| if s & 3 == 3 { 1.0 } else { 0.0 };
        assert!((shapley(0, v) - 0.5).abs() < 1e-12 && shapley(2, v).abs() < 1e-12);
    }

    /// The quadrature against a direct Monte Carlo average; with no spread the log-odds are
    /// the mean itself.
    #[test]
    fn expected_sigmoid_matches_a_direct_average() {
        assert!((expected_sigmoid_log_odds(0.7, 0.0) - 0.7).abs() < 1e-12);
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 400_000;
        for (mean, sd) in [(0.0, 1.0), (1.5, 2.0), (-2.0, 0.5)] {
            let mut p = 0.0;
            for _ in 0..n {
                let t: f64 = StandardNormal.sample(&mut rng);
                p += 1.0 / (1.0 + (-(mean + sd * t)).exp());
            }
            let p = p / f64::from(n);
            let direct = (p / (1.0 - p)).ln();
            let got = expected_sigmoid_log_odds(mean, sd);
            assert!(
                (got - direct).abs() < 0.01,
                "{mean} {sd}: {got} vs {direct}"
            );
            // The spread pulls the log-odds toward 0 (the attenuation the reference accounts for).
            assert!(got.abs() <= mean.abs() + 1e-12);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_shares_on_any_thread_count() {
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| modality_shares(6000, 3))
        };
        let (one, two) = (on(1), on(2));
        assert_eq!(one.share.map(f64::to_bits), two.share.map(f64::to_bits));
        assert_eq!(
            one.r2_alone.map(f64::to_bits),
            two.r2_alone.map(f64::to_bits)
        );
    }

    #[test]
    fn generator_credits_image_then_clinical_then_the_proxies() {
        let o = modality_shares(20_000, 1);
        let sum: f64 = o.share.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "{o:?}");
        // The image shows every image factor: it alone explains most of the logit, more than
        // its noisy readings (text, omics) and far more than age and LDH.
        let [img, cli, txt, omx] = o.r2_alone;
        assert!(img > txt && txt > omx && omx > cli && cli > 0.15, "{o:?}");
        assert!(img > 0.8 && img < 0.95, "{o:?}");
        // Credit for what the text and omics repeat of the image is shared; the clinical record's
        // own information is not. Hence image first, then clinical, then text and omics.
        assert_eq!(
            o.ranking(),
            vec!["image", "clinical", "text", "omics"],
            "{o:?}"
        );
    }
}
