//! The multimodal model: one encoder per enabled modality, fusion, and a classification head.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, softmax, softplus, tanh};
use burn::tensor::{Device, Int, Tensor};

use crate::NnError;
use crate::batch::Batch;
use crate::clinical::TabularEncoder;
use crate::config::{FusionKind, ModelConfig};
use crate::image::ImageEncoder;
use crate::text::TextEncoder;

/// Patterns of modalities present (subsets of the four).
pub const PATTERNS: usize = 16;

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
    /// `[batch, 4]` logit of each modality's own head (0 where the modality is absent or the
    /// model has no encoder for it); the auxiliary training loss and additive fusion use them.
    pub modality_logits: Tensor<2>,
    /// `[batch, 4]` 1 where the modality is present and the model has an encoder for it.
    pub modality_present: Tensor<2>,
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
    /// One linear head per modality: `[embed_dim] -> 1` logit.
    modality_heads: Vec<Linear>,
    /// Additive fusion: weights of the modality logits and the bias (`[4] -> 1`).
    additive: Option<Linear>,
    /// Additive fusion by pattern: row `p` holds the 4 weights and the bias used for a patient
    /// whose modalities present are the bits of `p` (bit `m` = modality `m`); replaces
    /// `additive` when set.
    patterns: Option<Param<Tensor<2>>>,
    /// Which modalities have an encoder (`[4]` of 0/1), as a constant.
    enabled: [bool; 4],
    embed_dim: usize,
}

impl MultimodalModel {
    pub fn new(config: &ModelConfig, device: &Device) -> Result<Self, NnError> {
        config.validate()?;
        // Initialisation draws from burn's process-wide generator; see [`crate::rng`]. burn
        // initialises parameters lazily, on first use, so they are materialised here, while the
        // generator is held, rather than wherever the model is first read.
        Ok(crate::rng::exclusive(|| {
            let model = Self::build(config, device);
            model.visit(&mut Materialise);
            model
        }))
    }

    fn build(config: &ModelConfig, device: &Device) -> Self {
        let m = config.modalities;
        let d = config.embed_dim;
        let head_in = match config.fusion {
            FusionKind::Concat => 4 * d + 4,
            FusionKind::GatedAttention | FusionKind::Additive => d,
        };
        Self {
            image: m.image.then(|| ImageEncoder::new(&config.image, d, device)),
            clinical: m.clinical.then(|| {
                TabularEncoder::new(
                    2 * config.clinical_features,
                    config.hidden,
                    d,
                    config.dropout,
                    config.tabular,
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
                TabularEncoder::new(
                    config.omics_genes,
                    config.hidden,
                    d,
                    config.dropout,
                    config.tabular,
                    device,
                )
            }),
            gate: (config.fusion == FusionKind::GatedAttention)
                .then(|| ModalityGate::new(d, device)),
            head_hidden: LinearConfig::new(head_in, config.hidden).init(device),
            head_dropout: DropoutConfig::new(config.dropout).init(),
            head_out: LinearConfig::new(config.hidden, 1).init(device),
            modality_heads: (0..4)
                .map(|_| LinearConfig::new(d, 1).init(device))
                .collect(),
            additive: (config.fusion == FusionKind::Additive).then(|| {
                let mut l = LinearConfig::new(4, 1).init(device);
                // Start from the plain sum of the modality logits.
                l.weight = l.weight.map(|w| w.ones_like());
                l
            }),
            patterns: (config.fusion == FusionKind::Additive && config.pattern_fusion).then(|| {
                // Like `additive`: every pattern starts from the plain sum of the logits
                // (a re-initialised model, as the randomisation check builds, must still
                // depend on its inputs).
                let row = [1.0f32, 1.0, 1.0, 1.0, 0.0];
                let flat: Vec<f32> = row.iter().copied().cycle().take(PATTERNS * 5).collect();
                Param::from_tensor(
                    Tensor::<1>::from_floats(flat.as_slice(), device).reshape([PATTERNS, 5]),
                )
            }),
            enabled: m.as_array(),
            embed_dim: d,
        }
    }

    /// Sets the weights of additive fusion by pattern of modalities present: `table[p]` =
    /// `[w_image, w_clinical, w_text, w_omics, bias]` for the patients whose modalities present
    /// are the bits of `p`, applied to the modality logits as the `[4] -> 1` layer would be.
    ///
    /// Why: with one set of weights a missing modality simply adds nothing, so a patient
    /// without a report is scored with the image weight that was fitted next to the report,
    /// too small once the image must stand alone. Weights fitted per pattern (pattern
    /// submodels, Fletcher Mercaldo and Blume 2020) give each patient the best combination of
    /// what they have; and "this modality removed", the question modality explanations ask,
    /// then gets the model's own answer without it.
    pub fn set_pattern_weights(
        &mut self,
        table: &[[f64; 5]; PATTERNS],
        device: &Device,
    ) -> Result<(), NnError> {
        if self.additive.is_none() || self.patterns.is_none() {
            return Err(NnError::Config(
                "pattern weights need additive fusion built with pattern_fusion".into(),
            ));
        }
        if table.iter().flatten().any(|v| !v.is_finite()) {
            return Err(NnError::Config("pattern weights must be finite".into()));
        }
        let flat: Vec<f32> = table.iter().flatten().map(|v| *v as f32).collect();
        self.patterns = Some(Param::from_tensor(
            Tensor::<1>::from_floats(flat.as_slice(), device).reshape([PATTERNS, 5]),
        ));
        Ok(())
    }

    /// Late fusion assembled from single-modality models (stacking).
    ///
    /// `members[m]` is a model with [`FusionKind::Additive`] fusion and modality `m` only (or
    /// `None` when that modality takes no part); its encoder and modality head are taken over,
    /// with its own logit scale and offset folded into the head, so the assembled model gives
    /// `bias + sum_m weights[m] * (logit_m(x) - centres[m])` over the modalities present, where
    /// `logit_m` is member `m`'s logit. A centre is the member's mean logit on reference
    /// patients: a missing modality then counts as average evidence, not as a logit of 0 (the
    /// same as an intercept shift otherwise), and the model's modality contributions are
    /// deviations from the average patient. `config` must be the members' common configuration
    /// with the fused modality set and additive fusion.
    pub fn assemble_late_fusion(
        config: &ModelConfig,
        members: [Option<&MultimodalModel>; 4],
        weights: [f64; 4],
        centres: [f64; 4],
        bias: f64,
        device: &Device,
    ) -> Result<Self, NnError> {
        if config.fusion != FusionKind::Additive {
            return Err(NnError::Config(
                "late fusion assembles an additive-fusion model".into(),
            ));
        }
        let mut fused = Self::new(config, device)?;
        let enabled = config.modalities.as_array();
        for (m, member) in members.iter().enumerate() {
            let Some(member) = member else {
                if enabled[m] {
                    return Err(NnError::Config(format!(
                        "no member model for the enabled modality {}",
                        crate::MODALITIES[m]
                    )));
                }
                continue;
            };
            let Some(additive) = &member.additive else {
                return Err(NnError::Config(format!(
                    "the {} member does not use additive fusion",
                    crate::MODALITIES[m]
                )));
            };
            if member.enabled != std::array::from_fn(|k| k == m) || !enabled[m] {
                return Err(NnError::Config(format!(
                    "the {} member must be a single-modality model of that modality",
                    crate::MODALITIES[m]
                )));
            }
            // The member's logit is a * head(e) + c: fold a, c and the centre into the head.
            let a: f32 = additive.weight.val().slice([m..m + 1, 0..1]).into_scalar();
            let c: f32 = additive
                .bias
                .as_ref()
                .map(|b| b.val().into_scalar())
                .unwrap_or(0.0);
            let head = &member.modality_heads[m];
            let mut folded = head.clone();
            folded.weight = burn::module::Param::from_tensor(head.weight.val() * a);
            let head_bias = head
                .bias
                .as_ref()
                .map(|b| b.val())
                .unwrap_or_else(|| Tensor::<1>::zeros([1], device));
            folded.bias = Some(burn::module::Param::from_tensor(
                head_bias * a + (c - centres[m] as f32),
            ));
            fused.modality_heads[m] = folded;
            match m {
                0 => fused.image = member.image.clone(),
                1 => fused.clinical = member.clinical.clone(),
                2 => fused.text = member.text.clone(),
                _ => fused.omics = member.omics.clone(),
            }
        }
        let w: Vec<f32> = weights.iter().map(|v| *v as f32).collect();
        let mut layer = LinearConfig::new(4, 1).init(device);
        layer.weight = burn::module::Param::from_tensor(
            Tensor::<1>::from_floats(w.as_slice(), device).reshape([4, 1]),
        );
        layer.bias = Some(burn::module::Param::from_tensor(Tensor::<1>::from_floats(
            [bias as f32],
            device,
        )));
        fused.additive = Some(layer);
        Ok(fused)
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
            (Some(enc), Some((f, after))) => {
                let conv = enc.embed_from(f, after);
                match batch
                    .lesion_features
                    .clone()
                    .and_then(|x| enc.embed_lesion(x))
                {
                    Some(lesion) => conv + lesion,
                    None => conv,
                }
            }
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
        let enabled: Vec<f32> = self
            .enabled
            .iter()
            .map(|&on| if on { 1.0 } else { 0.0 })
            .collect();
        let enabled = Tensor::<1>::from_floats(enabled.as_slice(), &device).unsqueeze_dim::<2>(0);
        let present = batch.present.clone() * enabled;
        let embeddings = [image, clinical, text, omics];
        let modality_logits: Tensor<2> = Tensor::cat(
            embeddings
                .iter()
                .zip(&self.modality_heads)
                .map(|(e, h)| h.forward(e.clone()))
                .collect(),
            1,
        ) * present.clone();
        if let Some(additive) = &self.additive {
            let logits: Tensor<1> = match &self.patterns {
                Some(table) => {
                    let bits = Tensor::<1>::from_floats([1.0, 2.0, 4.0, 8.0], &device)
                        .unsqueeze_dim::<2>(0);
                    let pattern: Tensor<1, Int> =
                        (present.clone() * bits).sum_dim(1).flatten::<1>(0, 1).int();
                    let rows = table.val().select(0, pattern); // [b, 5]
                    let weighted = modality_logits.clone() * rows.clone().narrow(1, 0, 4);
                    (weighted.sum_dim(1) + rows.narrow(1, 4, 1)).flatten(0, 1)
                }
                None => additive.forward(modality_logits.clone()).flatten(0, 1),
            };
            return ModelOutput {
                logits,
                gates: None,
                modality_logits,
                modality_present: present,
            };
        }
        let modality_present = present.clone();
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
        ModelOutput {
            logits,
            gates,
            modality_logits,
            modality_present,
        }
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

/// Auxiliary loss: the class-weighted cross-entropy of each modality's own logit, over the
/// patients that have that modality, averaged over the modalities present in the batch.
///
/// Added to the fused loss it makes every encoder predictive on its own, the remedy of Wang et
/// al. (2020, "What makes training multi-modal classification networks hard?") for a fused
/// network that fits the training set through its fastest-learning modality and leaves the
/// others under-trained.
pub fn modality_bce_with_logits(
    output: &ModelOutput,
    labels: Tensor<1>,
    pos_weight: f64,
) -> Tensor<1> {
    let z = output.modality_logits.clone(); // [b, 4]
    let present = output.modality_present.clone();
    let y: Tensor<2> = labels.unsqueeze_dim(1); // [b, 1]
    let per = softplus(z.clone(), 1.0) - y.clone() * z; // [b, 4]
    let w = (y * (pos_weight - 1.0) + 1.0) * present; // [b, 4]
    let per_modality = (per * w.clone()).sum_dim(0) / (w.sum_dim(0) + 1e-12); // [1, 4]
    let has = output
        .modality_present
        .clone()
        .sum_dim(0)
        .greater_elem(0.0)
        .float(); // [1, 4]
    let n = has.clone().sum().clamp_min(1.0);
    (per_modality * has).sum() / n
}

/// Forces burn's lazily initialised parameters to draw their values now.
struct Materialise;

impl burn::module::ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}
