//! One entry point for every attribution method, by name.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use oncolens_nn::batch::Sample;
use oncolens_nn::{ModelConfig, MultimodalModel};
use serde::{Deserialize, Serialize};

use crate::rise::RiseSettings;
use crate::{ExplainError, IgMethod, ImageAttribution};

/// An attribution method, named as in the command line and the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    #[serde(rename = "saliency")]
    Saliency,
    #[serde(rename = "input-x-gradient")]
    InputXGradient,
    #[serde(rename = "smoothgrad")]
    SmoothGrad,
    #[serde(rename = "integrated-gradients")]
    IntegratedGradients,
    #[serde(rename = "grad-cam")]
    GradCam,
    #[serde(rename = "grad-cam-pp")]
    GradCamPp,
    #[serde(rename = "occlusion")]
    Occlusion,
    #[serde(rename = "rise")]
    Rise,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Saliency,
        Method::InputXGradient,
        Method::SmoothGrad,
        Method::IntegratedGradients,
        Method::GradCam,
        Method::GradCamPp,
        Method::Occlusion,
        Method::Rise,
    ];

    /// The method's name (also [`ImageAttribution::method`]).
    pub fn name(self) -> &'static str {
        match self {
            Method::Saliency => "saliency",
            Method::InputXGradient => "input-x-gradient",
            Method::SmoothGrad => "smoothgrad",
            Method::IntegratedGradients => "integrated-gradients",
            Method::GradCam => "grad-cam",
            Method::GradCamPp => "grad-cam-pp",
            Method::Occlusion => "occlusion",
            Method::Rise => "rise",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = ExplainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
                ExplainError::Setting(format!(
                    "unknown attribution method {s:?}; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// Settings of every method; each method reads its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodOptions {
    /// Image value in model input units that stands for "no signal": the Integrated Gradients
    /// baseline, the occluding value, RISE's masked value. 0 by default (the demo passes
    /// `Preprocessor::WINDOW_BOTTOM`, the bottom of the intensity window).
    pub baseline: f32,
    /// Integrated Gradients: points of the path integral (50) and the rule (Gauss-Legendre,
    /// Captum's default).
    pub ig_steps: usize,
    pub ig_method: IgMethod,
    /// SmoothGrad: noisy samples (25) and noise standard deviation as a fraction of the scan's
    /// value range (0.15).
    pub smoothgrad_samples: usize,
    pub smoothgrad_stdev: f32,
    /// Grad-CAM and Grad-CAM++: the feature map after this many residual blocks (`Some(1)`, as
    /// the demo: 8^3 for its 32^3 crop; `None` is the last block).
    pub cam_block: Option<usize>,
    /// Occlusion: cube edge (4) and stride (2) in voxels.
    pub occlusion_window: usize,
    pub occlusion_stride: usize,
    /// RISE: number of masks (500), cell edge in voxels (4), probability of keeping a cell (0.5).
    pub rise_masks: usize,
    pub rise_cell: usize,
    pub rise_p: f64,
    /// Seed of SmoothGrad's noise and RISE's masks.
    pub seed: u64,
    /// Images per forward pass for the perturbation and sampling methods (16).
    pub batch_size: usize,
}

impl Default for MethodOptions {
    fn default() -> Self {
        Self {
            baseline: 0.0,
            ig_steps: 50,
            ig_method: IgMethod::GaussLegendre,
            smoothgrad_samples: 25,
            smoothgrad_stdev: 0.15,
            cam_block: Some(1),
            occlusion_window: 4,
            occlusion_stride: 2,
            rise_masks: 500,
            rise_cell: 4,
            rise_p: 0.5,
            seed: 0,
            batch_size: 16,
        }
    }
}

/// Runs `method` on the sample's image input with `options`.
pub fn attribute(
    method: Method,
    options: &MethodOptions,
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let o = options;
    match method {
        Method::Saliency => crate::saliency(model, config, sample, side, device),
        Method::InputXGradient => crate::input_x_gradient(model, config, sample, side, device),
        Method::SmoothGrad => crate::smoothgrad(
            model,
            config,
            sample,
            side,
            o.smoothgrad_samples,
            o.smoothgrad_stdev,
            o.seed,
            o.batch_size,
            device,
        ),
        Method::IntegratedGradients => crate::integrated_gradients(
            model,
            config,
            sample,
            side,
            o.baseline,
            o.ig_steps,
            o.ig_method,
            device,
        ),
        Method::GradCam => crate::grad_cam(model, config, sample, side, o.cam_block, device),
        Method::GradCamPp => crate::grad_cam_pp(model, config, sample, side, o.cam_block, device),
        Method::Occlusion => crate::occlusion(
            model,
            config,
            sample,
            side,
            o.occlusion_window,
            o.occlusion_stride,
            o.baseline,
            o.batch_size,
            device,
        ),
        Method::Rise => crate::rise(
            model,
            config,
            sample,
            side,
            &RiseSettings {
                masks: o.rise_masks,
                cell: o.rise_cell,
                p: o.rise_p,
                baseline: o.baseline,
                seed: o.seed,
                batch: o.batch_size,
            },
            device,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.to_string().parse::<Method>().ok(), Some(m));
            let json = serde_json::to_string(&m).ok();
            assert_eq!(json, Some(format!("\"{m}\"")));
        }
        assert!("gradcam".parse::<Method>().is_err());
    }
}
