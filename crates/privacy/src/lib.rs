//! Privacy machinery for federated learning between hospital data stations.
//!
//! Two promises of the federated design live here:
//!
//! - *"The aggregator never sees a single station's update in the clear"*: [`secagg`] is
//!   secure aggregation by pairwise masking (Bonawitz et al. 2017, the SecAgg protocol), tolerant
//!   to stations dropping out mid-round. The server learns only the sum of the surviving
//!   stations' (quantised) updates and which stations contributed.
//! - *"Differential privacy with a privacy accountant (RDP) that the station enforces against its
//!   budget"*: [`dp`] is the Gaussian mechanism on model updates (L2 clipping plus Gaussian
//!   noise) and [`rdp`] is the Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism
//!   (Mironov, Talwar & Zhang 2019) with Opacus' default orders and its RDP → (ε, δ) conversion
//!   (Balle et al. 2020), checked against Opacus to 1e-6 relative
//!   (`fixtures/privacy/opacus_rdp.json`).
//!
//! The threat model is semi-honest (honest-but-curious) throughout: see `crates/privacy/README.md`
//! for what is and is not protected.

pub mod dp;
mod error;
pub mod rdp;
pub mod secagg;

pub use error::PrivacyError;
