//! A station's side of federated learning.

use oncolens_nn::batch::Sample;
use oncolens_nn::{Device, ModelConfig};
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
}

/// A station whose patients are in this process (the embedded default, tests, and the body of
/// a networked station's training job).
pub struct LocalStation {
    site: String,
    train_cases: Vec<PreparedCase>,
    val_cases: Vec<PreparedCase>,
    device: Device,
    plan: Option<Plan>,
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
        }
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
        let plan = self.plan()?;
        train_local_round(
            &plan.config,
            global,
            &plan.train,
            &plan.train_cfg,
            round,
            &self.device,
        )
        .map_err(|e| self.err(e))
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
