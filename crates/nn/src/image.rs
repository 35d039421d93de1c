//! 3D CNN image encoder: a stem convolution and residual blocks that halve the grid, then global
//! average pooling. The normalisation inside the blocks is configurable ([`ImageNorm`]).

use burn::module::Module;
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::norm::{Normalization, NormalizationConfig};
use burn::nn::{BatchNormConfig, GroupNormConfig, Linear, LinearConfig, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::config::{ImageEncoderConfig, ImageNorm};

fn norm(kind: ImageNorm, channels: usize, device: &Device) -> Normalization {
    let config: NormalizationConfig = match kind {
        ImageNorm::Batch => BatchNormConfig::new(channels).into(),
        // Groups of 4 channels (or one group for tiny layers): stable for batch sizes of 1.
        ImageNorm::Group => GroupNormConfig::new((channels / 4).max(1), channels).into(),
        ImageNorm::None => NormalizationConfig::Identity,
    };
    config.init(device)
}

fn conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &Device) -> Conv3d {
    let pad = kernel / 2;
    Conv3dConfig::new([c_in, c_out], [kernel; 3])
        .with_stride([stride; 3])
        .with_padding(PaddingConfig3d::Explicit(pad, pad, pad))
        .with_bias(false)
        .init(device)
}

/// conv3x3(stride 2) - norm - relu - conv3x3 - norm, plus a strided 1x1 shortcut, then relu.
#[derive(Module, Debug)]
pub struct ResBlock3d {
    conv_a: Conv3d,
    norm_a: Normalization,
    conv_b: Conv3d,
    norm_b: Normalization,
    shortcut: Conv3d,
    norm_s: Normalization,
}

impl ResBlock3d {
    pub fn new(c_in: usize, c_out: usize, kind: ImageNorm, device: &Device) -> Self {
        Self {
            conv_a: conv(c_in, c_out, 3, 2, device),
            norm_a: norm(kind, c_out, device),
            conv_b: conv(c_out, c_out, 3, 1, device),
            norm_b: norm(kind, c_out, device),
            shortcut: conv(c_in, c_out, 1, 2, device),
            norm_s: norm(kind, c_out, device),
        }
    }

    /// The layers, for [`crate::local::LocalEvaluator`].
    pub(crate) fn parts(
        &self,
    ) -> (
        &Conv3d,
        &Normalization,
        &Conv3d,
        &Normalization,
        &Conv3d,
        &Normalization,
    ) {
        (
            &self.conv_a,
            &self.norm_a,
            &self.conv_b,
            &self.norm_b,
            &self.shortcut,
            &self.norm_s,
        )
    }

    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let y = relu(self.norm_a.forward(self.conv_a.forward(x.clone())));
        let y = self.norm_b.forward(self.conv_b.forward(y));
        let s = self.norm_s.forward(self.shortcut.forward(x));
        relu(y + s)
    }
}

/// The image encoder. [`ImageEncoder::features`] exposes the last convolutional feature map so
/// Grad-CAM can differentiate with respect to it.
///
/// The stem has a bias and no normalisation: a normalisation layer straight after a bias-free
/// convolution of the raw crop would make the network blind to absolute intensity (a contrast
/// enhancement of 40 versus 120 HU) and make every attribution path from a dark baseline jump
/// at its start.
#[derive(Module, Debug)]
pub struct ImageEncoder {
    stem: Conv3d,
    blocks: Vec<ResBlock3d>,
    project: Linear,
    /// Lesion radiomic features -> embedding, added to the pooled convolutional path.
    lesion: Option<Linear>,
}

impl ImageEncoder {
    pub fn new(config: &ImageEncoderConfig, embed_dim: usize, device: &Device) -> Self {
        let mut blocks = Vec::new();
        let mut c = config.stem_channels;
        for &out in &config.block_channels {
            blocks.push(ResBlock3d::new(c, out, config.norm, device));
            c = out;
        }
        Self {
            stem: Conv3dConfig::new([config.in_channels, config.stem_channels], [3; 3])
                .with_stride([config.stem_stride; 3])
                .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
                .init(device),
            blocks,
            project: LinearConfig::new(c, embed_dim).init(device),
            lesion: (config.lesion_features > 0)
                .then(|| LinearConfig::new(config.lesion_features, embed_dim).init(device)),
        }
    }

    /// Last convolutional feature map, `[batch, channels, d, h, w]`, for input
    /// `[batch, in_channels, D, H, W]`.
    pub fn features(&self, x: Tensor<5>) -> Tensor<5> {
        self.features_after(x, self.blocks.len())
    }

    /// The stem and the blocks, for [`crate::local::LocalEvaluator`].
    pub(crate) fn local_parts(&self) -> (&Conv3d, &[ResBlock3d]) {
        (&self.stem, &self.blocks)
    }

    /// The stem convolution before its relu: affine in the input. Integrated Gradients uses
    /// this to evaluate the stem once for the whole path (the stem's output along a straight
    /// path is the same straight line between the stem's outputs at its ends), and
    /// `features_after(x, 0)` is `relu(stem_linear(x))`.
    pub fn stem_linear(&self, x: Tensor<5>) -> Tensor<5> {
        self.stem.forward(x)
    }

    /// Number of residual blocks.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Feature map after the stem and the first `blocks` residual blocks (0: the stem only).
    /// Earlier maps are finer: Grad-CAM there localises better.
    pub fn features_after(&self, x: Tensor<5>, blocks: usize) -> Tensor<5> {
        let mut y = relu(self.stem_linear(x));
        for block in self.blocks.iter().take(blocks) {
            y = block.forward(y);
        }
        y
    }

    /// Embedding from a feature map: global average pooling then a linear projection.
    pub fn embed_features(&self, features: Tensor<5>) -> Tensor<2> {
        self.embed_from(features, self.blocks.len())
    }

    /// Embedding from the feature map after `blocks` blocks: the remaining blocks, global
    /// average pooling, the projection.
    pub fn embed_from(&self, features: Tensor<5>, blocks: usize) -> Tensor<2> {
        let mut y = features;
        for block in self.blocks.iter().skip(blocks) {
            y = block.forward(y);
        }
        let pooled: Tensor<2> = y.mean_dims(&[2, 3, 4]).flatten(1, 4);
        // Linear embedding (see TabularEncoder::forward).
        self.project.forward(pooled)
    }

    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        self.embed_features(self.features(x))
    }

    /// The lesion-radiomics part of the embedding (`None` when the encoder takes none): it is
    /// added to the convolutional embedding, so the image modality's logit is the sum of a
    /// convolutional and a linear radiomic term.
    pub fn embed_lesion(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        self.lesion.as_ref().map(|l| l.forward(features))
    }
}
