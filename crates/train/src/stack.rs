//! Late fusion by stacking: single-modality models, each trained and early-stopped on its own,
//! combined by a non-negative, ridge-penalised logistic regression on their logits.
//!
//! Why: trained end to end on a cohort of a hundred patients, a fused network fits the
//! training set through its fastest-learning modality (the image encoder overfits within a
//! few epochs while the report encoder needs thirty) and early stopping has to pick one epoch
//! for all of them. Training each modality to its own best epoch and learning only how much to
//! trust each one (a handful of weights) removes that conflict (stacked generalisation,
//! Wolpert 1992; non-negative weights as in Breiman 1996). The result is assembled into an
//! ordinary [`oncolens_nn::MultimodalModel`] with additive fusion, so saving, `predict` and
//! the explanation methods use it unchanged.

use oncolens_core::linalg::solve;
use oncolens_nn::{Device, FusionKind, ModelConfig, MultimodalModel};
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::cases::PreparedCase;
use crate::split::Split;
use crate::trainer::{TrainedModel, calibrate};

/// The fitted combination, for reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LateFusionFit {
    /// Weight of each modality's standardised logit (its raw logit divided by
    /// `member_scales[m]`) in [`oncolens_nn::MODALITIES`] order (0 for modalities left out or
    /// dropped by the non-negativity constraint).
    pub weights: [f64; 4],
    /// Mean of each final member's raw logits on the validation patients (0 for modalities
    /// left out).
    #[serde(default)]
    pub member_centres: [f64; 4],
    /// Spread (standard deviation) of each final member's raw logits on the validation
    /// patients (1 for modalities left out): the assembled model adds
    /// `weights[m] * (logit_m - member_centres[m]) / member_scales[m]` for each modality present.
    #[serde(default = "unit_scales")]
    pub member_scales: [f64; 4],
    pub bias: f64,
    /// Ridge penalty on the weights.
    pub l2: f64,
    /// Patients the weights were fitted on.
    pub fitted_on: usize,
    /// One fit per pattern of modalities present, which the assembled model applies (see
    /// [`PatternFit`]); `weights` and `bias` above are the single set for every patient
    /// (a missing modality adding 0), kept for patterns too rare to fit.
    #[serde(default)]
    pub patterns: Vec<PatternFit>,
}

/// The stacking weights for the patients who have exactly the modalities `modalities`.
///
/// Fitted on every patient who has at least those modalities, with the others hidden: the
/// weights answer "how to combine what this patient has", so a patient without a report gets
/// an image weight fitted without reports (pattern submodels; Fletcher Mercaldo and Blume
/// 2020). Also what a modality explanation asks for when it removes a modality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatternFit {
    /// Modality names of the pattern, in [`oncolens_nn::MODALITIES`] order.
    pub modalities: Vec<String>,
    /// Weights of the standardised member logits (0 outside the pattern).
    pub weights: [f64; 4],
    pub bias: f64,
    /// Patients the fit used (those with at least the pattern's modalities); 0 when too few
    /// of either class had them and the single set of weights stands in.
    pub fitted_on: usize,
}

/// Fewest patients of each class a pattern's own fit needs; rarer patterns use the single set
/// of weights.
pub const MIN_PATTERN_CLASS: usize = 5;

/// One [`PatternFit`] per non-empty pattern of the `trained` modalities, from standardised
/// member logits `x` (`[patient][modality]`), which modalities each patient has, and labels.
/// `single` = the single set of weights and bias, for patterns too rare to fit.
pub fn fit_patterns(
    x: &[[f64; 4]],
    present: &[[bool; 4]],
    labels: &[bool],
    trained: [bool; 4],
    single: ([f64; 4], f64),
    l2: f64,
) -> Vec<PatternFit> {
    (1..oncolens_nn::fusion::PATTERNS)
        .filter(|p| (0..4).all(|m| p & (1 << m) == 0 || trained[m]))
        .map(|p| {
            let has = |m: usize| p & (1 << m) != 0;
            let (rows, ys): (Vec<[f64; 4]>, Vec<bool>) = x
                .iter()
                .zip(present)
                .zip(labels)
                .filter(|((_, pr), _)| (0..4).all(|m| !has(m) || pr[m]))
                .map(|((row, _), &y)| {
                    (
                        std::array::from_fn(|m| if has(m) { row[m] } else { 0.0 }),
                        y,
                    )
                })
                .unzip();
            let positives = ys.iter().filter(|y| **y).count();
            let (weights, bias, fitted_on) =
                if positives >= MIN_PATTERN_CLASS && ys.len() - positives >= MIN_PATTERN_CLASS {
                    let (w, b) = fit_nonnegative_logistic(&rows, &ys, l2);
                    (w, b, ys.len())
                } else {
                    let w = std::array::from_fn(|m| if has(m) { single.0[m] } else { 0.0 });
                    (w, single.1, 0)
                };
            PatternFit {
                modalities: (0..4)
                    .filter(|&m| has(m))
                    .map(|m| oncolens_nn::MODALITIES[m].to_owned())
                    .collect(),
                weights,
                bias,
                fitted_on,
            }
        })
        .collect()
}

impl LateFusionFit {
    /// Weights (of the standardised member logits) and bias the assembled model applies to a
    /// patient whose modalities present are the bits of `pattern`: the fit of the pattern's
    /// trained part; the single set (restricted to the pattern) where there is no pattern fit
    /// (fits made before patterns existed, or no modality present).
    pub fn pattern_weights(&self, pattern: usize) -> ([f64; 4], f64) {
        let trained = |m: usize| {
            self.patterns
                .iter()
                .any(|f| f.modalities.iter().any(|n| n == oncolens_nn::MODALITIES[m]))
        };
        let own: Vec<usize> = (0..4)
            .filter(|&m| pattern & (1 << m) != 0 && trained(m))
            .collect();
        let names: Vec<&str> = own.iter().map(|&m| oncolens_nn::MODALITIES[m]).collect();
        match self
            .patterns
            .iter()
            .find(|f| !names.is_empty() && f.modalities == names)
        {
            Some(f) => (f.weights, f.bias),
            None => (
                std::array::from_fn(|m| {
                    if pattern & (1 << m) != 0 {
                        self.weights[m]
                    } else {
                        0.0
                    }
                }),
                self.bias,
            ),
        }
    }

    /// The fused logit (before temperature) for standardised member logits `z` when the
    /// modalities present are the bits of `pattern`: what the assembled model computes.
    pub fn fused_logit(&self, z: &[f64; 4], pattern: usize) -> f64 {
        let (w, b) = self.pattern_weights(pattern);
        b + (0..4)
            .filter(|m| pattern & (1 << m) != 0)
            .map(|m| w[m] * z[m])
            .sum::<f64>()
    }

    /// The assembled model's table (`[pattern][w_0..w_3, bias]`, weights of the raw member
    /// logits minus their centres).
    fn table(&self) -> [[f64; 5]; oncolens_nn::fusion::PATTERNS] {
        std::array::from_fn(|p| {
            let (w, b) = self.pattern_weights(p);
            let mut row = [0.0; 5];
            for m in 0..4 {
                row[m] = w[m] / self.member_scales[m];
            }
            row[4] = b;
            row
        })
    }
}

fn unit_scales() -> [f64; 4] {
    [1.0; 4]
}

/// What the stacking weights are fitted on.
pub enum StackOn<'a> {
    /// The members' logits on the validation patients of the split.
    Validation,
    /// Out-of-fold standardised member logits (`[patient][modality]`, 0 where a patient lacks
    /// the modality; see [`standardised_member_logits`]) with the patients' labels: each patient's logits come from members trained
    /// without that patient (cross-fitting), so the weights see how each member does on
    /// patients it never saw, on many more patients than the validation set holds.
    OutOfFold {
        logits: &'a [[f64; 4]],
        /// Which modalities each patient has (see [`member_presence`]).
        present: &'a [[bool; 4]],
        labels: &'a [bool],
    },
}

/// Fits the stacking weights (on the validation patients of `split`, or on out-of-fold
/// logits) and assembles the fused model. `members[m]` must be a single-modality model of
/// modality `m` with additive fusion, trained on the same split (so all share one
/// preprocessor); `None` leaves a modality out. Temperature and threshold are fitted on the
/// validation patients in both cases.
pub fn late_fusion(
    members: [Option<&TrainedModel>; 4],
    cases: &[PreparedCase],
    split: &Split,
    stack_on: StackOn<'_>,
    l2: f64,
    device: &Device,
) -> Result<(TrainedModel, LateFusionFit), TrainError> {
    let Some(first) = members.iter().flatten().next() else {
        return Err(TrainError::Data(
            "late fusion needs at least one member model".into(),
        ));
    };
    for (m, member) in members.iter().enumerate() {
        if let Some(member) = member {
            let c = &member.config;
            let single = c.modalities.as_array() == std::array::from_fn(|k| k == m);
            if !single || c.fusion != FusionKind::Additive {
                return Err(TrainError::Data(format!(
                    "late-fusion member {} must be a single-modality additive model",
                    oncolens_nn::MODALITIES[m]
                )));
            }
            if member.preprocessor != first.preprocessor {
                return Err(TrainError::Data(
                    "late-fusion members were fitted on different training patients".into(),
                ));
            }
        }
    }
    let val: Vec<&PreparedCase> = split.val.iter().map(|&i| &cases[i]).collect();
    let labels: Vec<bool> = val.iter().map(|c| c.label == Some(1)).collect();
    if !(labels.iter().any(|l| *l) && labels.iter().any(|l| !*l)) {
        return Err(TrainError::Data(
            "late fusion needs validation patients of both classes".into(),
        ));
    }
    // The final members' scales come from their validation patients, which none of them was
    // trained on.
    let (val_x, member_centres, member_scales) =
        standardised_member_logits(&members, &val, device)?;
    let trained: [bool; 4] = std::array::from_fn(|m| members[m].is_some());
    let (weights, bias, fitted_on, patterns) = match stack_on {
        StackOn::Validation => {
            let (w, b) = fit_nonnegative_logistic(&val_x, &labels, l2);
            let present = member_presence(&members, &val);
            let patterns = fit_patterns(&val_x, &present, &labels, trained, (w, b), l2);
            (w, b, val.len(), patterns)
        }
        StackOn::OutOfFold {
            logits,
            present,
            labels,
        } => {
            if logits.len() != labels.len() || present.len() != labels.len() {
                return Err(TrainError::Data(format!(
                    "{} out-of-fold logit rows for {} labels",
                    logits.len(),
                    labels.len()
                )));
            }
            if !(labels.iter().any(|l| *l) && labels.iter().any(|l| !*l)) {
                return Err(TrainError::Data(
                    "out-of-fold stacking needs patients of both classes".into(),
                ));
            }
            let (w, b) = fit_nonnegative_logistic(logits, labels, l2);
            let patterns = fit_patterns(logits, present, labels, trained, (w, b), l2);
            (w, b, labels.len(), patterns)
        }
    };

    let mut config: ModelConfig = first.config.clone();
    config.fusion = FusionKind::Additive;
    config.pattern_fusion = true;
    config.modalities = oncolens_nn::ModalitySet {
        image: members[0].is_some(),
        clinical: members[1].is_some(),
        text: members[2].is_some(),
        omics: members[3].is_some(),
    };
    // The weights apply to standardised logits; the assembled heads output raw ones.
    let raw_weights: [f64; 4] = std::array::from_fn(|m| weights[m] / member_scales[m]);
    let parts = members.map(|m| m.map(|t| &t.model));
    let mut model = MultimodalModel::assemble_late_fusion(
        &config,
        parts,
        raw_weights,
        member_centres,
        bias,
        device,
    )?;
    let fit = LateFusionFit {
        weights,
        member_centres,
        member_scales,
        bias,
        l2,
        fitted_on,
        patterns,
    };
    model.set_pattern_weights(&fit.table(), device)?;
    let mut fused = TrainedModel {
        model,
        config,
        preprocessor: first.preprocessor.clone(),
        temperature: 1.0,
        threshold: 0.5,
        history: Vec::new(),
        best_epoch: 0,
        best_val_auc: None,
    };
    let val_logits = fused.logits(&val, device)?;
    let (temperature, threshold) = calibrate(&val_logits, &labels)?;
    fused.temperature = temperature;
    fused.threshold = threshold;
    fused.best_val_auc = oncolens_metrics::roc_auc(&val_logits, &labels).ok();
    Ok((fused, fit))
}

/// `[case][modality]` logits of the member models, 0 where the case lacks the modality (the
/// assembled model adds nothing for a missing modality either). Each member reads the cases
/// with its own preprocessor, so members of different cross-fitting folds can be mixed.
pub fn member_logits(
    members: &[Option<&TrainedModel>; 4],
    cases: &[&PreparedCase],
    device: &Device,
) -> Result<Vec<[f64; 4]>, TrainError> {
    let mut x = vec![[0.0; 4]; cases.len()];
    for (m, member) in members.iter().enumerate() {
        if let Some(member) = member {
            let present: Vec<bool> = cases
                .iter()
                .map(|c| member.preprocessor.sample(c).present()[m])
                .collect();
            for (i, z) in member.logits(cases, device)?.into_iter().enumerate() {
                if present[i] {
                    x[i][m] = z;
                }
            }
        }
    }
    Ok(x)
}

/// `[case][modality]`: whether the case has the modality and a member reads it.
pub fn member_presence(
    members: &[Option<&TrainedModel>; 4],
    cases: &[&PreparedCase],
) -> Vec<[bool; 4]> {
    cases
        .iter()
        .map(|c| {
            std::array::from_fn(|m| {
                members[m].is_some_and(|t| t.preprocessor.sample(c).present()[m])
            })
        })
        .collect()
}

/// [`member_logits`] standardised per member over the cases that have the modality (minus the
/// column's mean, divided by its standard deviation; 0 stays 0 where a case lacks it), with
/// those means and deviations (0 and 1 where a column is constant, empty or its member absent).
///
/// Why centred: 0 is what a missing modality contributes, so it should mean average evidence.
/// Why scaled: the stacking weights are fitted on the logits of the cross-fitting folds' members and
/// applied to the final members, separate training runs whose early-stopped logits can differ
/// in scale several-fold. Measured on patients each member never trained on (a fold's own
/// patients; the final members' validation patients), the spread puts them on one scale, so a
/// weight means the same for the member it is applied to as for those it was fitted on.
pub fn standardised_member_logits(
    members: &[Option<&TrainedModel>; 4],
    cases: &[&PreparedCase],
    device: &Device,
) -> Result<StandardisedLogits, TrainError> {
    let mut x = member_logits(members, cases, device)?;
    let present = member_presence(members, cases);
    let (centres, scales) = standardise_columns(&mut x, &present);
    Ok((x, centres, scales))
}

/// Standardises each column of `x` over the rows where `present` (mean 0, sample standard
/// deviation 1); other entries are left as they are. Returns the means and deviations (0 and 1
/// for a column with fewer than two present rows or no spread, which is left unchanged).
fn standardise_columns(x: &mut [[f64; 4]], present: &[[bool; 4]]) -> ([f64; 4], [f64; 4]) {
    let mut centres = [0.0; 4];
    let mut scales = [1.0; 4];
    for m in 0..4 {
        let column: Vec<f64> = x
            .iter()
            .zip(present)
            .filter(|(_, p)| p[m])
            .map(|(row, _)| row[m])
            .collect();
        if column.len() < 2 {
            continue;
        }
        let mean = column.iter().sum::<f64>() / column.len() as f64;
        let var =
            column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (column.len() - 1) as f64;
        let sd = var.sqrt();
        if !(sd.is_finite() && sd > 1e-9) {
            continue;
        }
        centres[m] = mean;
        scales[m] = sd;
        for (row, p) in x.iter_mut().zip(present) {
            if p[m] {
                row[m] = (row[m] - mean) / sd;
            }
        }
    }
    (centres, scales)
}

/// `([case][modality] standardised logits, centres, scales)` of
/// [`standardised_member_logits`].
pub type StandardisedLogits = (Vec<[f64; 4]>, [f64; 4], [f64; 4]);

/// Logistic regression `P(y) = sigmoid(b + w·x)` with the penalty `l2/2 |w|^2` (the bias is not
/// penalised) and `w >= 0`: Newton's method on the free weights, dropping the most negative
/// weight and refitting until none is negative (an active-set method; with at most four
/// weights it ends in at most four fits).
pub fn fit_nonnegative_logistic(x: &[[f64; 4]], y: &[bool], l2: f64) -> ([f64; 4], f64) {
    let mut active: Vec<usize> = (0..4)
        .filter(|&k| x.iter().any(|row| row[k] != 0.0))
        .collect();
    loop {
        let (w, b) = fit_logistic(x, y, &active, l2);
        let worst = active
            .iter()
            .enumerate()
            .filter(|(j, _)| w[*j] < 0.0)
            .min_by(|a, b| w[a.0].total_cmp(&w[b.0]))
            .map(|(j, _)| j);
        match worst {
            Some(j) => {
                active.remove(j);
            }
            None => {
                let mut out = [0.0; 4];
                for (j, &k) in active.iter().enumerate() {
                    out[k] = w[j];
                }
                return (out, b);
            }
        }
    }
}

/// Newton-Raphson for the penalised logistic regression on the columns `cols` of `x`.
fn fit_logistic(x: &[[f64; 4]], y: &[bool], cols: &[usize], l2: f64) -> (Vec<f64>, f64) {
    let p = cols.len() + 1; // weights, then the bias
    let mut beta = vec![0.0; p];
    let row = |i: usize| -> Vec<f64> {
        let mut r: Vec<f64> = cols.iter().map(|&k| x[i][k]).collect();
        r.push(1.0);
        r
    };
    for _ in 0..100 {
        let mut grad = vec![0.0; p];
        let mut hess = vec![vec![0.0; p]; p];
        for (i, &yi) in y.iter().enumerate() {
            let r = row(i);
            let z: f64 = r.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let mu = 1.0 / (1.0 + (-z).exp());
            let resid = mu - if yi { 1.0 } else { 0.0 };
            let w = mu * (1.0 - mu);
            for a in 0..p {
                grad[a] += resid * r[a];
                for b in 0..p {
                    hess[a][b] += w * r[a] * r[b];
                }
            }
        }
        for a in 0..p - 1 {
            grad[a] += l2 * beta[a];
            hess[a][a] += l2;
        }
        // A tiny ridge on the bias too keeps the system solvable when one class is perfectly
        // separated.
        hess[p - 1][p - 1] += 1e-9;
        let Some(step) = solve(hess.concat(), grad, p) else {
            break;
        };
        let mut change = 0.0f64;
        for a in 0..p {
            beta[a] -= step[a];
            change = change.max(step[a].abs());
        }
        if change < 1e-10 {
            break;
        }
    }
    let b = beta[p - 1];
    beta.truncate(p - 1);
    (beta, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two noisy readings of one signal (members 0 and 1) and an independent one (member 2),
    /// member 3 untrained. Each pattern is fitted on the patients who have it; a reading that
    /// must stand alone gets more weight than next to its twin; a pattern too rare to fit
    /// takes the single set; `fused_logit` applies the pattern's own weights.
    #[test]
    fn pattern_fits_use_the_patients_who_have_the_pattern() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let n = 1200;
        let (mut x, mut present, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            // Box-Muller.
            let mut g = || -> f64 {
                let u: f64 = rng.random::<f64>().max(1e-12);
                (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * rng.random::<f64>()).cos()
            };
            let (signal, other) = (g(), g());
            let row = [signal + 0.6 * g(), signal + 0.6 * g(), other, 0.0];
            // A quarter lack member 1; member 2 is missing for all but 8 of the others.
            let p = [true, i % 4 != 0, i % 150 == 1, false];
            x.push(std::array::from_fn(|m| if p[m] { row[m] } else { 0.0 }));
            present.push(p);
            let logit = 2.0 * signal + 1.0 * other;
            y.push(rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp()));
        }
        let trained = [true, true, true, false];
        let single = fit_nonnegative_logistic(&x, &y, 1.0);
        let fits = fit_patterns(&x, &present, &y, trained, single, 1.0);
        // Every non-empty pattern of the three trained members, none with member 3.
        assert_eq!(fits.len(), 7);
        assert!(
            fits.iter()
                .all(|f| !f.modalities.iter().any(|m| m == "omics"))
        );
        let find = |names: &[&str]| fits.iter().find(|f| f.modalities == names).unwrap();
        let alone = find(&["image"]);
        let twins = find(&["image", "clinical"]);
        assert_eq!(alone.fitted_on, n);
        assert_eq!(twins.fitted_on, n - n / 4);
        assert!(
            alone.weights[0] > 1.3 * twins.weights[0],
            "{alone:?} {twins:?}"
        );
        assert_eq!(alone.weights[1..], [0.0; 3]);
        // Member 2 is present for 8 patients only: its patterns fall back to the single set.
        let rare = find(&["image", "text"]);
        assert_eq!(rare.fitted_on, 0);
        assert_eq!(rare.weights, [single.0[0], 0.0, single.0[2], 0.0]);
        let fit = LateFusionFit {
            weights: single.0,
            member_centres: [0.0; 4],
            member_scales: [1.0; 4],
            bias: single.1,
            l2: 1.0,
            fitted_on: n,
            patterns: fits.clone(),
        };
        let z = [0.7, -0.2, 1.1, 5.0];
        let want = twins.bias + twins.weights[0] * 0.7 - twins.weights[1] * 0.2;
        // Member 3's bit is ignored: it was never trained, so the model never sees it present.
        assert!((fit.fused_logit(&z, 0b1011) - want).abs() < 1e-12);
        assert_eq!(fit.fused_logit(&z, 0), single.1);
        assert_eq!(fit.table()[0b0011][4], twins.bias);
    }

    /// Data generated from known weights: the fit recovers them, and a useless or harmful
    /// column gets weight 0.
    #[test]
    fn recovers_weights_and_drops_negative_ones() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let n = 4000;
        let mut x = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let r: [f64; 4] = std::array::from_fn(|_| rng.random::<f64>() * 4.0 - 2.0);
            // The fourth column pushes the other way: a non-negative fit must drop it.
            let z = -0.3 + 1.5 * r[0] + 0.5 * r[1] + 0.0 * r[2] - 1.0 * r[3];
            x.push(r);
            y.push(rng.random::<f64>() < 1.0 / (1.0 + (-z).exp()));
        }
        let (w, b) = fit_logistic(&x, &y, &[0, 1, 2, 3], 0.0);
        assert!(
            (w[0] - 1.5).abs() < 0.15 && (w[1] - 0.5).abs() < 0.1,
            "{w:?}"
        );
        assert!(
            (w[3] + 1.0).abs() < 0.12 && (b + 0.3).abs() < 0.12,
            "{w:?} {b}"
        );
        let (nn, _) = fit_nonnegative_logistic(&x, &y, 0.0);
        assert_eq!(nn[3], 0.0);
        assert!(nn.iter().all(|v| *v >= 0.0) && nn[0] > 1.0, "{nn:?}");
        // The ridge shrinks the weights towards zero.
        let (shrunk, _) = fit_nonnegative_logistic(&x, &y, 1e4);
        assert!(shrunk[0] < 0.5 * nn[0], "{shrunk:?}");
    }

    #[test]
    fn separable_data_stays_finite_with_a_ridge() {
        let x = vec![[-1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]];
        let (w, b) = fit_nonnegative_logistic(&x, &[false, true], 1.0);
        assert!(w[0].is_finite() && w[0] > 0.0 && b.is_finite());
    }

    #[test]
    fn standardised_columns_have_mean_0_and_sd_1_over_present_rows_only() {
        let mut x = vec![
            [1.0, 5.0, 0.0, 2.0],
            [3.0, 5.0, 0.0, 0.0],
            [5.0, 5.0, 0.0, 4.0],
            [0.0, 5.0, 0.0, 6.0],
        ];
        let present = [
            [true, true, true, true],
            [true, true, true, false],
            [true, true, true, true],
            [false, true, false, true],
        ];
        let (c, s) = standardise_columns(&mut x, &present);
        assert_eq!(c, [3.0, 0.0, 0.0, 4.0]);
        assert_eq!(s, [2.0, 1.0, 1.0, 2.0]);
        // Column 0: (1, 3, 5) -> (-1, 0, 1); the absent row keeps its 0.
        assert_eq!([x[0][0], x[1][0], x[2][0], x[3][0]], [-1.0, 0.0, 1.0, 0.0]);
        // A constant column is left as it is; an absent entry is not shifted.
        assert!(x.iter().all(|r| r[1] == 5.0));
        assert_eq!([x[0][3], x[1][3], x[2][3], x[3][3]], [-1.0, 0.0, 0.0, 1.0]);
    }
}
