//! How the aggregator turns the stations' weights into the next global model.

use serde::{Deserialize, Serialize};

use crate::FederatedError;

/// Aggregation strategy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Strategy {
    /// McMahan et al. 2017: the example-weighted mean of the local models.
    FedAvg,
    /// Li et al. 2020: FedAvg whose local objective adds `mu / 2 * |w - w_global|^2`, which
    /// keeps sites with unlike data (our scanners and case mixes) from drifting apart.
    FedProx { mu: f64 },
    /// Reddi et al. 2021 ("Adaptive Federated Optimization"): the mean update is a
    /// pseudo-gradient for a server-side Adam step (with bias correction, as Flower's FedAdam).
    FedAdam {
        eta: f64,
        beta1: f64,
        beta2: f64,
        tau: f64,
    },
}

impl Strategy {
    /// The strategy by CLI name with this crate's default hyperparameters.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "fedavg" => Some(Strategy::FedAvg),
            "fedprox" => Some(Strategy::FedProx { mu: 0.01 }),
            "fedadam" => Some(Strategy::FedAdam {
                eta: 0.01,
                beta1: 0.9,
                beta2: 0.99,
                tau: 1e-3,
            }),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Strategy::FedAvg => "fedavg",
            Strategy::FedProx { .. } => "fedprox",
            Strategy::FedAdam { .. } => "fedadam",
        }
    }

    /// FedProx's proximal weight for the local rounds (0 for the others).
    pub fn proximal_mu(&self) -> f64 {
        match self {
            Strategy::FedProx { mu } => *mu,
            _ => 0.0,
        }
    }
}

/// The example-weighted mean of local models: `sum_i n_i w_i / sum_i n_i`.
pub fn weighted_mean(updates: &[(&[f32], u64)]) -> Result<Vec<f32>, FederatedError> {
    let Some((first, _)) = updates.first() else {
        return Err(FederatedError::Mismatch("no updates to average".into()));
    };
    let dim = first.len();
    let total: u64 = updates.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Err(FederatedError::Mismatch("updates carry no examples".into()));
    }
    let mut acc = vec![0f64; dim];
    for (w, n) in updates {
        if w.len() != dim {
            return Err(FederatedError::Mismatch(format!(
                "an update has {} weights, another {dim}",
                w.len()
            )));
        }
        let share = *n as f64 / total as f64;
        for (a, &x) in acc.iter_mut().zip(w.iter()) {
            *a += share * f64::from(x);
        }
    }
    Ok(acc.into_iter().map(|v| v as f32).collect())
}

/// The aggregator's state: the global weights and, for FedAdam, the server moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    pub global: Vec<f32>,
    m: Vec<f64>,
    v: Vec<f64>,
    /// Server steps taken.
    pub steps: u64,
}

impl ServerState {
    pub fn new(global: Vec<f32>) -> Self {
        Self {
            global,
            m: Vec::new(),
            v: Vec::new(),
            steps: 0,
        }
    }

    /// Moves the global model given the example-weighted `mean` of this round's local models.
    pub fn apply(&mut self, strategy: &Strategy, mean: &[f32]) -> Result<(), FederatedError> {
        if mean.len() != self.global.len() {
            return Err(FederatedError::Mismatch(format!(
                "the mean has {} weights, the global model {}",
                mean.len(),
                self.global.len()
            )));
        }
        self.steps += 1;
        match *strategy {
            Strategy::FedAvg | Strategy::FedProx { .. } => self.global = mean.to_vec(),
            Strategy::FedAdam {
                eta,
                beta1,
                beta2,
                tau,
            } => {
                if self.m.is_empty() {
                    self.m = vec![0.0; mean.len()];
                    self.v = vec![0.0; mean.len()];
                }
                let t = self.steps as i32;
                let eta_t = eta * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t));
                for (((g, &x), m), v) in self
                    .global
                    .iter_mut()
                    .zip(mean)
                    .zip(self.m.iter_mut())
                    .zip(self.v.iter_mut())
                {
                    let delta = f64::from(x) - f64::from(*g);
                    *m = beta1 * *m + (1.0 - beta1) * delta;
                    *v = beta2 * *v + (1.0 - beta2) * delta * delta;
                    let step = eta_t * *m / (v.sqrt() + tau);
                    *g = (f64::from(*g) + step) as f32;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn weighted_mean_weighs_by_examples() {
        let a = [1.0f32, 0.0];
        let b = [4.0f32, 3.0];
        let m = weighted_mean(&[(&a, 2), (&b, 1)]).unwrap();
        assert_relative_eq!(m[0], 2.0);
        assert_relative_eq!(m[1], 1.0);
        assert!(weighted_mean(&[(&a, 1), (&[1.0f32][..], 1)]).is_err());
        assert!(weighted_mean(&[]).is_err());
        assert!(weighted_mean(&[(&a, 0)]).is_err());
    }

    #[test]
    fn fedavg_takes_the_mean_and_fedadam_steps_towards_it() {
        let mut s = ServerState::new(vec![0.0, 1.0]);
        s.apply(&Strategy::FedAvg, &[2.0, 3.0]).unwrap();
        assert_eq!(s.global, vec![2.0, 3.0]);

        // First FedAdam step: m = (1-b1) d, v = (1-b2) d^2, bias-corrected step = eta * d/|d|
        // (tau negligible): each coordinate moves by eta towards the mean.
        let adam = Strategy::FedAdam {
            eta: 0.1,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-12,
        };
        let mut s = ServerState::new(vec![0.0, 1.0]);
        s.apply(&adam, &[2.0, -3.0]).unwrap();
        assert_relative_eq!(s.global[0], 0.1, epsilon = 1e-6);
        assert_relative_eq!(s.global[1], 0.9, epsilon = 1e-6);
        // Repeated pulls in the same direction keep moving it there.
        for _ in 0..50 {
            let target = [2.0, -3.0];
            s.apply(&adam, &target).unwrap();
        }
        assert!(s.global[0] > 1.5 && s.global[1] < -2.0, "{:?}", s.global);
        assert!(s.apply(&adam, &[1.0]).is_err());
    }

    #[test]
    fn names_round_trip() {
        for n in ["fedavg", "fedprox", "fedadam"] {
            assert_eq!(Strategy::by_name(n).unwrap().name(), n);
        }
        assert!(Strategy::by_name("fedsgd").is_none());
        assert_eq!(Strategy::by_name("fedprox").unwrap().proximal_mu(), 0.01);
    }
}
