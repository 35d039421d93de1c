//! 3D Grad-CAM (Selvaraju et al., 2017) and Grad-CAM++ (Chattopadhay et al., 2018) at any
//! convolutional block of the image encoder.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Batch, ModelConfig, MultimodalModel};

use crate::{ExplainError, ImageAttribution, to_vec};

/// Linear interpolation weights of PyTorch's `interpolate(mode="trilinear",
/// align_corners=False)` along one axis: for each output index, (low, high, fraction).
fn axis_weights(input: usize, output: usize) -> Vec<(usize, usize, f64)> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|o| {
            let src = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
            let lo = (src.floor() as usize).min(input - 1);
            let hi = (lo + 1).min(input - 1);
            (lo, hi, src - lo as f64)
        })
        .collect()
}

/// Trilinear upsampling of a `[d, h, w]` map to `side^3` (same extent, cell-centred).
pub fn upsample(map: &[f32], dims: [usize; 3], side: usize) -> Vec<f32> {
    let [d, h, w] = dims;
    let (wz, wy, wx) = (
        axis_weights(d, side),
        axis_weights(h, side),
        axis_weights(w, side),
    );
    let at = |z: usize, y: usize, x: usize| f64::from(map[(z * h + y) * w + x]);
    let mut out = Vec::with_capacity(side.pow(3));
    for &(z0, z1, fz) in &wz {
        for &(y0, y1, fy) in &wy {
            for &(x0, x1, fx) in &wx {
                let c = |z: usize| {
                    let a = at(z, y0, x0) * (1.0 - fx) + at(z, y0, x1) * fx;
                    let b = at(z, y1, x0) * (1.0 - fx) + at(z, y1, x1) * fx;
                    a * (1.0 - fy) + b * fy
                };
                out.push((c(z0) * (1.0 - fz) + c(z1) * fz) as f32);
            }
        }
    }
    out
}

/// Activations and gradients of the logit at one feature map of the image encoder.
struct LayerGrads {
    /// `[c, d, h, w]` activations, flattened.
    act: Vec<f32>,
    /// `[c, d, h, w]` gradients of the logit with respect to the activations.
    grad: Vec<f32>,
    channels: usize,
    dims: [usize; 3],
    logit: f64,
}

/// The feature map after `after_block` residual blocks (`None`: the last) and the logit's
/// gradient with respect to it.
fn layer_grads(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    after_block: Option<usize>,
    device: &Device,
) -> Result<LayerGrads, ExplainError> {
    // Inference behaviour (no dropout, running batch statistics) whatever state the caller's
    // model is in: attributions must not depend on the other samples of a batch.
    let model = &model.valid();
    let encoder = model.image_encoder().ok_or(ExplainError::NoImageEncoder)?;
    if sample.image.is_none() {
        return Err(ExplainError::NoImage);
    }
    let batch = Batch::collate(&[sample], config, side, device)?;
    let image = batch.image.clone().ok_or(ExplainError::NoImageEncoder)?;
    let after = after_block.unwrap_or(encoder.block_count());
    if after > encoder.block_count() {
        return Err(ExplainError::Setting(format!(
            "Grad-CAM after block {after}: the encoder has {} blocks",
            encoder.block_count()
        )));
    }
    let features = encoder.features_after(image, after);
    let [_, c, d, h, w] = features.dims();
    let feature_data = features.into_data();

    let ad = device.clone().autodiff();
    // Gradients with respect to the input (or an activation) only: the parameters need none.
    let tracked = model.valid().to_device(&ad).no_grad();
    let batch_ad = Batch::collate(&[sample], config, side, &ad)?;
    let a = Tensor::<5>::from_data(feature_data.clone(), &ad).require_grad();
    let out = tracked.forward_with_image_features(&batch_ad, Some((a.clone(), after)));
    let logit = f64::from(to_vec(out.logits.clone().into_data())?[0]);
    let grads = out.logits.sum().backward();
    let g = a
        .grad(&grads)
        .ok_or_else(|| ExplainError::Data("no gradient reached the feature map".into()))?;
    Ok(LayerGrads {
        act: to_vec(feature_data)?,
        grad: to_vec(g.into_data())?,
        channels: c,
        dims: [d, h, w],
        logit,
    })
}

/// `relu(sum_c weight_c A_c)` upsampled to the input crop.
fn weighted_map(
    layer: &LayerGrads,
    weights: &[f64],
    side: usize,
    method: &'static str,
) -> ImageAttribution {
    let [d, h, w] = layer.dims;
    let voxels = d * h * w;
    let mut cam = vec![0f64; voxels];
    for (ch, &weight) in weights.iter().enumerate().take(layer.channels) {
        for (out, &a) in cam
            .iter_mut()
            .zip(&layer.act[ch * voxels..(ch + 1) * voxels])
        {
            *out += weight * f64::from(a);
        }
    }
    let cam: Vec<f32> = cam.into_iter().map(|v| v.max(0.0) as f32).collect();
    ImageAttribution {
        method,
        side,
        values: upsample(&cam, [d, h, w], side),
        logit: layer.logit,
        convergence_delta: None,
    }
}

/// Grad-CAM map for one sample at the feature map after `after_block` residual blocks (`None`:
/// the last block, the classic choice; earlier blocks are finer and localise better), upsampled
/// to the input crop (`side^3`), non-negative.
///
/// Equals Captum's `LayerGradCam(f, layer).attribute(x, relu_attributions=True)` followed by
/// `LayerAttribution.interpolate(cam, (side,) * 3, "trilinear")`, with `f` the logit.
pub fn grad_cam(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    after_block: Option<usize>,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let layer = layer_grads(model, config, sample, side, after_block, device)?;
    let [d, h, w] = layer.dims;
    let voxels = d * h * w;
    let weights: Vec<f64> = layer
        .grad
        .chunks(voxels)
        .map(|g| g.iter().map(|v| f64::from(*v)).sum::<f64>() / voxels as f64)
        .collect();
    Ok(weighted_map(&layer, &weights, side, "grad-cam"))
}

/// Grad-CAM++ (Chattopadhay et al., 2018) at the same feature maps as [`grad_cam`].
///
/// The channel weights are `w_c = sum_ijk alpha_c,ijk relu(g_c,ijk)` with
/// `alpha = g^2 / (2 g^2 + sum_ijk(A_c) g^3)` (0 where `g = 0`), `g` the gradient of the logit
/// `S` with respect to the activations `A`. This is the paper's closed form (its eq. 19) for the
/// class score `Y = exp(S)`, whose higher derivatives are powers of the first; the common factor
/// `exp(S)` of every weight is dropped, since it only scales the map. It is the form of the
/// reference implementation (`pytorch-grad-cam`'s `GradCAMPlusPlus`, which also adds `1e-7` to
/// the denominator; here a zero denominator gives alpha 0 instead). The map is
/// `relu(sum_c w_c A_c)`, upsampled as Grad-CAM's.
pub fn grad_cam_pp(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    after_block: Option<usize>,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let layer = layer_grads(model, config, sample, side, after_block, device)?;
    let [d, h, w] = layer.dims;
    let voxels = d * h * w;
    let weights: Vec<f64> = layer
        .grad
        .chunks(voxels)
        .zip(layer.act.chunks(voxels))
        .map(|(g, a)| {
            let sum_a: f64 = a.iter().map(|v| f64::from(*v)).sum();
            g.iter()
                .map(|&g| {
                    let g = f64::from(g);
                    let g2 = g * g;
                    let denom = 2.0 * g2 + sum_a * g2 * g;
                    let alpha = if g != 0.0 && denom != 0.0 {
                        g2 / denom
                    } else {
                        0.0
                    };
                    alpha * g.max(0.0)
                })
                .sum()
        })
        .collect();
    Ok(weighted_map(&layer, &weights, side, "grad-cam-pp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_matches_pytorch_align_corners_false() {
        // torch.nn.functional.interpolate(torch.tensor([0., 1.]).view(1,1,1,1,2),
        //   size=(1,1,4), mode="trilinear", align_corners=False) -> [0, 0.25, 0.75, 1]
        let out = upsample(&[0.0, 1.0], [1, 1, 2], 4);
        assert_eq!(out.len(), 64);
        assert_eq!(&out[..4], &[0.0, 0.25, 0.75, 1.0]);
    }
}
