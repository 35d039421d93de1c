//! The multimodal model: one encoder per enabled modality, fusion, and a classification head.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, softmax, softplus, tanh};
use burn::tensor::{Device, Tensor};

use crate::NnError;
use crate::batch::Batch;
use crate::clinical::TabularEncoder;
use crate::config::{FusionKind, ModelConfig};
use crate::image::ImageEncoder;
use crate::text::TextEncoder;

/// Gated attention over modality embeddings (Ilse et al., 2018).
#[derive(Module, Debug)]
pub struct ModalityGate {
    v: Linear,
    u: Linear,
    w: Linear,
}

impl ModalityGate {
    fn new(embed_dim: usize, device: &Device) -> Self {
        let hidden = embed_dim.max(8);
        Self {
            v: LinearConfig::new(embed_dim, hidden).init(device),
            u: LinearConfig::new(embed_dim, hidden).init(device),
            w: LinearConfig::new(hidden, 1).init(device),
        }
    }

    /// Attention weights `[batch, 4]` over the present modalities of each patient.
    fn weights(&self, stacked: Tensor<3>, present: Tensor<2>) -> Tensor<2> {
        let g = tanh(self.v.forward(stacked.clone())) * sigmoid(self.u.forward(stacked));
        let scores: Tensor<2> = self.w.forward(g).flatten(1, 2); // [b, 4]
        // Absent modalities get -1e4 before the softmax: weight 0 for every practical purpose.
        let masked = scores + (present - 1.0) * 1.0e4;
        softmax(masked, 1)
    }
}

/// What a forward pass returns.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// `[batch]` logits of the positive class.
    pub logits: Tensor<1>,
    /// `[batch, 4]` attention weight of each modality (gated fusion only).
    pub gates: Option<Tensor<2>>,
}

impl ModelOutput {
    /// Probabilities of the positive class.
    pub fn probabilities(&self) -> Tensor<1> {
        sigmoid(self.logits.clone())
    }
}

/// Encoders, fusion and head. Built from a [`ModelConfig`]; a single-modality model is this type
/// with one modality enabled, so every comparison in the report uses the same code.
#[derive(Module, Debug)]
pub struct MultimodalModel {
    image: Option<ImageEncoder>,
    clinical: Option<TabularEncoder>,
    text: Option<TextEncoder>,
    omics: Option<TabularEncoder>,
    gate: Option<ModalityGate>,
    head_hidden: Linear,
    head_dropout: Dropout,
    head_out: Linear,
    embed_dim: usize,
}

impl MultimodalModel {
    pub fn new(config: &ModelConfig, device: &Device) -> Result<Self, NnError> {
        config.validate()?;
        let m = config.modalities;
        let d = config.embed_dim;
        let head_in = match config.fusion {
            FusionKind::Concat => 4 * d + 4,
            FusionKind::GatedAttention => d,
        };
        Ok(Self {
            image: m.image.then(|| ImageEncoder::new(&config.image, d, device)),
            clinical: m.clinical.then(|| {
                TabularEncoder::new(
                    2 * config.clinical_features,
                    config.hidden,
                    d,
                    config.dropout,
                    device,
                )
            }),
            text: m.text.then(|| {
                TextEncoder::new(
                    config.text_vocab,
                    config.text_token_dim,
                    d,
                    config.dropout,
                    device,
                )
            }),
            omics: m.omics.then(|| {
                TabularEncoder::new(config.omics_genes, config.hidden, d, config.dropout, device)
            }),
            gate: (config.fusion == FusionKind::GatedAttention)
                .then(|| ModalityGate::new(d, device)),
            head_hidden: LinearConfig::new(head_in, config.hidden).init(device),
            head_dropout: DropoutConfig::new(config.dropout).init(),
            head_out: LinearConfig::new(config.hidden, 1).init(device),
            embed_dim: d,
        })
    }

    /// The image encoder, for explanation methods that need its feature maps.
    pub fn image_encoder(&self) -> Option<&ImageEncoder> {
        self.image.as_ref()
    }

    pub fn forward(&self, batch: &Batch) -> ModelOutput {
        let features = match (&self.image, &batch.image) {
            (Some(enc), Some(x)) => Some((enc.features(x.clone()), enc.block_count())),
            _ => None,
        };
        self.forward_with_image_features(batch, features)
    }

    /// Forward pass from a feature map of the image encoder, given with the number of residual
    /// blocks already applied (Grad-CAM differentiates with respect to it); the batch's own
    /// image is then not used.
    pub fn forward_with_image_features(
        &self,
        batch: &Batch,
        image_features: Option<(Tensor<5>, usize)>,
    ) -> ModelOutput {
        let b = batch.len();
        let device = batch.present.device();
        let zeros = || Tensor::<2>::zeros([b, self.embed_dim], &device);
        let image = match (&self.image, image_features) {
            (Some(enc), Some((f, after))) => enc.embed_from(f, after),
            _ => zeros(),
        };
        let clinical = match (&self.clinical, &batch.clinical) {
            (Some(enc), Some(x)) => enc.forward(x.clone()),
            _ => zeros(),
        };
        let text = match (&self.text, &batch.tokens) {
            (Some(enc), Some((ids, mask))) => enc.forward(ids.clone(), mask.clone()),
            _ => zeros(),
        };
        let omics = match (&self.omics, &batch.omics) {
            (Some(enc), Some(x)) => enc.forward(x.clone()),
            _ => zeros(),
        };
        let present = batch.present.clone();
        let embeddings = [image, clinical, text, omics];
        let (fused, gates) = match &self.gate {
            None => {
                let mut parts: Vec<Tensor<2>> = embeddings
                    .into_iter()
                    .enumerate()
                    .map(|(k, e)| e * present.clone().narrow(1, k, 1))
                    .collect();
                parts.push(present);
                (Tensor::cat(parts, 1), None)
            }
            Some(gate) => {
                let stacked: Tensor<3> = Tensor::stack(embeddings.to_vec(), 1); // [b, 4, d]
                let w = gate.weights(stacked.clone(), present);
                let fused: Tensor<2> = (stacked * w.clone().unsqueeze_dim(2))
                    .sum_dim(1)
                    .flatten(1, 2);
                (fused, Some(w))
            }
        };
        let h = self
            .head_dropout
            .forward(relu(self.head_hidden.forward(fused)));
        let logits: Tensor<1> = self.head_out.forward(h).flatten(0, 1);
        ModelOutput { logits, gates }
    }
}

/// Mean binary cross-entropy on logits, with the positive class weighted by `pos_weight`
/// (class weighting for imbalanced cohorts). Computed as `softplus(z) - y z`, which is stable
/// for large |z|.
pub fn weighted_bce_with_logits(
    logits: Tensor<1>,
    labels: Tensor<1>,
    pos_weight: f64,
) -> Tensor<1> {
    let per = softplus(logits.clone(), 1.0) - labels.clone() * logits;
    let w = labels * (pos_weight - 1.0) + 1.0;
    let total = w.clone().sum();
    (per * w).sum() / total
}
