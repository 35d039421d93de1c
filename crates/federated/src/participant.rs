//! A station's side of federated learning.

use oncolens_nn::batch::Sample;
use oncolens_nn::{Device, ModelConfig};
use oncolens_privacy::dp::GaussianMechanism;
use oncolens_privacy::rdp::RdpAccountant;
use oncolens_privacy::secagg::{
    AdvertiseKeys, Client, ForwardedShares, KeysBroadcast, MaskedInput, SecAggConfig, ShareKeys,
    UnmaskRequest, UnmaskShares,
};
use oncolens_train::trainer::predict_logits;
use oncolens_train::{
    LocalRound, LocalUpdate, PrepSummary, PreparedCase, Preprocessor, TrainConfig,
    train_local_round,
};
use serde::{Deserialize, Serialize};

use crate::FederatedError;

/// What a station reports about the global model on its own validation patients: aggregates
/// only (no per-patient score leaves the station).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteEval {
    pub site: String,
    pub n: usize,
    /// AUC on the station's validation patients (`None` with a single class).
    pub auc: Option<f64>,
    /// Mean cross-entropy.
    pub loss: f64,
}

/// One data station as the aggregator sees it. In-process ([`LocalStation`]) and networked
/// stations implement the same calls, so the embedded default and a real deployment run the
/// same federation code.
pub trait Participant: Send {
    /// The site's name (not a patient identifier).
    fn site(&self) -> &str;
    /// Aggregates for the shared preprocessor; counts under `min_cell` withheld.
    fn prep_summary(&mut self, min_cell: u64) -> Result<PrepSummary, FederatedError>;
    /// The federation's preprocessor and model configuration, sent once before round 1.
    fn set_plan(
        &mut self,
        preprocessor: &Preprocessor,
        config: &ModelConfig,
        train: &TrainConfig,
    ) -> Result<(), FederatedError>;
    /// Local training from the global weights.
    fn train_round(
        &mut self,
        global: &[f32],
        round: &LocalRound,
    ) -> Result<LocalUpdate, FederatedError>;
    /// The global model on the station's validation patients.
    fn evaluate(&mut self, global: &[f32]) -> Result<SiteEval, FederatedError>;

    /// Training patients (an aggregate count; secure aggregation weighs by it).
    fn num_examples(&self) -> usize;

    /// Secure aggregation, round 0: train locally from `global`, keep the update (never sent
    /// in the clear) and advertise this station's keys. The update the station will mask is
    /// `[n/total * (w - global), n/total * train_loss, n/total]`, so the sum over contributors
    /// gives the example-weighted mean update whoever drops out.
    fn secure_begin(
        &mut self,
        id: u32,
        config: &SecAggConfig,
        global: &[f32],
        round: &LocalRound,
        total_examples: usize,
    ) -> Result<AdvertiseKeys, FederatedError> {
        let _ = (id, config, global, round, total_examples);
        Err(unsupported(self.site()))
    }
    /// Secure aggregation, round 1: encrypted key shares for the other stations.
    fn secure_share(&mut self, keys: &KeysBroadcast) -> Result<ShareKeys, FederatedError> {
        let _ = keys;
        Err(unsupported(self.site()))
    }
    /// Secure aggregation, round 2: the masked update.
    fn secure_masked(&mut self, shares: &ForwardedShares) -> Result<MaskedInput, FederatedError> {
        let _ = shares;
        Err(unsupported(self.site()))
    }
    /// Secure aggregation, round 3: shares that remove the masks of survivors and dropouts.
    fn secure_unmask(&mut self, request: &UnmaskRequest) -> Result<UnmaskShares, FederatedError> {
        let _ = request;
        Err(unsupported(self.site()))
    }
}

fn unsupported(site: &str) -> FederatedError {
    FederatedError::Station {
        site: site.to_owned(),
        message: "this station does not support secure aggregation".into(),
    }
}

/// A station's differential-privacy policy for the updates it releases: each release is the
/// Gaussian mechanism on the station's model update (clipped to `clip_norm`, noise
/// `noise_multiplier * clip_norm`), accounted with Rényi DP; a release that would take the
/// spent epsilon over `epsilon_budget` (at `delta`) is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StationPrivacy {
    pub mechanism: GaussianMechanism,
    pub epsilon_budget: f64,
    pub delta: f64,
    pub accountant: RdpAccountant,
}

impl StationPrivacy {
    pub fn new(mechanism: GaussianMechanism, epsilon_budget: f64, delta: f64) -> Self {
        Self {
            mechanism,
            epsilon_budget,
            delta,
            accountant: RdpAccountant::new(),
        }
    }

    /// Epsilon spent so far.
    pub fn spent(&self) -> f64 {
        self.accountant.epsilon(self.delta).unwrap_or(f64::INFINITY)
    }

    /// Clips and noises `update` in place if the budget allows one more release, and records
    /// it; otherwise refuses with the reason.
    fn release(&mut self, update: &mut [f32]) -> Result<(), String> {
        let sigma = self.mechanism.noise_multiplier;
        // One release of the whole update per round: sampling rate 1, one step.
        let next = self
            .accountant
            .epsilon_if(sigma, 1.0, 1, self.delta)
            .map_err(|e| e.to_string())?;
        if next > self.epsilon_budget {
            return Err(format!(
                "privacy budget exhausted: this release would bring epsilon to {next:.3} \
                 (budget {:.3}, delta {:e})",
                self.epsilon_budget, self.delta
            ));
        }
        let mut rng = rand::rng();
        self.mechanism
            .privatize(update, &mut rng)
            .map_err(|e| e.to_string())?;
        self.accountant
            .record(sigma, 1.0, 1)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A station whose patients are in this process (the embedded default, tests, and the body of
/// a networked station's training job).
pub struct LocalStation {
    site: String,
    train_cases: Vec<PreparedCase>,
    val_cases: Vec<PreparedCase>,
    device: Device,
    plan: Option<Plan>,
    privacy: Option<StationPrivacy>,
    secure: Option<(Client, Vec<f32>)>,
}

struct Plan {
    config: ModelConfig,
    train_cfg: TrainConfig,
    train: Vec<Sample>,
    val: Vec<Sample>,
    side: usize,
}

impl LocalStation {
    pub fn new(
        site: impl Into<String>,
        train_cases: Vec<PreparedCase>,
        val_cases: Vec<PreparedCase>,
        device: Device,
    ) -> Self {
        Self {
            site: site.into(),
            train_cases,
            val_cases,
            device,
            plan: None,
            privacy: None,
            secure: None,
        }
    }

    /// Releases updates only through the Gaussian mechanism, within a budget.
    pub fn with_privacy(mut self, privacy: StationPrivacy) -> Self {
        self.privacy = Some(privacy);
        self
    }

    /// The station's privacy state (epsilon spent), when it has a policy.
    pub fn privacy(&self) -> Option<&StationPrivacy> {
        self.privacy.as_ref()
    }

    /// Local training, then the update as the station releases it: `w - global`, clipped and
    /// noised when the station has a privacy policy.
    fn local_delta(
        &mut self,
        global: &[f32],
        round: &LocalRound,
    ) -> Result<(Vec<f32>, LocalUpdate), FederatedError> {
        let plan = self.plan()?;
        let update = train_local_round(
            &plan.config,
            global,
            &plan.train,
            &plan.train_cfg,
            round,
            &self.device,
        )
        .map_err(|e| self.err(e))?;
        let mut delta: Vec<f32> = update
            .weights
            .iter()
            .zip(global)
            .map(|(w, g)| w - g)
            .collect();
        if let Some(p) = self.privacy.as_mut() {
            let site = self.site.clone();
            p.release(&mut delta)
                .map_err(|message| FederatedError::Station { site, message })?;
        }
        Ok((delta, update))
    }

    fn plan(&self) -> Result<&Plan, FederatedError> {
        self.plan.as_ref().ok_or_else(|| FederatedError::Station {
            site: self.site.clone(),
            message: "no plan yet: the aggregator must send the preprocessor first".into(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> FederatedError {
        FederatedError::Station {
            site: self.site.clone(),
            message: e.to_string(),
        }
    }
}

fn no_session(site: &str) -> FederatedError {
    FederatedError::Station {
        site: site.to_owned(),
        message: "no secure-aggregation session in progress".into(),
    }
}

impl Participant for LocalStation {
    fn site(&self) -> &str {
        &self.site
    }

    fn prep_summary(&mut self, min_cell: u64) -> Result<PrepSummary, FederatedError> {
        let refs: Vec<&PreparedCase> = self.train_cases.iter().collect();
        Ok(PrepSummary::of(&refs, min_cell))
    }

    fn set_plan(
        &mut self,
        preprocessor: &Preprocessor,
        config: &ModelConfig,
        train: &TrainConfig,
    ) -> Result<(), FederatedError> {
        let side = preprocessor.image_input.side();
        let mut train_cfg = train.clone();
        train_cfg.image_input = preprocessor.image_input;
        self.plan = Some(Plan {
            config: config.clone(),
            train_cfg,
            train: self
                .train_cases
                .iter()
                .map(|c| preprocessor.sample(c))
                .collect(),
            val: self
                .val_cases
                .iter()
                .map(|c| preprocessor.sample(c))
                .collect(),
            side,
        });
        Ok(())
    }

    fn train_round(
        &mut self,
        global: &[f32],
        round: &LocalRound,
    ) -> Result<LocalUpdate, FederatedError> {
        let (delta, update) = self.local_delta(global, round)?;
        Ok(LocalUpdate {
            weights: global.iter().zip(&delta).map(|(g, d)| g + d).collect(),
            ..update
        })
    }

    fn num_examples(&self) -> usize {
        self.train_cases.len()
    }

    fn secure_begin(
        &mut self,
        id: u32,
        config: &SecAggConfig,
        global: &[f32],
        round: &LocalRound,
        total_examples: usize,
    ) -> Result<AdvertiseKeys, FederatedError> {
        let (delta, update) = self.local_delta(global, round)?;
        let share = update.num_examples as f32 / total_examples.max(1) as f32;
        let mut payload: Vec<f32> = delta.iter().map(|d| d * share).collect();
        payload.push(share * update.train_loss as f32);
        payload.push(share);
        let mut client =
            Client::new(id, payload.len(), config, &mut rand::rng()).map_err(|e| self.err(e))?;
        let keys = client.advertise_keys().map_err(|e| self.err(e))?;
        self.secure = Some((client, payload));
        Ok(keys)
    }

    fn secure_share(&mut self, keys: &KeysBroadcast) -> Result<ShareKeys, FederatedError> {
        let site = self.site.clone();
        let (client, _) = self.secure.as_mut().ok_or_else(|| no_session(&site))?;
        client
            .share_keys(keys, &mut rand::rng())
            .map_err(|e| FederatedError::Station {
                site,
                message: e.to_string(),
            })
    }

    fn secure_masked(&mut self, shares: &ForwardedShares) -> Result<MaskedInput, FederatedError> {
        let site = self.site.clone();
        let (client, payload) = self.secure.as_mut().ok_or_else(|| no_session(&site))?;
        client
            .masked_input(shares, payload)
            .map_err(|e| FederatedError::Station {
                site,
                message: e.to_string(),
            })
    }

    fn secure_unmask(&mut self, request: &UnmaskRequest) -> Result<UnmaskShares, FederatedError> {
        let site = self.site.clone();
        let (mut client, _) = self.secure.take().ok_or_else(|| no_session(&site))?;
        client.unmask(request).map_err(|e| FederatedError::Station {
            site,
            message: e.to_string(),
        })
    }

    fn evaluate(&mut self, global: &[f32]) -> Result<SiteEval, FederatedError> {
        let plan = self.plan()?;
        let model = oncolens_nn::MultimodalModel::new(&plan.config, &self.device)?;
        let model = oncolens_nn::params::unflatten(model, global)?;
        let logits = predict_logits(&model, &plan.config, &plan.val, plan.side, &self.device)?;
        let labels: Vec<bool> = plan.val.iter().map(|s| s.label == Some(1)).collect();
        let auc = oncolens_metrics::roc_auc(&logits, &labels).ok();
        let loss = logits
            .iter()
            .zip(&labels)
            .map(|(&z, &y)| {
                let p = 1.0 / (1.0 + (-z).exp());
                -(if y { p } else { 1.0 - p }).max(1e-12).ln()
            })
            .sum::<f64>()
            / logits.len().max(1) as f64;
        Ok(SiteEval {
            site: self.site.clone(),
            n: labels.len(),
            auc,
            loss,
        })
    }
}

/// A station that stops answering from training round `from_round` on (counting from 1): the
/// drop-out simulation of `federate --drop-station` and of the tests.
pub struct DropsOut<P> {
    inner: P,
    from_round: usize,
    round: usize,
    message: String,
}

impl<P: Participant> DropsOut<P> {
    pub fn new(inner: P, from_round: usize, message: impl Into<String>) -> Self {
        Self {
            inner,
            from_round,
            round: 0,
            message: message.into(),
        }
    }

    fn gone(&self) -> Result<(), FederatedError> {
        if self.round >= self.from_round {
            return Err(FederatedError::Station {
                site: self.inner.site().to_owned(),
                message: self.message.clone(),
            });
        }
        Ok(())
    }
}

impl<P: Participant> Participant for DropsOut<P> {
    fn site(&self) -> &str {
        self.inner.site()
    }
    fn prep_summary(&mut self, min_cell: u64) -> Result<PrepSummary, FederatedError> {
        self.inner.prep_summary(min_cell)
    }
    fn set_plan(
        &mut self,
        p: &Preprocessor,
        c: &ModelConfig,
        t: &TrainConfig,
    ) -> Result<(), FederatedError> {
        self.inner.set_plan(p, c, t)
    }
    fn train_round(&mut self, g: &[f32], r: &LocalRound) -> Result<LocalUpdate, FederatedError> {
        self.round += 1;
        self.gone()?;
        self.inner.train_round(g, r)
    }
    fn evaluate(&mut self, g: &[f32]) -> Result<SiteEval, FederatedError> {
        self.gone()?;
        self.inner.evaluate(g)
    }
    fn num_examples(&self) -> usize {
        self.inner.num_examples()
    }
    fn secure_begin(
        &mut self,
        id: u32,
        c: &SecAggConfig,
        g: &[f32],
        r: &LocalRound,
        total: usize,
    ) -> Result<AdvertiseKeys, FederatedError> {
        self.round += 1;
        self.gone()?;
        self.inner.secure_begin(id, c, g, r, total)
    }
    fn secure_share(&mut self, k: &KeysBroadcast) -> Result<ShareKeys, FederatedError> {
        self.inner.secure_share(k)
    }
    fn secure_masked(&mut self, f: &ForwardedShares) -> Result<MaskedInput, FederatedError> {
        self.inner.secure_masked(f)
    }
    fn secure_unmask(&mut self, r: &UnmaskRequest) -> Result<UnmaskShares, FederatedError> {
        self.inner.secure_unmask(r)
    }
}
