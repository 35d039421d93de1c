//! A data station as a Flower client node: the global model comes from a Flower `ServerApp`
//! (any strategy, e.g. FedAvg) over Flower's Fleet API, the station trains the multimodal
//! model on its own patients with the same local round as the oncolens aggregator, and returns
//! the new weights with its patient count.
//!
//! The arrays exchanged are the model's float parameters as one `float32` vector (the order of
//! [`oncolens_nn::params`]). Architecture and preprocessing are the federation's plan, given to
//! every station beforehand (an oncolens model folder: `model.json`), so every station builds
//! the same network; the `ServerApp` starts from that folder's weights.

use oncolens_flower::{
    ClientError, Config, EvaluateResult, FitResult, FlowerClient, Metrics, NdArray,
};
use oncolens_nn::ModelConfig;
use oncolens_train::{LocalRound, Preprocessor, TrainConfig};

use crate::participant::{LocalStation, Participant};

/// A [`LocalStation`] behind Flower's client trait.
pub struct FlowerStation {
    station: LocalStation,
    local_epochs: usize,
    proximal_mu: f64,
    seed: u64,
    rounds: u64,
}

impl FlowerStation {
    /// `station` gets the federation's plan now; each Flower `train` message runs
    /// `local_epochs` epochs (the `ServerApp` may override with config `local-epochs`).
    pub fn new(
        mut station: LocalStation,
        preprocessor: &Preprocessor,
        config: &ModelConfig,
        train: &TrainConfig,
        local_epochs: usize,
    ) -> Result<Self, crate::FederatedError> {
        station.set_plan(preprocessor, config, train)?;
        Ok(Self {
            station,
            local_epochs: local_epochs.max(1),
            proximal_mu: 0.0,
            seed: train.seed,
            rounds: 0,
        })
    }

    /// FedProx's proximal weight for local training (0: plain FedAvg local training).
    pub fn with_proximal_mu(mut self, mu: f64) -> Self {
        self.proximal_mu = mu;
        self
    }

    fn global(parameters: &[NdArray]) -> Result<Vec<f32>, ClientError> {
        let mut w = Vec::new();
        for a in parameters {
            w.extend(a.to_f32());
        }
        if w.is_empty() {
            return Err("the ServerApp sent no parameters".into());
        }
        Ok(w)
    }
}

impl FlowerClient for FlowerStation {
    fn fit(&mut self, parameters: Vec<NdArray>, config: &Config) -> Result<FitResult, ClientError> {
        let global = Self::global(&parameters)?;
        self.rounds += 1;
        let epochs = config
            .get_i64("local-epochs")
            .and_then(|e| usize::try_from(e).ok())
            .unwrap_or(self.local_epochs);
        let round = LocalRound {
            epochs: epochs.max(1),
            proximal_mu: config.get_f64("proximal-mu").unwrap_or(self.proximal_mu),
            seed: self.seed.wrapping_add(self.rounds * 1000),
        };
        let update = self.station.train_round(&global, &round)?;
        // The reply keeps the shapes and names of what was received.
        let mut out = Vec::with_capacity(parameters.len());
        let mut offset = 0;
        for a in &parameters {
            let n: usize = a.shape.iter().product();
            let values = update
                .weights
                .get(offset..offset + n)
                .ok_or("the trained model has fewer parameters than were sent")?;
            out.push(NdArray::from_f32(a.shape.clone(), values)?);
            offset += n;
        }
        Ok(FitResult {
            parameters: out,
            num_examples: update.num_examples as u64,
            metrics: Metrics::new().with_f64("train-loss", update.train_loss),
        })
    }

    fn evaluate(
        &mut self,
        parameters: Vec<NdArray>,
        _config: &Config,
    ) -> Result<EvaluateResult, ClientError> {
        let global = Self::global(&parameters)?;
        let e = self.station.evaluate(&global)?;
        let mut metrics = Metrics::new();
        if let Some(auc) = e.auc {
            metrics = metrics.with_f64("auc", auc);
        }
        Ok(EvaluateResult {
            loss: e.loss,
            num_examples: e.n as u64,
            metrics,
        })
    }
}
