//! Shared plumbing of the attribution methods: checking the input, and batched forward passes
//! and gradients over many variants of the scan channel (the lesion-mask channel, when the model
//! has one, stays at the patient's values).

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Batch, ModelConfig, MultimodalModel};
use rayon::prelude::*;

use crate::{ExplainError, to_vec};

/// The image input of one sample, split into the attributed scan channel and the fixed rest.
pub(crate) struct ImageInput<'a> {
    pub scan: &'a [f32],
    pub fixed: &'a [f32],
    /// Voxels per channel (`side^3`).
    pub n: usize,
    pub channels: usize,
    pub side: usize,
}

/// Checks that the sample has an image of the right size and the model an image encoder.
pub(crate) fn image_input<'a>(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &'a Sample,
    side: usize,
) -> Result<ImageInput<'a>, ExplainError> {
    let image = sample.image.as_ref().ok_or(ExplainError::NoImage)?;
    if model.image_encoder().is_none() {
        return Err(ExplainError::NoImageEncoder);
    }
    if side == 0 {
        return Err(ExplainError::Setting("side must be positive".into()));
    }
    let n = side.pow(3);
    let channels = config.image.in_channels;
    if image.len() != channels * n {
        return Err(ExplainError::Setting(format!(
            "image has {} values, expected {channels} x {side}^3",
            image.len()
        )));
    }
    let (scan, fixed) = image.split_at(n);
    Ok(ImageInput {
        scan,
        fixed,
        n,
        channels,
        side,
    })
}

/// `k` images built by `fill(i, scan)` for `i` in `first..first + k` (in parallel), each followed
/// by the fixed channels, as one host buffer `[k, channels, side^3]`.
fn variant_data<F>(input: &ImageInput<'_>, first: usize, k: usize, fill: &F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let per = input.channels * input.n;
    let mut data = vec![0f32; k * per];
    data.par_chunks_mut(per).enumerate().for_each(|(j, slot)| {
        let (scan, rest) = slot.split_at_mut(input.n);
        fill(first + j, scan);
        rest.copy_from_slice(input.fixed);
    });
    data
}

fn variant_batch(
    config: &ModelConfig,
    sample: &Sample,
    input: &ImageInput<'_>,
    data: Vec<f32>,
    k: usize,
    device: &Device,
) -> Result<(Batch, Tensor<5>), ExplainError> {
    let copies: Vec<&Sample> = std::iter::repeat_n(sample, k).collect();
    let mut batch = Batch::collate(&copies, config, input.side, device)?;
    let s = input.side;
    let x = Tensor::<5>::from_data(TensorData::new(data, [k, input.channels, s, s, s]), device);
    batch.image = Some(x.clone());
    Ok((batch, x))
}

pub(crate) fn check_batch(batch: usize) -> Result<(), ExplainError> {
    if batch == 0 {
        return Err(ExplainError::Setting(
            "batch size must be at least 1".into(),
        ));
    }
    Ok(())
}

/// Logits of `count` variants of the scan (`fill(i, scan)` writes variant `i`), `batch` forward
/// passes at a time. `model` must already be in inference mode (`.valid()`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn variant_logits<F>(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    input: &ImageInput<'_>,
    count: usize,
    batch: usize,
    device: &Device,
    fill: F,
) -> Result<Vec<f32>, ExplainError>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    check_batch(batch)?;
    // Batches run in parallel (burn's kernels use the cores poorly on batches this small) and
    // their logits are collected in order.
    let starts: Vec<usize> = (0..count).step_by(batch).collect();
    let parts: Vec<Result<Vec<f32>, ExplainError>> = starts
        .into_par_iter()
        .map(|start| {
            let k = batch.min(count - start);
            let data = variant_data(input, start, k, &fill);
            let (b, _) = variant_batch(config, sample, input, data, k, device)?;
            to_vec(model.forward(&b).logits.into_data())
        })
        .collect();
    let mut out = Vec::with_capacity(count);
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// One batch's scan gradients (`[k, side^3]` flattened) and logits.
type GradsAndLogits = (Vec<f32>, Vec<f32>);

/// Gradients of the logit with respect to the scan channel for `count` variants of the scan,
/// `[count, side^3]` flattened, and the variants' logits. `model` is the inference-mode model on
/// the plain device; it is moved to the autodiff device here.
#[allow(clippy::too_many_arguments)]
pub(crate) fn variant_gradients<F>(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    input: &ImageInput<'_>,
    count: usize,
    batch: usize,
    device: &Device,
    fill: F,
) -> Result<(Vec<f32>, Vec<f32>), ExplainError>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    check_batch(batch)?;
    let ad = device.clone().autodiff();
    // Gradients with respect to the input (or an activation) only: the parameters need none.
    let tracked = model.valid().to_device(&ad).no_grad();
    let per = input.channels * input.n;
    // Batches in parallel, results collected in order (as in `variant_logits`).
    let starts: Vec<usize> = (0..count).step_by(batch).collect();
    let parts: Vec<Result<GradsAndLogits, ExplainError>> = starts
        .into_par_iter()
        .map(|start| {
            let k = batch.min(count - start);
            let data = variant_data(input, start, k, &fill);
            let (mut b, x) = variant_batch(config, sample, input, data, k, &ad)?;
            let x = x.require_grad();
            b.image = Some(x.clone());
            let out = tracked.forward(&b).logits;
            let logits = to_vec(out.clone().into_data())?;
            let grads = out.sum().backward();
            let g = x
                .grad(&grads)
                .ok_or_else(|| ExplainError::Data("no gradient reached the image".into()))?;
            let g = to_vec(g.into_data())?;
            let scan: Vec<f32> = (0..k)
                .flat_map(|j| g[j * per..j * per + input.n].iter().copied())
                .collect();
            Ok((scan, logits))
        })
        .collect();
    let mut grads_out = Vec::with_capacity(count * input.n);
    let mut logits = Vec::with_capacity(count);
    for p in parts {
        let (g, l) = p?;
        grads_out.extend(g);
        logits.extend(l);
    }
    Ok((grads_out, logits))
}

/// The logit of the sample as it is (inference mode).
pub(crate) fn logit_of(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    device: &Device,
) -> Result<f64, ExplainError> {
    let batch = Batch::collate(&[sample], config, side, device)?;
    let logits = to_vec(model.forward(&batch).logits.into_data())?;
    logits
        .first()
        .map(|v| f64::from(*v))
        .ok_or_else(|| ExplainError::Data("empty model output".into()))
}

/// The logistic function.
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}
