//! The training loop: AdamW, class-weighted cross-entropy, modality dropout, flips, early
//! stopping on validation AUC with the best weights kept, then temperature scaling and a
//! threshold chosen on validation patients.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Tensor, TensorData};
use oncolens_nn::batch::Sample;
use oncolens_nn::fusion::{modality_bce_with_logits, weighted_bce_with_logits};
use oncolens_nn::{
    Batch, Device, FusionKind, ImageEncoderConfig, ModalitySet, ModelConfig, MultimodalModel,
    TabularKind,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use crate::cases::{ImageInput, PreparedCase};
use crate::prep::Preprocessor;
use crate::split::Split;

/// Training settings; the defaults are the ones the demo and the README numbers use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub max_epochs: usize,
    pub min_epochs: usize,
    /// Epochs without a better validation score before stopping.
    pub patience: usize,
    /// What chooses the epoch whose weights are kept.
    #[serde(default)]
    pub select_on: SelectOn,
    /// Epochs in the centred moving average of the validation score that chooses the epoch
    /// (1 = the raw score). With a few dozen validation patients the AUC jumps from epoch to
    /// epoch, and the raw maximum is often a lucky spike of an under-trained model; averaging
    /// each epoch with its neighbours picks an epoch that is good and stays good.
    #[serde(default = "one")]
    pub select_window: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Probability of hiding each present modality of a training patient (never all of them),
    /// so the fused model learns to predict when a modality is missing.
    pub modality_dropout: f64,
    /// Weight of the auxiliary per-modality loss of a multimodal model
    /// ([`oncolens_nn::fusion::modality_bce_with_logits`]); 0 turns it off.
    #[serde(default)]
    pub aux_loss_weight: f64,
    /// Random flips of the image crop along each axis.
    pub augment: bool,
    pub fusion: FusionKind,
    pub embed_dim: usize,
    pub hidden: usize,
    pub dropout: f64,
    pub image: ImageEncoderConfig,
    pub text_token_dim: usize,
    pub image_input: ImageInput,
    /// Late fusion only: the stacking weights are fitted on out-of-fold logits of the
    /// training and validation patients from this many cross-fitting folds (each fold trains
    /// every single-modality member again), instead of on the validation patients alone;
    /// 0 or 1 = the validation patients. See [`crate::stack`].
    #[serde(default)]
    pub stack_folds: usize,
    /// Form of the clinical and omics encoders (see [`TabularKind`]).
    #[serde(default = "linear")]
    pub tabular: TabularKind,
}

fn linear() -> TabularKind {
    TabularKind::Linear
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            max_epochs: 40,
            min_epochs: 8,
            patience: 10,
            select_on: SelectOn::Auc,
            select_window: 3,
            batch_size: 8,
            learning_rate: 2e-3,
            weight_decay: 1e-3,
            seed: 7,
            modality_dropout: 0.2,
            aux_loss_weight: 0.0,
            augment: true,
            fusion: FusionKind::GatedAttention,
            embed_dim: 16,
            hidden: 32,
            dropout: 0.2,
            image: ImageEncoderConfig {
                stem_stride: 2,
                ..ImageEncoderConfig::default()
            },
            text_token_dim: 16,
            image_input: ImageInput::DEFAULT_CROP,
            stack_folds: 3,
            tabular: TabularKind::Linear,
        }
    }
}

fn one() -> usize {
    1
}

/// The validation score that chooses the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectOn {
    /// Validation AUC (ties broken by the lower validation loss).
    #[default]
    Auc,
    /// Validation cross-entropy: smoother than the AUC of a few dozen patients, which often
    /// saturates at an early, lucky epoch.
    Loss,
}

/// One epoch of the training history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_auc: Option<f64>,
    pub val_loss: f64,
}

/// Progress events for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct EpochProgress {
    pub epoch: usize,
    pub max_epochs: usize,
    pub val_auc: Option<f64>,
}

/// A trained model with everything needed to use it.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// Weights on the inference device (no autodiff).
    pub model: MultimodalModel,
    pub config: ModelConfig,
    pub preprocessor: Preprocessor,
    /// Temperature fitted on validation logits (1 when validation has one class only).
    pub temperature: f64,
    /// Probability threshold (Youden's J on validation; 0.5 when undefined).
    pub threshold: f64,
    pub history: Vec<EpochLog>,
    pub best_epoch: usize,
    pub best_val_auc: Option<f64>,
}

impl TrainedModel {
    /// Raw logits for prepared cases.
    pub fn logits(&self, cases: &[&PreparedCase], device: &Device) -> Result<Vec<f64>, TrainError> {
        let samples: Vec<Sample> = cases.iter().map(|c| self.preprocessor.sample(c)).collect();
        predict_logits(
            &self.model,
            &self.config,
            &samples,
            self.preprocessor.image_input.side(),
            device,
        )
    }

    /// Gated-attention weight of each modality per case (`None` for concatenation fusion), in
    /// [`oncolens_nn::MODALITIES`] order.
    pub fn gates(
        &self,
        cases: &[&PreparedCase],
        device: &Device,
    ) -> Result<Option<Vec<[f64; 4]>>, TrainError> {
        let samples: Vec<Sample> = cases.iter().map(|c| self.preprocessor.sample(c)).collect();
        let side = self.preprocessor.image_input.side();
        let mut out = Vec::with_capacity(samples.len());
        for chunk in samples.chunks(16) {
            let refs: Vec<&Sample> = chunk.iter().collect();
            let batch = Batch::collate(&refs, &self.config, side, device)?;
            let Some(g) = self.model.forward(&batch).gates else {
                return Ok(None);
            };
            let g: Vec<f32> = g
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| TrainError::Data(format!("{e:?}")))?;
            out.extend(
                g.chunks(4)
                    .map(|r| std::array::from_fn(|k| f64::from(r[k]))),
            );
        }
        Ok(Some(out))
    }

    /// Calibrated probabilities of the positive class.
    pub fn probabilities(
        &self,
        cases: &[&PreparedCase],
        device: &Device,
    ) -> Result<Vec<f64>, TrainError> {
        Ok(oncolens_metrics::apply_temperature(
            &self.logits(cases, device)?,
            self.temperature,
        )?)
    }
}

/// Logits for host samples, in batches of 16, on a device without autodiff.
pub fn predict_logits(
    model: &MultimodalModel,
    config: &ModelConfig,
    samples: &[Sample],
    side: usize,
    device: &Device,
) -> Result<Vec<f64>, TrainError> {
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(16) {
        let refs: Vec<&Sample> = chunk.iter().collect();
        let batch = Batch::collate(&refs, config, side, device)?;
        let logits: Vec<f32> = model
            .forward(&batch)
            .logits
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| TrainError::Data(format!("{e:?}")))?;
        out.extend(logits.into_iter().map(f64::from));
    }
    Ok(out)
}

fn flip_axes(v: &mut [f32], side: usize, flips: [bool; 3]) {
    if !flips.iter().any(|f| *f) {
        return;
    }
    let src = v.to_vec();
    for z in 0..side {
        let sz = if flips[0] { side - 1 - z } else { z };
        for y in 0..side {
            let sy = if flips[1] { side - 1 - y } else { y };
            for x in 0..side {
                let sx = if flips[2] { side - 1 - x } else { x };
                v[(z * side + y) * side + x] = src[(sz * side + sy) * side + sx];
            }
        }
    }
}

fn augment(
    s: &Sample,
    cfg: &TrainConfig,
    side: usize,
    multimodal: bool,
    rng: &mut ChaCha8Rng,
) -> Sample {
    let mut s = s.clone();
    if multimodal && cfg.modality_dropout > 0.0 {
        let present = s.present();
        let mut keep = present;
        for k in keep.iter_mut() {
            if *k && rng.random::<f64>() < cfg.modality_dropout {
                *k = false;
            }
        }
        if keep.iter().any(|k| *k) {
            s = s.with_only(keep);
        }
    }
    if cfg.augment
        && let Some(img) = s.image.as_mut()
    {
        let flips = [
            rng.random::<bool>(),
            rng.random::<bool>(),
            rng.random::<bool>(),
        ];
        // Every channel (CT, mask) gets the same flips.
        for channel in img.chunks_mut(side.pow(3)) {
            flip_axes(channel, side, flips);
        }
    }
    s
}

fn mean_loss(logits: &[f64], labels: &[bool]) -> f64 {
    let n = logits.len().max(1) as f64;
    logits
        .iter()
        .zip(labels)
        .map(|(&z, &y)| {
            let sp = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            sp - if y { z } else { 0.0 }
        })
        .sum::<f64>()
        / n
}

/// Temperature (fitted on validation logits) and the probability threshold (Youden's J on the
/// calibrated validation probabilities; 0.5 when undefined).
pub fn calibrate(val_logits: &[f64], val_labels: &[bool]) -> Result<(f64, f64), TrainError> {
    let t = oncolens_metrics::fit_temperature(val_logits, val_labels).unwrap_or(1.0);
    let p = oncolens_metrics::apply_temperature(val_logits, t)?;
    let thr = oncolens_metrics::youden_threshold(&p, val_labels).unwrap_or(0.5);
    Ok((
        t,
        if thr.is_finite() {
            thr.clamp(0.0, 1.0)
        } else {
            0.5
        },
    ))
}

/// The mean of the raw scores of epochs `epoch - half ..= epoch + half` that exist (epochs
/// count from 1).
fn smoothed(raw: &[f64], epoch: usize, half: usize) -> f64 {
    let i = epoch - 1;
    let window = &raw[i.saturating_sub(half)..(i + half + 1).min(raw.len())];
    window.iter().sum::<f64>() / window.len() as f64
}

type Candidate = (f64, usize, MultimodalModel, Vec<f64>);

/// Keeps `model` as the best so far when its score beats the best one.
fn consider(
    best: &mut Option<Candidate>,
    since_best: &mut usize,
    score: f64,
    epoch: usize,
    model: MultimodalModel,
    val_logits: Vec<f64>,
) {
    if best.as_ref().is_none_or(|(s, ..)| score > *s + 1e-9) {
        *best = Some((score, epoch, model, val_logits));
        *since_best = 0;
    } else {
        *since_best += 1;
    }
}

/// What one pass over the training samples needs besides the model and optimiser.
struct EpochInputs<'a> {
    train: &'a [Sample],
    config: &'a ModelConfig,
    cfg: &'a TrainConfig,
    side: usize,
    multimodal: bool,
    pos_weight: f64,
    /// FedProx: the global weights and mu; the loss gains `mu / 2 * |w - w_global|^2`.
    proximal: Option<(Tensor<1>, f64)>,
}

/// One epoch of AdamW over `inputs.train` in a fresh random order; returns the model and the
/// mean training loss.
fn epoch_pass(
    mut model: MultimodalModel,
    optim: &mut ModuleOptimizer,
    inputs: &EpochInputs<'_>,
    order: &mut [usize],
    rng: &mut ChaCha8Rng,
    train_device: &Device,
) -> Result<(MultimodalModel, f64), TrainError> {
    let cfg = inputs.cfg;
    order.shuffle(rng);
    let mut loss_sum = 0.0;
    let mut steps = 0usize;
    for chunk in order.chunks(cfg.batch_size.max(1)) {
        let batch_samples: Vec<Sample> = chunk
            .iter()
            .map(|&i| augment(&inputs.train[i], cfg, inputs.side, inputs.multimodal, rng))
            .collect();
        let refs: Vec<&Sample> = batch_samples.iter().collect();
        let batch = Batch::collate(&refs, inputs.config, inputs.side, train_device)?;
        let Some(y) = batch.labels.clone() else {
            return Err(TrainError::Data("a training patient has no label".into()));
        };
        let out = model.forward(&batch);
        let mut loss = weighted_bce_with_logits(out.logits.clone(), y.clone(), inputs.pos_weight);
        if inputs.multimodal && cfg.aux_loss_weight > 0.0 {
            loss =
                loss + modality_bce_with_logits(&out, y, inputs.pos_weight) * cfg.aux_loss_weight;
        }
        if let Some((global, mu)) = &inputs.proximal {
            let diff = flat_params(&model) - global.clone();
            loss = loss + (diff.clone() * diff).sum() * (mu / 2.0);
        }
        let loss_value: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cfg.learning_rate, model, grads);
        loss_sum += f64::from(loss_value);
        steps += 1;
    }
    Ok((model, loss_sum / steps.max(1) as f64))
}

/// The model's float parameters as one tracked 1-D tensor, in [`oncolens_nn::params`] order.
fn flat_params(model: &MultimodalModel) -> Tensor<1> {
    struct Collect(Vec<Tensor<1>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let n: usize = t.dims().iter().product();
            self.0.push(t.reshape([n]));
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    Tensor::cat(c.0, 0)
}

/// The network configuration for inputs preprocessed by `prep` and the chosen modalities.
pub fn model_config(
    prep: &Preprocessor,
    modalities: ModalitySet,
    cfg: &TrainConfig,
) -> ModelConfig {
    ModelConfig {
        modalities,
        fusion: cfg.fusion,
        embed_dim: cfg.embed_dim,
        image: oncolens_nn::ImageEncoderConfig {
            in_channels: prep.image_channels(),
            lesion_features: prep.lesion_features(),
            ..cfg.image.clone()
        },
        clinical_features: prep.clinical_features(),
        text_vocab: prep.text_vocab(),
        text_token_dim: cfg.text_token_dim,
        omics_genes: prep.omics_genes(),
        hidden: cfg.hidden,
        dropout: cfg.dropout,
        tabular: cfg.tabular,
        pattern_fusion: false,
    }
}

/// Settings of one local round of federated training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalRound {
    /// Passes over the station's training patients.
    pub epochs: usize,
    /// FedProx proximal weight (0 = FedAvg's plain local training).
    pub proximal_mu: f64,
    /// Seed of this round's shuffling, dropout and augmentation.
    pub seed: u64,
}

/// The outcome of one local round: the new local weights and what the aggregator weighs them by.
#[derive(Debug, Clone)]
pub struct LocalUpdate {
    pub weights: Vec<f32>,
    pub num_examples: usize,
    pub train_loss: f64,
}

/// Local training for federated learning: starts from `global` weights (flat, in
/// [`oncolens_nn::params`] order, for a model of `config`), runs `round.epochs` epochs of the
/// same loop as [`train_model`] on `train` (already preprocessed with the federation's shared
/// preprocessor), with a fresh AdamW state and class weights from this station's labels.
pub fn train_local_round(
    config: &ModelConfig,
    global: &[f32],
    train: &[Sample],
    cfg: &TrainConfig,
    round: &LocalRound,
    device: &Device,
) -> Result<LocalUpdate, TrainError> {
    if train.is_empty() {
        return Err(TrainError::Data(
            "no training patients at this station".into(),
        ));
    }
    let n_pos = train.iter().filter(|s| s.label == Some(1)).count();
    let n_neg = train.len() - n_pos;
    // A station with one class still trains (its gradient pulls the shared model); the weight
    // falls back to 1 rather than dividing by zero.
    let pos_weight = if n_pos > 0 && n_neg > 0 {
        n_neg as f64 / n_pos as f64
    } else {
        1.0
    };
    let train_device = device.clone().autodiff();
    let _rng = oncolens_nn::rng::SeededRng::acquire(&train_device, round.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(round.seed);
    let model = MultimodalModel::new(config, &train_device)?;
    let mut model = oncolens_nn::params::unflatten(model, global)?;
    let proximal = (round.proximal_mu > 0.0).then(|| {
        (
            Tensor::<1>::from_data(
                TensorData::new(global.to_vec(), [global.len()]),
                &train_device,
            ),
            round.proximal_mu,
        )
    });
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init();
    let inputs = EpochInputs {
        train,
        config,
        cfg,
        side: cfg.image_input.side(),
        multimodal: config.modalities.count() > 1,
        pos_weight,
        proximal,
    };
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut loss = 0.0;
    for _ in 0..round.epochs.max(1) {
        let (next, l) = epoch_pass(
            model,
            &mut optim,
            &inputs,
            &mut order,
            &mut rng,
            &train_device,
        )?;
        model = next;
        loss = l;
    }
    Ok(LocalUpdate {
        weights: oncolens_nn::params::flatten(&model.valid())?,
        num_examples: train.len(),
        train_loss: loss,
    })
}

/// Trains one model on `split.train`, choosing the epoch on `split.val`.
/// `modalities` is intersected with what the training patients have.
pub fn train_model(
    cases: &[PreparedCase],
    split: &Split,
    modalities: ModalitySet,
    cfg: &TrainConfig,
    device: &Device,
    progress: &dyn Fn(EpochProgress),
) -> Result<TrainedModel, TrainError> {
    let train_cases: Vec<&PreparedCase> = split.train.iter().map(|&i| &cases[i]).collect();
    let val_cases: Vec<&PreparedCase> = split.val.iter().map(|&i| &cases[i]).collect();
    if train_cases.is_empty() {
        return Err(TrainError::Data("no training patients".into()));
    }
    let prep = Preprocessor::fit(&train_cases, cfg.image_input);
    let side = cfg.image_input.side();
    let train: Vec<Sample> = train_cases.iter().map(|c| prep.sample(c)).collect();
    let val: Vec<Sample> = val_cases.iter().map(|c| prep.sample(c)).collect();
    let seen = |m: usize| train.iter().any(|s| s.present()[m]);
    let wanted = modalities.as_array();
    let available = ModalitySet {
        image: wanted[0] && seen(0),
        clinical: wanted[1] && seen(1) && prep.clinical_features() > 0,
        text: wanted[2] && seen(2),
        omics: wanted[3] && seen(3),
    };
    if available.count() == 0 {
        return Err(TrainError::Data(format!(
            "none of the requested modalities ({}) is present in the training patients",
            modalities.names().join(", ")
        )));
    }
    let config = model_config(&prep, available, cfg);
    let labels: Vec<bool> = train.iter().map(|s| s.label == Some(1)).collect();
    let n_pos = labels.iter().filter(|l| **l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(TrainError::Data(format!(
            "training patients hold one class only ({n_pos} positive, {n_neg} negative)"
        )));
    }
    // Class weighting: positives weigh n_neg / n_pos, so both classes contribute equally.
    let pos_weight = n_neg as f64 / n_pos as f64;

    let train_device = device.clone().autodiff();
    let _rng = oncolens_nn::rng::SeededRng::acquire(&train_device, cfg.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut model = MultimodalModel::new(&config, &train_device)?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init();
    let val_labels: Vec<bool> = val.iter().map(|s| s.label == Some(1)).collect();
    let val_has_both = val_labels.iter().any(|l| *l) && val_labels.iter().any(|l| !*l);
    let multimodal = available.count() > 1;

    let mut best: Option<Candidate> = None;
    let mut history = Vec::new();
    let mut since_best = 0usize;
    let half = cfg.select_window.max(1) / 2;
    let mut raw_scores: Vec<f64> = Vec::new();
    let mut pending: std::collections::VecDeque<(usize, MultimodalModel, Vec<f64>)> =
        std::collections::VecDeque::new();
    let mut order: Vec<usize> = (0..train.len()).collect();
    for epoch in 1..=cfg.max_epochs {
        let (next, train_loss) = epoch_pass(
            model,
            &mut optim,
            &EpochInputs {
                train: &train,
                config: &config,
                cfg,
                side,
                multimodal,
                pos_weight,
                proximal: None,
            },
            &mut order,
            &mut rng,
            &train_device,
        )?;
        model = next;
        let eval_model = model.valid();
        let val_logits = if val.is_empty() {
            Vec::new()
        } else {
            predict_logits(&eval_model, &config, &val, side, device)?
        };
        let val_loss = mean_loss(&val_logits, &val_labels);
        let val_auc = if val_has_both {
            oncolens_metrics::roc_auc(&val_logits, &val_labels).ok()
        } else {
            None
        };
        history.push(EpochLog {
            epoch,
            train_loss,
            val_auc,
            val_loss,
        });
        progress(EpochProgress {
            epoch,
            max_epochs: cfg.max_epochs,
            val_auc,
        });
        // Higher is better: AUC, then lower loss as the tie-break (or alone without AUC).
        raw_scores.push(match cfg.select_on {
            SelectOn::Auc => val_auc.unwrap_or(0.0) * 1e3 - val_loss,
            SelectOn::Loss => -val_loss,
        });
        pending.push_back((epoch, eval_model, val_logits));
        // An epoch is scored once the epochs after it in its window are known.
        while pending.len() > half {
            let Some((e, m, logits)) = pending.pop_front() else {
                break;
            };
            consider(
                &mut best,
                &mut since_best,
                smoothed(&raw_scores, e, half),
                e,
                m,
                logits,
            );
        }
        if epoch >= cfg.min_epochs && since_best >= cfg.patience {
            break;
        }
    }
    // The last epochs are scored on the part of their window that exists.
    while let Some((e, m, logits)) = pending.pop_front() {
        consider(
            &mut best,
            &mut since_best,
            smoothed(&raw_scores, e, half),
            e,
            m,
            logits,
        );
    }
    let Some((_, best_epoch, best_model, val_logits)) = best else {
        return Err(TrainError::Data("no epoch was run (max_epochs = 0)".into()));
    };
    let (temperature, threshold) = if val_has_both {
        calibrate(&val_logits, &val_labels)?
    } else {
        (1.0, 0.5)
    };
    let best_val_auc = history
        .iter()
        .find(|h| h.epoch == best_epoch)
        .and_then(|h| h.val_auc);
    Ok(TrainedModel {
        model: best_model,
        config,
        preprocessor: prep,
        temperature,
        threshold,
        history,
        best_epoch,
        best_val_auc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_averages_the_existing_neighbours() {
        let raw = [1.0, 5.0, 3.0, 4.0];
        assert_eq!(smoothed(&raw, 1, 0), 1.0);
        assert_eq!(smoothed(&raw, 1, 1), 3.0);
        assert_eq!(smoothed(&raw, 2, 1), 3.0);
        assert_eq!(smoothed(&raw, 4, 1), 3.5);
        // A lone spike (epoch 2) loses to a plateau (epochs 3-4) once averaged.
        assert!(smoothed(&raw, 3, 1) > smoothed(&raw, 2, 1));
    }

    #[test]
    fn flips_are_involutions_and_move_voxels() {
        let side = 3;
        let v: Vec<f32> = (0..27).map(|i| i as f32).collect();
        let mut w = v.clone();
        flip_axes(&mut w, side, [false, false, true]);
        assert_eq!(w[0], 2.0);
        flip_axes(&mut w, side, [false, false, true]);
        assert_eq!(w, v);
    }
}
