//! Federated learning of oncolens models: the algorithm travels to the data stations, only
//! model weights and aggregates come back.
//!
//! A round: the aggregator sends the global weights to every [`Participant`]; each trains
//! locally ([`oncolens_train::train_local_round`], the same loop as centralised training) and
//! returns its weights and example count; the aggregator combines them with a [`Strategy`]
//! (FedAvg, FedProx, FedAdam). Before the first round the stations send a
//! [`oncolens_train::PrepSummary`] (counts and sums, small cells withheld) from which the shared
//! preprocessor is fitted, so standardisation and the report vocabulary are the federation's,
//! not one site's. A station that fails or drops out during a round is left out of that round's
//! average; the round goes on while at least `min_participants` answer.

pub mod flower_station;
pub mod participant;
pub mod remote;
pub mod run;
pub mod strategy;

pub use participant::{DropsOut, LocalStation, Participant, SiteEval, StationPrivacy};
pub use run::{FederatedConfig, FederatedModel, RoundLog, run_federation};
pub use strategy::{ServerState, Strategy, weighted_mean};

/// Errors of a federated run.
#[derive(Debug, thiserror::Error)]
pub enum FederatedError {
    #[error("station {site}: {message}")]
    Station { site: String, message: String },
    #[error("round {round}: only {answered} of the required {required} stations answered")]
    TooFewParticipants {
        round: usize,
        answered: usize,
        required: usize,
    },
    #[error("updates do not agree: {0}")]
    Mismatch(String),
    #[error(transparent)]
    Train(#[from] oncolens_train::TrainError),
    #[error(transparent)]
    Nn(#[from] oncolens_nn::NnError),
}
