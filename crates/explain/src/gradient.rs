//! Gradient-based maps: plain gradient (saliency), gradient x input, and SmoothGrad.
//!
//! Each explains the model's logit (Captum's convention with a single-logit forward function)
//! with respect to the scan channel of the image input, the other channels and modalities held
//! at the patient's values.

use burn::module::Module;
use burn::tensor::Device;
use oncolens_nn::batch::Sample;
use oncolens_nn::{ModelConfig, MultimodalModel};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::common::{image_input, variant_gradients};
use crate::{ExplainError, ImageAttribution};

/// Gradient of the logit with respect to each scan voxel, and the logit.
fn gradient(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    device: &Device,
) -> Result<(Vec<f32>, f64), ExplainError> {
    let model = &model.valid();
    let input = image_input(model, config, sample, side)?;
    let scan = input.scan;
    let (g, logits) = variant_gradients(model, config, sample, &input, 1, 1, device, |_, s| {
        s.copy_from_slice(scan)
    })?;
    Ok((g, f64::from(logits[0])))
}

/// Saliency (Simonyan et al., 2014): the absolute gradient of the logit with respect to each
/// scan voxel, as Captum's `Saliency` with its default `abs=True`.
pub fn saliency(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let (g, logit) = gradient(model, config, sample, side, device)?;
    Ok(ImageAttribution {
        method: "saliency",
        side,
        values: g.into_iter().map(f32::abs).collect(),
        logit,
        convergence_delta: None,
    })
}

/// Gradient x input (Shrikumar et al., 2016): `x * df/dx` per scan voxel, signed, as Captum's
/// `InputXGradient` (Integrated Gradients' one-step approximation from a zero baseline).
pub fn input_x_gradient(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let (g, logit) = gradient(model, config, sample, side, device)?;
    let scan = image_input(model, config, sample, side)?.scan;
    Ok(ImageAttribution {
        method: "input-x-gradient",
        side,
        values: g.iter().zip(scan).map(|(g, x)| g * x).collect(),
        logit,
        convergence_delta: None,
    })
}

/// SmoothGrad (Smilkov et al., 2017) over [`saliency`]: the mean absolute gradient over
/// `samples` copies of the scan with Gaussian noise added, as Captum's
/// `NoiseTunnel(Saliency(f)).attribute(x, nt_type="smoothgrad", nt_samples=samples,
/// stdevs=sigma)`.
///
/// The noise level follows the paper: `sigma = stdev_fraction * (max(x) - min(x))` over the scan
/// channel (Smilkov et al. found 10-20 % best; when the scan is constant, `sigma =
/// stdev_fraction` in input units). The noise is drawn from a ChaCha8 generator seeded with
/// `seed`, so a map is reproducible (it cannot equal Captum's, which draws from torch's
/// generator). The noisy copies are evaluated `batch` at a time.
#[allow(clippy::too_many_arguments)]
pub fn smoothgrad(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    samples: usize,
    stdev_fraction: f32,
    seed: u64,
    batch: usize,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let model = &model.valid();
    let input = image_input(model, config, sample, side)?;
    if samples == 0 {
        return Err(ExplainError::Setting(
            "SmoothGrad needs at least one sample".into(),
        ));
    }
    if !(stdev_fraction.is_finite() && stdev_fraction >= 0.0) {
        return Err(ExplainError::Setting(format!(
            "SmoothGrad noise level {stdev_fraction} must be finite and non-negative"
        )));
    }
    let scan = input.scan;
    let (lo, hi) = scan
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = hi - lo;
    let sigma = if range > 0.0 {
        stdev_fraction * range
    } else {
        stdev_fraction
    };
    let n = input.n;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise: Vec<f32> = (0..samples * n)
        .map(|_| {
            let z: f32 = StandardNormal.sample(&mut rng);
            sigma * z
        })
        .collect();
    let (g, _) = variant_gradients(
        model,
        config,
        sample,
        &input,
        samples,
        batch,
        device,
        |i, s| {
            for ((out, x), e) in s.iter_mut().zip(scan).zip(&noise[i * n..(i + 1) * n]) {
                *out = x + e;
            }
        },
    )?;
    let mut mean = vec![0f64; n];
    for chunk in g.chunks(n) {
        for (m, v) in mean.iter_mut().zip(chunk) {
            *m += f64::from(v.abs());
        }
    }
    let logit = crate::common::logit_of(model, config, sample, side, device)?;
    Ok(ImageAttribution {
        method: "smoothgrad",
        side,
        values: mean
            .into_iter()
            .map(|v| (v / samples as f64) as f32)
            .collect(),
        logit,
        convergence_delta: None,
    })
}
