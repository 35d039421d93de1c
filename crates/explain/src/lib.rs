//! Explanations a clinician can check against the scan.
//!
//! Attributions are computed on the model's input grid (the lesion-centred crop) and then
//! resampled onto the patient's own image grid, so they can be overlaid on the CT in any viewer
//! and scored against the lesion mask.
//!
//! Methods (all on the scan channel of the image input; a lesion-mask channel and the other
//! modalities stay at the patient's values; the model is used in inference mode): saliency,
//! gradient x input, SmoothGrad, Integrated Gradients, Grad-CAM and Grad-CAM++ at any block,
//! occlusion with a sliding 3D window, and RISE, by name through [`attribute`]. The sampling and
//! perturbation methods evaluate many images per forward pass; burn's CPU backend spreads each
//! pass over rayon's threads and the perturbed images are built in parallel.
//! [`faithfulness`] scores any of them: deletion and insertion AUC, and the model-randomisation
//! sanity check.

mod common;
pub mod faithfulness;
pub mod gradcam;
pub mod gradient;
pub mod ig;
pub mod map;
pub mod method;
pub mod occlusion;
pub mod quadrature;
pub mod rise;

pub use faithfulness::{
    Faithfulness, Randomization, deletion_insertion, randomization_check, randomization_rank_corr,
    spearman,
};
pub use gradcam::{grad_cam, grad_cam_pp};
pub use gradient::{input_x_gradient, saliency, smoothgrad};
pub use ig::{IgMethod, integrated_gradients};
pub use map::{positive_share_in_mask, to_image_grid};
pub use method::{Method, MethodOptions, attribute};
pub use occlusion::occlusion;
pub use rise::{RiseSettings, rise};

/// An attribution over the image input (`side^3` values, z-y-x order, on the crop grid).
#[derive(Debug, Clone)]
pub struct ImageAttribution {
    pub method: &'static str,
    pub side: usize,
    pub values: Vec<f32>,
    /// The model's logit for the explained input.
    pub logit: f64,
    /// Integrated Gradients only: sum of attributions minus (f(input) - f(baseline)); close to
    /// zero when the path integral is well approximated.
    pub convergence_delta: Option<f64>,
}

/// Errors of the explanation methods.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("the model has no image encoder, so there is nothing to attribute on the image")]
    NoImageEncoder,
    #[error("the case has no image input")]
    NoImage,
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error(transparent)]
    Nn(#[from] oncolens_nn::NnError),
    #[error(transparent)]
    Transform(#[from] oncolens_transforms::TransformError),
    #[error("tensor data: {0}")]
    Data(String),
}

pub(crate) fn to_vec(t: burn::tensor::TensorData) -> Result<Vec<f32>, ExplainError> {
    t.try_to_vec::<f32>()
        .map_err(|e| ExplainError::Data(format!("{e:?}")))
}
