//! The aggregator's loop.

use oncolens_nn::{ModalitySet, ModelConfig, MultimodalModel};
use oncolens_train::{LocalRound, PrepSummary, Preprocessor, TrainConfig, model_config};
use serde::{Deserialize, Serialize};

use crate::FederatedError;
use oncolens_privacy::secagg::{SecAggConfig, Server};

use crate::participant::{Participant, SiteEval};
use crate::strategy::{ServerState, Strategy, weighted_mean};

/// Settings of a federated run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedConfig {
    pub rounds: usize,
    /// Local epochs per round.
    pub local_epochs: usize,
    pub strategy: Strategy,
    /// Stations that must answer for a round to count.
    pub min_participants: usize,
    /// Small-cell threshold for the preprocessing aggregates.
    pub min_cell: u64,
    pub modalities: ModalitySet,
    /// Model and local-training settings (the same as centralised training).
    pub train: TrainConfig,
    /// Aggregate through secure aggregation: the aggregator only ever holds masked updates
    /// and their sum.
    #[serde(default)]
    pub secure_aggregation: bool,
}

/// Largest magnitude of a coordinate of a (weighted) update entering secure aggregation;
/// larger values are clipped. Weight changes within one round stay far below it.
pub const SECURE_CLIP: f32 = 4.0;

/// One round's record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundLog {
    pub round: usize,
    pub trained: Vec<String>,
    /// Stations that failed or did not answer this round, with the reason.
    pub dropped: Vec<(String, String)>,
    pub mean_train_loss: f64,
    pub validation: Vec<SiteEval>,
    /// Example-weighted mean of the sites' validation AUCs.
    pub val_auc: Option<f64>,
    /// Example-weighted mean validation loss.
    pub val_loss: f64,
    /// What the aggregator received from each station this round, when it aggregated
    /// securely: the masked vectors (kept for audits and tests; uniformly random on their own).
    #[serde(skip)]
    pub masked_received: Vec<(String, Vec<u32>)>,
}

/// The outcome: the global model of the best round and the history.
#[derive(Debug, Clone)]
pub struct FederatedModel {
    pub preprocessor: Preprocessor,
    pub config: ModelConfig,
    pub weights: Vec<f32>,
    pub best_round: usize,
    pub history: Vec<RoundLog>,
}

impl FederatedModel {
    /// The global model on `device`.
    pub fn model(&self, device: &oncolens_nn::Device) -> Result<MultimodalModel, FederatedError> {
        let m = MultimodalModel::new(&self.config, device)?;
        Ok(oncolens_nn::params::unflatten(m, &self.weights)?)
    }
}

fn weighted_validation(evals: &[SiteEval]) -> (Option<f64>, f64) {
    let n: usize = evals.iter().map(|e| e.n).sum();
    let loss = evals.iter().map(|e| e.loss * e.n as f64).sum::<f64>() / n.max(1) as f64;
    let with_auc: Vec<&SiteEval> = evals.iter().filter(|e| e.auc.is_some()).collect();
    let n_auc: usize = with_auc.iter().map(|e| e.n).sum();
    let auc = (n_auc > 0).then(|| {
        with_auc
            .iter()
            .map(|e| e.auc.unwrap_or(0.0) * e.n as f64)
            .sum::<f64>()
            / n_auc as f64
    });
    (auc, loss)
}

/// Runs the federation: shared preprocessor from the stations' summaries, then `rounds`
/// rounds of local training and aggregation; after each round every station scores the global
/// model on its validation patients, and the round with the best example-weighted validation
/// AUC (ties: lower loss) gives the returned weights. `progress(round, rounds)` is called
/// after each round.
pub fn run_federation(
    stations: &mut [Box<dyn Participant>],
    cfg: &FederatedConfig,
    device: &oncolens_nn::Device,
    progress: &dyn Fn(&RoundLog),
) -> Result<FederatedModel, FederatedError> {
    if stations.is_empty() {
        return Err(FederatedError::TooFewParticipants {
            round: 0,
            answered: 0,
            required: cfg.min_participants.max(1),
        });
    }
    let mut pooled = PrepSummary::default();
    for s in stations.iter_mut() {
        let summary = s.prep_summary(cfg.min_cell)?;
        pooled
            .merge(&summary)
            .map_err(|m| FederatedError::Station {
                site: s.site().to_owned(),
                message: m,
            })?;
    }
    let preprocessor = pooled.preprocessor(cfg.train.image_input);
    let available = ModalitySet {
        image: cfg.modalities.image && pooled.images > 0,
        clinical: cfg.modalities.clinical && !preprocessor.clinical.is_empty(),
        text: cfg.modalities.text && preprocessor.text_vocab() > 2,
        omics: cfg.modalities.omics && !pooled.genes.is_empty(),
    };
    let config = model_config(&preprocessor, available, &cfg.train);
    config.validate()?;
    for s in stations.iter_mut() {
        s.set_plan(&preprocessor, &config, &cfg.train)?;
    }
    let init = {
        let _rng = oncolens_nn::rng::SeededRng::acquire(device, cfg.train.seed);
        MultimodalModel::new(&config, device)?
    };
    let mut state = ServerState::new(oncolens_nn::params::flatten(&init)?);
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, Vec<f32>)> = None;
    for round in 1..=cfg.rounds {
        let local = LocalRound {
            epochs: cfg.local_epochs,
            proximal_mu: cfg.strategy.proximal_mu(),
            seed: cfg.train.seed.wrapping_add(round as u64 * 1000),
        };
        let (mean, mean_train_loss, trained, mut dropped, masked_received) =
            if cfg.secure_aggregation {
                secure_round(stations, cfg, &state.global, &local, round)?
            } else {
                plain_round(stations, cfg, &state.global, &local, round)?
            };
        state.apply(&cfg.strategy, &mean)?;
        let mut validation = Vec::new();
        for s in stations.iter_mut() {
            // A station that cannot evaluate this round is recorded, not fatal.
            match s.evaluate(&state.global) {
                Ok(e) => validation.push(e),
                Err(e) => {
                    if !dropped.iter().any(|(site, _)| site == s.site()) {
                        dropped.push((s.site().to_owned(), format!("evaluation: {e}")));
                    }
                }
            }
        }
        let (val_auc, val_loss) = weighted_validation(&validation);
        let log = RoundLog {
            round,
            trained,
            dropped,
            mean_train_loss,
            validation,
            val_auc,
            val_loss,
            masked_received,
        };
        progress(&log);
        let score = val_auc.unwrap_or(0.0) * 1e3 - val_loss;
        if best.as_ref().is_none_or(|(b, ..)| score > *b + 1e-9) {
            best = Some((score, round, state.global.clone()));
        }
        history.push(log);
    }
    let (best_round, weights) = match best {
        Some((_, r, w)) => (r, w),
        None => (0, state.global),
    };
    Ok(FederatedModel {
        preprocessor,
        config,
        weights,
        best_round,
        history,
    })
}

/// What one round's aggregation yields: the mean local model, the mean training loss, who
/// trained, who dropped out (and why), and the masked vectors the aggregator saw.
type RoundResult = (
    Vec<f32>,
    f64,
    Vec<String>,
    Vec<(String, String)>,
    Vec<(String, Vec<u32>)>,
);

fn station_round(local: &LocalRound, k: usize) -> LocalRound {
    LocalRound {
        seed: local.seed + k as u64,
        ..local.clone()
    }
}

/// Plain aggregation: every station returns its weights; the aggregator averages them.
fn plain_round(
    stations: &mut [Box<dyn Participant>],
    cfg: &FederatedConfig,
    global: &[f32],
    local: &LocalRound,
    round: usize,
) -> Result<RoundResult, FederatedError> {
    let mut updates = Vec::new();
    let mut trained = Vec::new();
    let mut dropped = Vec::new();
    for (k, s) in stations.iter_mut().enumerate() {
        match s.train_round(global, &station_round(local, k)) {
            Ok(u) if u.weights.len() == global.len() => {
                trained.push(s.site().to_owned());
                updates.push(u);
            }
            Ok(u) => dropped.push((
                s.site().to_owned(),
                format!(
                    "returned {} weights, the model has {}",
                    u.weights.len(),
                    global.len()
                ),
            )),
            Err(e) => dropped.push((s.site().to_owned(), e.to_string())),
        }
    }
    if updates.len() < cfg.min_participants.max(1) {
        return Err(FederatedError::TooFewParticipants {
            round,
            answered: updates.len(),
            required: cfg.min_participants.max(1),
        });
    }
    let pairs: Vec<(&[f32], u64)> = updates
        .iter()
        .map(|u| (u.weights.as_slice(), u.num_examples as u64))
        .collect();
    let mean = weighted_mean(&pairs)?;
    let total: usize = updates.iter().map(|u| u.num_examples).sum();
    let loss = updates
        .iter()
        .map(|u| u.train_loss * u.num_examples as f64)
        .sum::<f64>()
        / total.max(1) as f64;
    Ok((mean, loss, trained, dropped, Vec::new()))
}

/// Secure aggregation (Bonawitz et al. 2017) of the stations' weighted updates: the
/// aggregator relays keys and encrypted shares, receives masked vectors, and learns only
/// their sum over the stations that completed the round.
fn secure_round(
    stations: &mut [Box<dyn Participant>],
    cfg: &FederatedConfig,
    global: &[f32],
    local: &LocalRound,
    round: usize,
) -> Result<RoundResult, FederatedError> {
    let n = stations.len();
    let threshold = cfg.min_participants.max(2);
    let too_few = |answered: usize| FederatedError::TooFewParticipants {
        round,
        answered,
        required: threshold,
    };
    let sa = |e: oncolens_privacy::PrivacyError| {
        if let oncolens_privacy::PrivacyError::InsufficientClients { have, .. } = e {
            return too_few(have);
        }
        FederatedError::Mismatch(format!("secure aggregation: {e}"))
    };
    if n < threshold {
        return Err(too_few(n));
    }
    let config = SecAggConfig::new(
        cfg.train.seed ^ ((round as u64) << 32) ^ 0x5ec_a66,
        threshold,
        SECURE_CLIP,
        n as u32,
    )
    .map_err(sa)?;
    let ids: Vec<u32> = (0..n as u32).collect();
    let mut server = Server::new(&config, &ids).map_err(sa)?;
    let total: usize = stations.iter().map(|s| s.num_examples()).sum();
    let mut dropped: Vec<(String, String)> = Vec::new();
    let mut alive: Vec<bool> = vec![true; n];
    let mut drop = |k: usize, site: &str, why: String, alive: &mut Vec<bool>| {
        alive[k] = false;
        dropped.push((site.to_owned(), why));
    };
    for (k, s) in stations.iter_mut().enumerate() {
        match s.secure_begin(k as u32, &config, global, &station_round(local, k), total) {
            Ok(m) => server.receive_advertise(m).map_err(sa)?,
            Err(e) => drop(k, s.site(), e.to_string(), &mut alive),
        }
    }
    let keys = server.broadcast_keys().map_err(sa)?;
    for (k, s) in stations.iter_mut().enumerate() {
        if alive[k] {
            match s.secure_share(&keys) {
                Ok(m) => server.receive_share_keys(m).map_err(sa)?,
                Err(e) => drop(k, s.site(), e.to_string(), &mut alive),
            }
        }
    }
    let forwarded = server.forward_shares().map_err(sa)?;
    let mut masked_received = Vec::new();
    for (k, s) in stations.iter_mut().enumerate() {
        if !alive[k] {
            continue;
        }
        let Some(f) = forwarded.iter().find(|f| f.to == k as u32) else {
            drop(
                k,
                s.site(),
                "no shares were forwarded to it".into(),
                &mut alive,
            );
            continue;
        };
        match s.secure_masked(f) {
            Ok(m) => {
                masked_received.push((s.site().to_owned(), m.masked.clone()));
                server.receive_masked_input(m).map_err(sa)?;
            }
            Err(e) => drop(k, s.site(), e.to_string(), &mut alive),
        }
    }
    let request = server.unmask_request().map_err(sa)?;
    for (k, s) in stations.iter_mut().enumerate() {
        if alive[k] {
            // A station that fails now has already contributed its masked update; the others'
            // shares still unmask it.
            match s.secure_unmask(&request) {
                Ok(m) => server.receive_unmask(m).map_err(sa)?,
                Err(e) => dropped.push((s.site().to_owned(), format!("unmasking: {e}"))),
            }
        }
    }
    let result = server.finish().map_err(sa)?;
    let dim = global.len();
    if result.sum.len() != dim + 2 {
        return Err(FederatedError::Mismatch(format!(
            "the secure sum has {} values, expected {}",
            result.sum.len(),
            dim + 2
        )));
    }
    let weight = f64::from(result.sum[dim + 1]);
    if weight <= 0.0 {
        return Err(FederatedError::Mismatch(
            "the contributing stations hold no training patients".into(),
        ));
    }
    let mean: Vec<f32> = global
        .iter()
        .zip(&result.sum[..dim])
        .map(|(g, s)| (f64::from(*g) + f64::from(*s) / weight) as f32)
        .collect();
    let loss = f64::from(result.sum[dim]) / weight;
    let trained = result
        .contributors
        .iter()
        .map(|&k| stations[k as usize].site().to_owned())
        .collect();
    Ok((mean, loss, trained, dropped, masked_received))
}
