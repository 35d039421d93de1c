//! Multimodal neural models of oncolens, written once against burn's `Device`.
//!
//! Model code never names a backend: the default build runs on burn's pure-Rust `flex` CPU
//! backend, and the `cuda` feature adds `Device::cuda(0)` with no change here. Each modality has
//! its own small encoder producing an embedding of the same width; [`MultimodalModel`] fuses the
//! embeddings by concatenation or by gated attention, and both paths accept any subset of
//! modalities per patient, so one model serves patients with a missing scan, record, report or
//! expression profile, and a single-modality model is the same type with one encoder enabled.

pub mod batch;
pub mod clinical;
pub mod config;
pub mod fusion;
pub mod image;
pub mod local;
pub mod params;
pub mod rng;
pub mod store;
pub mod text;
pub mod tokenizer;

pub use batch::Batch;
pub use burn::tensor::Device;
pub use config::{
    FusionKind, ImageEncoderConfig, ImageNorm, ModalitySet, ModelConfig, TabularKind,
};
pub use fusion::{ModelOutput, MultimodalModel};
pub use tokenizer::Tokenizer;

/// The order of modalities in every mask, gate and share vector of this crate.
pub const MODALITIES: [&str; 4] = ["image", "clinical", "text", "omics"];

/// Index of each modality in [`MODALITIES`].
pub mod modality {
    pub const IMAGE: usize = 0;
    pub const CLINICAL: usize = 1;
    pub const TEXT: usize = 2;
    pub const OMICS: usize = 3;
}

/// The device the default build trains on: burn's pure-Rust CPU backend (`flex`), or CUDA when
/// the crate is built with `--features cuda` and `ONCOLENS_DEVICE=cuda` is set.
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    if std::env::var("ONCOLENS_DEVICE").is_ok_and(|v| v == "cuda") {
        return Device::cuda(0);
    }
    Device::flex()
}

/// Errors of model construction, batching and storage.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    #[error("invalid model configuration: {0}")]
    Config(String),
    #[error("batch does not fit the model: {0}")]
    Batch(String),
    #[error("cannot save or load weights at {path}: {message}")]
    Store {
        path: std::path::PathBuf,
        message: String,
    },
}
