//! Training and evaluation of oncolens models on a cohort folder.
//!
//! The rules that keep numbers honest live here: every statistic a model uses (standardisation,
//! vocabulary, intensity window, gene scaling) is fitted on the training patients of the split
//! at hand only; splits are by patient; validation patients choose the epoch, the temperature and
//! the threshold; test patients are touched once.

pub mod cases;
pub mod error;
pub mod evaluate;
pub mod model_dir;
pub mod prep;
pub mod prep_summary;
pub mod split;
pub mod stack;
pub mod trainer;

pub use cases::{ImageInput, PreparedCase, prepare_case, prepare_cohort};
pub use error::TrainError;
pub use model_dir::SavedModel;
pub use prep::Preprocessor;
pub use prep_summary::PrepSummary;
pub use trainer::{
    LocalRound, LocalUpdate, TrainConfig, TrainedModel, model_config, train_local_round,
    train_model,
};
