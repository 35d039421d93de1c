//! Feature maps of the image encoder and gradients of the logit with respect to them.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Batch, ModelConfig, MultimodalModel};
use serde::{Deserialize, Serialize};

use crate::{ConceptError, to_vec};

/// Samples per forward pass.
const CHUNK: usize = 8;

/// Which class's logit is explained: the model's logit (positive class, malignant) or its
/// negation (the negative class of a binary model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetClass {
    #[default]
    Positive,
    Negative,
}

impl TargetClass {
    pub fn sign(self) -> f32 {
        match self {
            TargetClass::Positive => 1.0,
            TargetClass::Negative => -1.0,
        }
    }
}

/// How a `[channels, d, h, w]` feature map becomes the vector a CAV lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationPooling {
    /// The whole map, flattened (Kim et al. 2018). Keeps *where* in the lesion-centred crop a
    /// pattern occurs (a margin lies at the rim, necrosis at the centre), but the vector is long
    /// (`channels × voxels`) next to tens of examples, so the CAV leans on the L2 penalty.
    #[default]
    Flatten,
    /// The spatial mean of each channel (`channels` values). Translation-invariant and short, so
    /// the CAV is estimated with much less variance from few examples; the directional
    /// derivative is then the one along a uniform shift of each channel over the whole map.
    /// Loses where a pattern is.
    SpatialMean,
}

impl ActivationPooling {
    /// Pools one map (`dims = [channels, d, h, w]`). For gradients the same pooling is right:
    /// the derivative along a uniform per-channel shift is the sum (here the mean, a positive
    /// multiple) of the channel's gradient.
    pub fn pool(self, map: &[f32], dims: [usize; 4]) -> Vec<f64> {
        match self {
            ActivationPooling::Flatten => map.iter().map(|&v| f64::from(v)).collect(),
            ActivationPooling::SpatialMean => {
                let voxels = dims[1] * dims[2] * dims[3];
                map.chunks(voxels.max(1))
                    .map(|c| c.iter().map(|&v| f64::from(v)).sum::<f64>() / voxels as f64)
                    .collect()
            }
        }
    }
}

/// Per-sample feature maps (or gradients) of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMaps {
    /// `[channels, d, h, w]` of each map.
    pub dims: [usize; 4],
    /// One `channels · d · h · w` vector per sample (channel, z, y, x order).
    pub values: Vec<Vec<f32>>,
}

impl FeatureMaps {
    /// Every map pooled as `pooling` says.
    pub fn pooled(&self, pooling: ActivationPooling) -> Vec<Vec<f64>> {
        self.values
            .iter()
            .map(|m| pooling.pool(m, self.dims))
            .collect()
    }
}

/// Resolves `after_block` (`None`: the last block) against the encoder.
pub(crate) fn resolve_block(
    model: &MultimodalModel,
    after_block: Option<usize>,
) -> Result<usize, ConceptError> {
    let encoder = model.image_encoder().ok_or(ConceptError::NoImageEncoder)?;
    let after = after_block.unwrap_or(encoder.block_count());
    if after > encoder.block_count() {
        return Err(ConceptError::Setting(format!(
            "features after block {after}: the encoder has {} blocks",
            encoder.block_count()
        )));
    }
    Ok(after)
}

fn check_images(samples: &[Sample], offset: usize) -> Result<(), ConceptError> {
    match samples.iter().position(|s| s.image.is_none()) {
        Some(i) => Err(ConceptError::NoImage(offset + i)),
        None => Ok(()),
    }
}

fn split_maps(data: Vec<f32>, dims: [usize; 5]) -> (Vec<Vec<f32>>, [usize; 4]) {
    let [_, c, d, h, w] = dims;
    let per = c * d * h * w;
    (
        data.chunks(per.max(1)).map(<[f32]>::to_vec).collect(),
        [c, d, h, w],
    )
}

/// The image encoder's feature map after `after_block` residual blocks (`None`: the last; 0:
/// the stem only) for each sample, in inference mode.
pub fn activations(
    model: &MultimodalModel,
    config: &ModelConfig,
    samples: &[Sample],
    side: usize,
    after_block: Option<usize>,
    device: &Device,
) -> Result<FeatureMaps, ConceptError> {
    let model = &model.valid();
    let after = resolve_block(model, after_block)?;
    let encoder = model.image_encoder().ok_or(ConceptError::NoImageEncoder)?;
    let mut values = Vec::with_capacity(samples.len());
    let mut dims = [0; 4];
    for (k, chunk) in samples.chunks(CHUNK).enumerate() {
        check_images(chunk, k * CHUNK)?;
        let refs: Vec<&Sample> = chunk.iter().collect();
        let batch = Batch::collate(&refs, config, side, device)?;
        let image = batch.image.ok_or(ConceptError::NoImageEncoder)?;
        let f = encoder.features_after(image, after);
        let shape = f.dims();
        let (maps, d) = split_maps(to_vec(f.into_data())?, shape);
        dims = d;
        values.extend(maps);
    }
    Ok(FeatureMaps { dims, values })
}

/// Gradients of the target class's logit with respect to the feature map after `after_block`
/// blocks, one per sample (the other modalities at the sample's values), and the logits
/// (of the model, not sign-adjusted).
pub fn logit_gradients(
    model: &MultimodalModel,
    config: &ModelConfig,
    samples: &[Sample],
    side: usize,
    after_block: Option<usize>,
    class: TargetClass,
    device: &Device,
) -> Result<(FeatureMaps, Vec<f64>), ConceptError> {
    let model = &model.valid();
    let after = resolve_block(model, after_block)?;
    let encoder = model.image_encoder().ok_or(ConceptError::NoImageEncoder)?;
    let ad = device.clone().autodiff();
    // Gradients with respect to the input (or an activation) only: the parameters need none.
    let tracked = model.valid().to_device(&ad).no_grad();
    let mut values = Vec::with_capacity(samples.len());
    let mut logits = Vec::with_capacity(samples.len());
    let mut dims = [0; 4];
    for (k, chunk) in samples.chunks(CHUNK).enumerate() {
        check_images(chunk, k * CHUNK)?;
        let refs: Vec<&Sample> = chunk.iter().collect();
        let batch = Batch::collate(&refs, config, side, device)?;
        let image = batch.image.ok_or(ConceptError::NoImageEncoder)?;
        let features = encoder.features_after(image, after);
        let shape = features.dims();
        let batch_ad = Batch::collate(&refs, config, side, &ad)?;
        let a = Tensor::<5>::from_data(features.into_data(), &ad).require_grad();
        let out = tracked.forward_with_image_features(&batch_ad, Some((a.clone(), after)));
        logits.extend(
            to_vec(out.logits.clone().into_data())?
                .into_iter()
                .map(f64::from),
        );
        // Samples do not interact in inference mode, so the gradient of the sum is each
        // sample's own gradient.
        let grads = (out.logits * class.sign()).sum().backward();
        let g = a
            .grad(&grads)
            .ok_or_else(|| ConceptError::Data("no gradient reached the feature map".into()))?;
        let (maps, d) = split_maps(to_vec(g.into_data())?, shape);
        dims = d;
        values.extend(maps);
    }
    Ok((FeatureMaps { dims, values }, logits))
}
