//! oncolens-flower: a Rust client node for the [Flower](https://flower.ai) federated-learning
//! engine.
//!
//! A station joins a federation run by an unmodified Flower SuperLink (PyPI `flwr`, tested
//! against [`FLOWER_VERSION`]): it speaks Flower's Fleet API (protobuf over HTTP with signed
//! P-384 node identity), receives the global model of a Python ServerApp as Flower's
//! content-addressed `RecordDict` objects (numpy arrays as `.npy` chunks), calls the station's
//! [`FlowerClient`] and returns the update with its metrics.
//!
//! ```no_run
//! use oncolens_flower::{run_node, Config, EvaluateResult, FitResult, FlowerClient, Metrics,
//!     NdArray, NodeOptions, ClientError};
//!
//! struct Station;
//! impl FlowerClient for Station {
//!     fn fit(&mut self, p: Vec<NdArray>, _c: &Config) -> Result<FitResult, ClientError> {
//!         Ok(FitResult { parameters: p, num_examples: 100, metrics: Metrics::new() })
//!     }
//!     fn evaluate(&mut self, _p: Vec<NdArray>, _c: &Config) -> Result<EvaluateResult, ClientError> {
//!         Ok(EvaluateResult { loss: 0.0, num_examples: 100, metrics: Metrics::new() })
//!     }
//! }
//! let summary = run_node("http://127.0.0.1:9092", &mut Station, NodeOptions::default())?;
//! # Ok::<(), oncolens_flower::FlowerError>(())
//! ```

pub mod auth;
pub mod error;
pub mod fleet;
pub mod node;
pub mod npy;
pub mod objects;
pub mod proto;
pub mod records;

pub use auth::NodeKey;
pub use error::{ClientError, FlowerError};
pub use fleet::FleetClient;
pub use node::{
    EvaluateResult, FLOWER_VERSION, FitResult, FlowerClient, FlowerNode, Handled, NodeOptions,
    NodeSummary, run_node,
};
pub use npy::{DType, NdArray};
pub use objects::{Record, RecordDict};
pub use records::{Config, ConfigValue, MetricValue, Metrics};
