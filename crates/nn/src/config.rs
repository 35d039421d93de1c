//! Serializable model configuration; saved beside the weights so a model folder is
//! self-describing.

use serde::{Deserialize, Serialize};

use crate::NnError;

/// Which modalities a model has encoders for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalitySet {
    pub image: bool,
    pub clinical: bool,
    pub text: bool,
    pub omics: bool,
}

impl ModalitySet {
    pub const ALL: Self = Self {
        image: true,
        clinical: true,
        text: true,
        omics: true,
    };

    /// Only the modality with index `i` in [`crate::MODALITIES`].
    pub fn only(i: usize) -> Self {
        Self {
            image: i == 0,
            clinical: i == 1,
            text: i == 2,
            omics: i == 3,
        }
    }

    pub fn as_array(&self) -> [bool; 4] {
        [self.image, self.clinical, self.text, self.omics]
    }

    pub fn count(&self) -> usize {
        self.as_array().iter().filter(|b| **b).count()
    }

    /// Names of the enabled modalities, in [`crate::MODALITIES`] order.
    pub fn names(&self) -> Vec<&'static str> {
        crate::MODALITIES
            .iter()
            .zip(self.as_array())
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// How modality embeddings are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionKind {
    /// Concatenate the embeddings (zeros for a missing modality) and the presence mask.
    Concat,
    /// Attention-based multiple-instance pooling with a gated score per modality (Ilse et al.
    /// 2018); the softmax runs over the modalities present for that patient only, and the weights
    /// are reported as a first answer to "which modality drove this prediction".
    GatedAttention,
    /// Late fusion: each modality has its own logit (a linear head on its embedding) and the
    /// fused logit is a learned weighted sum of the logits of the modalities present, plus a
    /// bias. A missing modality adds nothing. It mirrors an additive log-odds model, cannot let
    /// one modality's encoder lean on another's (each logit must stand alone), and each
    /// modality's contribution to a prediction is read off directly.
    Additive,
}

/// The clinical and omics encoders' form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabularKind {
    /// Two layers with a ReLU between them: can learn thresholds and interactions. The form of
    /// models saved before the choice existed.
    #[default]
    Mlp,
    /// The same two layers without the ReLU (dropout still acts on the hidden units): the
    /// modality's logit is linear in the standardised values, a logistic regression.
    ///
    /// Why it is the default for training: with the hundred-odd training patients of a
    /// typical cohort the perceptron fits the distractor columns (measurements with no effect)
    /// and, for expression profiles, site batch effects. On the demo cohort (seed 7) the
    /// linear form raised the clinical member's out-of-fold AUC from 0.66 to 0.72 and the omics
    /// member's pooled out-of-site AUC from 0.44 to 0.63. A user with the data to learn
    /// non-linear effects chooses `mlp`.
    Linear,
}

/// Normalisation inside the image encoder's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageNorm {
    /// Batch statistics (running averages at inference).
    Batch,
    /// Group normalisation (groups of 4 channels): independent of the batch, for batch size 1
    /// or federated training where sites must not share batch statistics.
    Group,
    /// No normalisation: the default. Per-sample normalisation (group or instance norm)
    /// rescales each crop's feature maps and so hides how large the lesion is, much of the
    /// signal for renal masses; batch statistics are polluted by the all-zero images of
    /// patients whose scan is missing or dropped out during training. The network is shallow
    /// and residual, and trains without normalisation.
    #[default]
    None,
}

/// A 3D CNN with residual downsampling blocks for CT crops (or whole volumes: the global pooling
/// accepts any input size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEncoderConfig {
    /// Input channels: 1 (the CT crop) or 2 (the CT crop and the lesion mask resampled onto it).
    #[serde(default = "one")]
    pub in_channels: usize,
    /// Channels of the stem convolution.
    pub stem_channels: usize,
    #[serde(default)]
    pub norm: ImageNorm,
    /// Stride of the stem convolution: 2 halves the grid before the first block, which makes
    /// the network about eight times cheaper at the cost of the finest texture.
    pub stem_stride: usize,
    /// Output channels of each residual block; each block halves the spatial size.
    pub block_channels: Vec<usize>,
    /// Number of radiomic features of the lesion (standardised) that enter the image embedding
    /// beside the convolutional path through a linear map; 0: none. A CNN trained on a hundred
    /// patients reads size, shape and enhancement less reliably than the mesh volume,
    /// sphericity and intensity statistics of the segmented lesion, which are exact readings of
    /// them.
    #[serde(default)]
    pub lesion_features: usize,
}

fn one() -> usize {
    1
}

impl Default for ImageEncoderConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            stem_channels: 8,
            norm: ImageNorm::None,
            stem_stride: 1,
            block_channels: vec![16, 32, 32],
            lesion_features: 0,
        }
    }
}

/// Everything needed to rebuild a model before loading its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub modalities: ModalitySet,
    pub fusion: FusionKind,
    /// Width of every modality embedding.
    pub embed_dim: usize,
    pub image: ImageEncoderConfig,
    /// Number of clinical features (each has a value and a missing indicator as input).
    pub clinical_features: usize,
    /// Vocabulary size of the report tokenizer (including padding and unknown tokens).
    pub text_vocab: usize,
    /// Width of the token embeddings.
    pub text_token_dim: usize,
    /// Number of genes in the expression profile.
    pub omics_genes: usize,
    /// Width of the hidden layer of the clinical and omics encoders.
    pub hidden: usize,
    pub dropout: f64,
    /// Form of the clinical and omics encoders (models saved before it existed: `mlp`).
    #[serde(default)]
    pub tabular: TabularKind,
    /// Additive fusion with one set of weights and bias per pattern of modalities present
    /// (late fusion by pattern submodels, see
    /// [`crate::MultimodalModel::set_pattern_weights`]); `false`: one set for every patient.
    #[serde(default)]
    pub pattern_fusion: bool,
}

impl ModelConfig {
    /// Checks the sizes an enabled encoder needs.
    pub fn validate(&self) -> Result<(), NnError> {
        if self.modalities.count() == 0 {
            return Err(NnError::Config("no modality enabled".into()));
        }
        if self.embed_dim == 0 || self.hidden == 0 {
            return Err(NnError::Config(
                "embed_dim and hidden must be positive".into(),
            ));
        }
        if self.modalities.clinical && self.clinical_features == 0 {
            return Err(NnError::Config(
                "clinical encoder with zero features".into(),
            ));
        }
        if self.modalities.text && self.text_vocab < 3 {
            return Err(NnError::Config("text encoder needs a vocabulary".into()));
        }
        if self.modalities.omics && self.omics_genes == 0 {
            return Err(NnError::Config("omics encoder with zero genes".into()));
        }
        if self.modalities.image && !(1..=2).contains(&self.image.in_channels) {
            return Err(NnError::Config("image input has 1 or 2 channels".into()));
        }
        if self.modalities.image && !(1..=2).contains(&self.image.stem_stride) {
            return Err(NnError::Config("image stem stride must be 1 or 2".into()));
        }
        if self.modalities.image && self.image.block_channels.is_empty() {
            return Err(NnError::Config(
                "image encoder needs at least one block".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(NnError::Config(format!(
                "dropout {} is not in [0, 1)",
                self.dropout
            )));
        }
        Ok(())
    }
}
