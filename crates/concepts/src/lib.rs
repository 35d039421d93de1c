//! Filter visualisation and concept-based explanations for the image encoder of an oncolens
//! model.
//!
//! - [`actmax`]: activation maximisation (Erhan et al. 2009; Yosinski et al. 2015; Olah et al.
//!   2017): gradient ascent on the CT channel of the input towards a high activation of a chosen
//!   channel of the image encoder (or of the model's logit), with L2 and 3D total-variation
//!   penalties, jitter and periodic blurring as regularisers.
//! - [`tcav`]: Testing with Concept Activation Vectors (Kim et al. 2018): a linear direction in a
//!   feature map that separates concept examples from random ones, how often the logit increases
//!   along it, and whether that is more than random directions give (two-sided t-test).
//! - [`cav`]: the L2-regularised logistic regression that finds a concept activation vector.
//! - [`features`]: feature maps and logit gradients of a [`oncolens_nn::MultimodalModel`].
//! - [`stats`]: Student's t distribution and the two-sample t-tests (equal to scipy).
//! - [`cohort`]: clinician-style concepts from a synthetic cohort's `ground_truth.csv`, and
//!   concept / random example sets.
//!
//! Only the first image channel (the CT crop) is ever optimised or perturbed; further channels
//! (the lesion mask) and the other modalities stay at the values the caller gives.

pub mod actmax;
pub mod cav;
pub mod cohort;
pub mod features;
pub mod stats;
pub mod tcav;

pub use actmax::{
    ActmaxOptions, ActmaxResult, ActmaxStart, ActmaxTarget, activation_maximisation,
    total_variation,
};
pub use cav::{Cav, LogisticRegression, fit_cav};
pub use cohort::{
    ConceptSampling, GroundTruthRow, RandomSets, build_concept, build_random_sets,
    read_ground_truth, top_quantile_flags,
};
pub use features::{ActivationPooling, FeatureMaps, TargetClass, activations, logit_gradients};
pub use stats::{TTest, student_t_cdf, ttest_ind, ttest_welch};
pub use tcav::{Concept, TcavOptions, TcavReport, TcavResult, tcav, tcav_from_vectors};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ConceptError {
    #[error("the model has no image encoder")]
    NoImageEncoder,
    #[error("sample {0} has no image input")]
    NoImage(usize),
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error(transparent)]
    Nn(#[from] oncolens_nn::NnError),
    #[error("tensor data: {0}")]
    Data(String),
    #[error("cannot read {path}: {message}")]
    File {
        path: std::path::PathBuf,
        message: String,
    },
}

pub(crate) fn to_vec(t: burn::tensor::TensorData) -> Result<Vec<f32>, ConceptError> {
    t.try_to_vec::<f32>()
        .map_err(|e| ConceptError::Data(format!("{e:?}")))
}
