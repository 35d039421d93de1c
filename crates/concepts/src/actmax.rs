//! Activation maximisation: what input makes a chosen channel of the image encoder (or the
//! model's logit) respond most?
//!
//! Gradient ascent on the CT channel of the input (Erhan et al. 2009) with the regularisers of
//! Yosinski et al. (2015, "Understanding neural networks through deep visualization": L2 decay,
//! periodic Gaussian blur, clipping) and Olah et al. (2017, "Feature visualization", Distill:
//! transformation robustness by random jitter, total variation as in Mahendran & Vedaldi 2015).
//! The objective at the input `x` (model input units, `side³` voxels) is
//!
//! ```text
//! J(x) = A(roll(x, δ)) - l2 · mean(x²) - tv · TV(x)
//! TV(x) = (1/N) Σ_voxels Σ_axes (x[next along axis] - x)²      (3D, β = 2, no wrap-around)
//! ```
//!
//! where `A` is the mean (or centre-voxel) activation of the channel, or the class logit, and `δ`
//! a random shift of up to `jitter` voxels per axis (all channels rolled together, so a fixed
//! lesion mask stays aligned with the scan). Each step moves `x` by `learning_rate` times the
//! gradient divided by its root mean square (normalised gradient ascent: the step size is in
//! input units whatever the scale of the activation), then clamps to the model input range; every
//! `blur_every` steps the scan is blurred with a Gaussian of `blur_sigma` voxels.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Batch, ModelConfig, MultimodalModel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::features::TargetClass;
use crate::{ConceptError, to_vec};

/// What is maximised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActmaxTarget {
    /// Channel `channel` of the image encoder's feature map after `after_block` residual blocks
    /// (0: the stem), averaged over the map, or only its centre voxel (`centre_only`: a single
    /// unit, whose receptive field is a patch of the crop, as in Yosinski et al.).
    Channel {
        after_block: usize,
        channel: usize,
        centre_only: bool,
    },
    /// The model's logit for the class (other modalities at the context sample's values).
    Logit(TargetClass),
}

/// Where the ascent starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActmaxStart {
    /// `mean + std · N(0, 1)` per voxel (seeded), clamped.
    Noise { mean: f32, std: f32 },
    /// The context sample's own scan (a patient's crop).
    Context,
}

/// Activation-maximisation settings. The defaults suit crops in the model input range
/// `[-1, 1]` (the preprocessor maps the HU window onto it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActmaxOptions {
    /// Gradient-ascent steps. Default 128.
    pub steps: usize,
    /// Root-mean-square change of the scan per step, in input units. Default 0.05.
    pub learning_rate: f64,
    /// Weight of the L2 penalty `mean(x²)`. Default 0.01.
    pub l2: f64,
    /// Weight of the total-variation penalty. Default 0.1.
    pub tv: f64,
    /// Largest random shift per axis (voxels, with wrap-around) before each gradient. Default 1;
    /// 0 turns jitter off.
    pub jitter: usize,
    /// Blur the scan every this many steps; 0 never. Default 8.
    pub blur_every: usize,
    /// Standard deviation of that blur in voxels. Default 0.5.
    pub blur_sigma: f64,
    /// The model input range the scan is clamped to. Default `(-1, 1)`.
    pub clamp: (f32, f32),
    /// Default noise around 0 (the middle of the window) with sd 0.1.
    pub start: ActmaxStart,
    /// Seed of the start noise and the jitter. Default 0.
    pub seed: u64,
}

impl Default for ActmaxOptions {
    fn default() -> Self {
        Self {
            steps: 128,
            learning_rate: 0.05,
            l2: 0.01,
            tv: 0.1,
            jitter: 1,
            blur_every: 8,
            blur_sigma: 0.5,
            clamp: (-1.0, 1.0),
            start: ActmaxStart::Noise {
                mean: 0.0,
                std: 0.1,
            },
            seed: 0,
        }
    }
}

/// The optimised scan and how the objective evolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActmaxResult {
    pub side: usize,
    /// The optimised scan channel, `side³` values (z, y, x order) in model input units.
    pub volume: Vec<f32>,
    /// The objective `J` at each step (before its update, at that step's jittered input).
    pub objective: Vec<f64>,
    /// The target term `A` at each step.
    pub activation: Vec<f64>,
    /// `J` and `A` at the start and at the returned volume (no jitter).
    pub initial_objective: f64,
    pub final_objective: f64,
    pub initial_activation: f64,
    pub final_activation: f64,
}

/// The 3D total variation of the penalty: the mean over voxels of the squared forward
/// differences summed over the three axes (no wrap-around).
pub fn total_variation(volume: &[f32], side: usize) -> f64 {
    tv_and_gradient(volume, side, false).0
}

fn tv_and_gradient(x: &[f32], side: usize, with_grad: bool) -> (f64, Vec<f64>) {
    let n = side.pow(3);
    let mut total = 0.0;
    let mut grad = if with_grad { vec![0.0; n] } else { Vec::new() };
    let strides = [side * side, side, 1];
    for z in 0..side {
        for y in 0..side {
            for xx in 0..side {
                let i = (z * side + y) * side + xx;
                let pos = [z, y, xx];
                for axis in 0..3 {
                    if pos[axis] + 1 < side {
                        let j = i + strides[axis];
                        let d = f64::from(x[j]) - f64::from(x[i]);
                        total += d * d;
                        if with_grad {
                            grad[j] += 2.0 * d / n as f64;
                            grad[i] -= 2.0 * d / n as f64;
                        }
                    }
                }
            }
        }
    }
    (total / n as f64, grad)
}

/// Rolls a `side³` volume by `shift` voxels per axis (z, y, x) with wrap-around.
fn roll(v: &[f32], side: usize, shift: [isize; 3]) -> Vec<f32> {
    let s = side as isize;
    let wrap = |i: usize, d: isize| ((i as isize + d).rem_euclid(s)) as usize;
    let mut out = vec![0.0; v.len()];
    for z in 0..side {
        for y in 0..side {
            for x in 0..side {
                let to = (wrap(z, shift[0]) * side + wrap(y, shift[1])) * side + wrap(x, shift[2]);
                out[to] = v[(z * side + y) * side + x];
            }
        }
    }
    out
}

/// Separable Gaussian blur (replicated edges).
fn blur(v: &mut [f32], side: usize, sigma: f64) {
    if sigma <= 0.0 {
        return;
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let mut kernel: Vec<f64> = (-radius..=radius)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = kernel.iter().sum();
    for k in &mut kernel {
        *k /= sum;
    }
    let strides = [side * side, side, 1];
    for (axis, &stride) in strides.iter().enumerate() {
        let src = v.to_vec();
        for z in 0..side {
            for y in 0..side {
                for x in 0..side {
                    let pos = [z, y, x];
                    let i = (z * side + y) * side + x;
                    let base = i - pos[axis] * stride;
                    let mut acc = 0.0;
                    for (k, w) in (-radius..=radius).zip(&kernel) {
                        let p = (pos[axis] as isize + k).clamp(0, side as isize - 1) as usize;
                        acc += w * f64::from(src[base + p * stride]);
                    }
                    v[i] = acc as f32;
                }
            }
        }
        let _ = axis;
    }
}

/// Maximises `target` by gradient ascent on the scan channel; `context` provides the further
/// image channels (the lesion mask, held fixed; zeros when it has no image), the other
/// modalities (for [`ActmaxTarget::Logit`]) and, with [`ActmaxStart::Context`], the start.
pub fn activation_maximisation(
    model: &MultimodalModel,
    config: &ModelConfig,
    context: &Sample,
    side: usize,
    target: ActmaxTarget,
    options: &ActmaxOptions,
    device: &Device,
) -> Result<ActmaxResult, ConceptError> {
    let model = &model.valid();
    let encoder = model.image_encoder().ok_or(ConceptError::NoImageEncoder)?;
    if let ActmaxTarget::Channel {
        after_block,
        channel,
        ..
    } = target
    {
        if after_block > encoder.block_count() {
            return Err(ConceptError::Setting(format!(
                "channel after block {after_block}: the encoder has {} blocks",
                encoder.block_count()
            )));
        }
        let channels = if after_block == 0 {
            config.image.stem_channels
        } else {
            config.image.block_channels[after_block - 1]
        };
        if channel >= channels {
            return Err(ConceptError::Setting(format!(
                "channel {channel}: that layer has {channels} channels"
            )));
        }
    }
    let (lo, hi) = options.clamp;
    if lo.is_nan() || hi.is_nan() || lo >= hi {
        return Err(ConceptError::Setting(format!(
            "clamp range ({lo}, {hi}) is empty"
        )));
    }
    let n = side.pow(3);
    let channels = config.image.in_channels;
    let fixed: Vec<f32> = match &context.image {
        Some(img) if img.len() == channels * n => img[n..].to_vec(),
        Some(img) => {
            return Err(ConceptError::Setting(format!(
                "context image has {} values, expected {channels} x {side}^3",
                img.len()
            )));
        }
        None => vec![0.0; (channels - 1) * n],
    };
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut x: Vec<f32> = match options.start {
        ActmaxStart::Noise { mean, std } => (0..n)
            .map(|_| {
                let z: f32 = rng.sample(StandardNormal);
                (mean + std * z).clamp(lo, hi)
            })
            .collect(),
        ActmaxStart::Context => match &context.image {
            Some(img) => img[..n].iter().map(|v| v.clamp(lo, hi)).collect(),
            None => return Err(ConceptError::NoImage(0)),
        },
    };

    let ad = device.clone().autodiff();
    // Gradients with respect to the input (or an activation) only: the parameters need none.
    let tracked = model.valid().to_device(&ad).no_grad();
    let tracked_encoder = tracked
        .image_encoder()
        .ok_or(ConceptError::NoImageEncoder)?;
    let mut with_image = context.clone();
    with_image.image = Some(vec![0.0; channels * n]);
    let mut batch = Batch::collate(&[&with_image], config, side, &ad)?;

    // A at roll(x, shift) and dA/dx (unrolled).
    let mut target_and_grad =
        |x: &[f32], shift: [isize; 3]| -> Result<(f64, Vec<f64>), ConceptError> {
            let mut data = roll(x, side, shift);
            for c in 0..channels - 1 {
                data.extend(roll(&fixed[c * n..(c + 1) * n], side, shift));
            }
            let input =
                Tensor::<5>::from_data(TensorData::new(data, [1, channels, side, side, side]), &ad)
                    .require_grad();
            let value: Tensor<1> = match target {
                ActmaxTarget::Channel {
                    after_block,
                    channel,
                    centre_only,
                } => {
                    let mut f = tracked_encoder
                        .features_after(input.clone(), after_block)
                        .narrow(1, channel, 1);
                    if centre_only {
                        let [_, _, d, h, w] = f.dims();
                        f = f
                            .narrow(2, d / 2, 1)
                            .narrow(3, h / 2, 1)
                            .narrow(4, w / 2, 1);
                    }
                    f.mean()
                }
                ActmaxTarget::Logit(class) => {
                    batch.image = Some(input.clone());
                    (tracked.forward(&batch).logits * class.sign()).sum()
                }
            };
            let a = to_vec(value.clone().into_data())?
                .first()
                .copied()
                .map(f64::from)
                .ok_or_else(|| ConceptError::Data("empty objective".into()))?;
            let grads = value.backward();
            let g = input
                .grad(&grads)
                .ok_or_else(|| ConceptError::Data("no gradient reached the input".into()))?;
            let g = to_vec(g.into_data())?;
            let unrolled = roll(&g[..n], side, shift.map(|s| -s));
            Ok((a, unrolled.into_iter().map(f64::from).collect()))
        };
    let penalty = |x: &[f32]| -> f64 {
        let l2 = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / n as f64;
        options.l2 * l2 + options.tv * total_variation(x, side)
    };

    let (initial_activation, _) = target_and_grad(&x, [0; 3])?;
    let initial_objective = initial_activation - penalty(&x);
    let mut objective = Vec::with_capacity(options.steps);
    let mut activation = Vec::with_capacity(options.steps);
    let j = options.jitter.min(i32::MAX as usize) as i32;
    for step in 0..options.steps {
        let shift: [isize; 3] = if j > 0 {
            std::array::from_fn(|_| rng.random_range(-j..=j) as isize)
        } else {
            [0; 3]
        };
        let (a, mut g) = target_and_grad(&x, shift)?;
        activation.push(a);
        objective.push(a - penalty(&x));
        let (_, tv_grad) = tv_and_gradient(&x, side, true);
        for ((gi, xi), ti) in g.iter_mut().zip(&x).zip(&tv_grad) {
            *gi -= options.l2 * 2.0 * f64::from(*xi) / n as f64 + options.tv * ti;
        }
        let rms = (g.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
        if rms > 0.0 && rms.is_finite() {
            let scale = options.learning_rate / rms;
            for (xi, gi) in x.iter_mut().zip(&g) {
                *xi += (scale * gi) as f32;
            }
        }
        if options.blur_every > 0 && (step + 1) % options.blur_every == 0 {
            blur(&mut x, side, options.blur_sigma);
        }
        for v in &mut x {
            *v = v.clamp(lo, hi);
        }
    }
    let (final_activation, _) = target_and_grad(&x, [0; 3])?;
    let final_objective = final_activation - penalty(&x);
    Ok(ActmaxResult {
        side,
        volume: x,
        objective,
        activation,
        initial_objective,
        final_objective,
        initial_activation,
        final_activation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_and_unroll_are_inverse_and_tv_of_constant_is_zero() {
        let v: Vec<f32> = (0..27).map(|i| i as f32).collect();
        let r = roll(&v, 3, [1, -1, 2]);
        assert_ne!(r, v);
        assert_eq!(roll(&r, 3, [-1, 1, -2]), v);
        assert_eq!(total_variation(&[0.5; 27], 3), 0.0);
        // One step of 1 along x in every row: 3·3·2 differences of 1 over 27 voxels.
        let ramp: Vec<f32> = (0..27).map(|i| (i % 3) as f32).collect();
        assert!((total_variation(&ramp, 3) - 18.0 / 27.0).abs() < 1e-12);
    }

    #[test]
    fn tv_gradient_matches_finite_differences() {
        let v: Vec<f32> = (0..64).map(|i| ((i * 37) % 11) as f32 / 11.0).collect();
        let (_, g) = tv_and_gradient(&v, 4, true);
        for i in [0, 5, 21, 63] {
            let h = 1e-3f32;
            let mut p = v.clone();
            p[i] += h;
            let mut m = v.clone();
            m[i] -= h;
            let fd = (total_variation(&p, 4) - total_variation(&m, 4)) / (2.0 * f64::from(h));
            assert!((fd - g[i]).abs() < 1e-4, "{i}: {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn blur_keeps_constants_and_smooths_a_spike() {
        let mut c = vec![0.3f32; 125];
        blur(&mut c, 5, 1.0);
        assert!(c.iter().all(|v| (v - 0.3).abs() < 1e-6));
        let mut s = vec![0.0f32; 125];
        s[62] = 1.0;
        blur(&mut s, 5, 0.5); // radius 2: the kernel stays inside the volume
        assert!(s[62] < 1.0 && s[63] > 0.0);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
