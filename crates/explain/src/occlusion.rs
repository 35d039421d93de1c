//! Occlusion (Zeiler & Fergus, 2014) with a sliding 3D window, as Captum's `Occlusion`.

use burn::module::Module;
use burn::tensor::Device;
use oncolens_nn::batch::Sample;
use oncolens_nn::{ModelConfig, MultimodalModel};

use oncolens_nn::Batch;
use oncolens_nn::local::{BoxPatch, LocalEvaluator};
use rayon::prelude::*;

use crate::common::{ImageInput, check_batch, image_input, variant_logits};
use crate::to_vec;
use crate::{ExplainError, ImageAttribution};

/// Window start positions along one axis: `0, stride, ...` while the window fits (Captum's
/// `floor((side - window) / stride) + 1` positions; a tail the last window does not reach is
/// never occluded).
fn starts(side: usize, window: usize, stride: usize) -> Vec<usize> {
    (0..=(side - window) / stride).map(|i| i * stride).collect()
}

/// Every window's first corner `[z, y, x]`, x fastest (Captum's order).
fn window_grid(side: usize, window: usize, stride: usize) -> Vec<[usize; 3]> {
    let pos = starts(side, window, stride);
    let mut windows = Vec::with_capacity(pos.len().pow(3));
    for &z in &pos {
        for &y in &pos {
            for &x in &pos {
                windows.push([z, y, x]);
            }
        }
    }
    windows
}

/// Occlusion map: a cube of `window^3` scan voxels is set to `baseline`, slid by `stride` along
/// each axis; each voxel's attribution is the mean, over the windows covering it, of
/// `f(x) - f(x with the window occluded)`, `f` the logit (0 for voxels no window covers).
///
/// Equals Captum's `Occlusion(f).attribute(x, sliding_window_shapes=(1, w, w, w),
/// strides=(1, s, s, s), baselines=baseline)` on the scan channel. The occluded copies are
/// evaluated `batch` at a time (Captum's `perturbations_per_eval`) and built in parallel.
#[allow(clippy::too_many_arguments)]
pub fn occlusion(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    window: usize,
    stride: usize,
    baseline: f32,
    batch: usize,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let model = &model.valid();
    let input = image_input(model, config, sample, side)?;
    if window == 0 || window > side || stride == 0 {
        return Err(ExplainError::Setting(format!(
            "occlusion window {window} and stride {stride} must be positive, the window at most \
             the side {side}"
        )));
    }
    let windows = window_grid(side, window, stride);
    let logits = match local_logits(
        model, config, sample, &input, &windows, window, baseline, batch, device,
    )? {
        Some(l) => l,
        None => {
            let scan = input.scan;
            // Variant 0 is the input itself, so f(x) comes from the same kind of batch as the
            // rest.
            variant_logits(
                model,
                config,
                sample,
                &input,
                windows.len() + 1,
                batch,
                device,
                |i, s| {
                    s.copy_from_slice(scan);
                    if i == 0 {
                        return;
                    }
                    let [z0, y0, x0] = windows[i - 1];
                    for z in z0..z0 + window {
                        for y in y0..y0 + window {
                            let row = (z * side + y) * side;
                            s[row + x0..row + x0 + window].fill(baseline);
                        }
                    }
                },
            )?
        }
    };
    let f_x = f64::from(logits[0]);
    let mut total = vec![0f64; input.n];
    let mut count = vec![0u32; input.n];
    for (&[z0, y0, x0], &f) in windows.iter().zip(&logits[1..]) {
        let delta = f_x - f64::from(f);
        for z in z0..z0 + window {
            for y in y0..y0 + window {
                let row = (z * side + y) * side;
                for x in x0..x0 + window {
                    total[row + x] += delta;
                    count[row + x] += 1;
                }
            }
        }
    }
    let values = total
        .iter()
        .zip(&count)
        .map(|(t, &c)| {
            if c > 0 {
                (t / f64::from(c)) as f32
            } else {
                0.0
            }
        })
        .collect();
    Ok(ImageAttribution {
        method: "occlusion",
        side,
        values,
        logit: f_x,
        convergence_delta: None,
    })
}

/// The logits of the input (first) and of each occluded copy by incremental evaluation: the
/// stem and first block are recomputed only around each window ([`LocalEvaluator`]), exact for
/// encoders without per-sample normalisation. `None` when the encoder does not allow it; the
/// caller then runs full forward passes.
#[allow(clippy::too_many_arguments)]
fn local_logits(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    input: &ImageInput<'_>,
    windows: &[[usize; 3]],
    window: usize,
    baseline: f32,
    batch: usize,
    device: &Device,
) -> Result<Option<Vec<f32>>, ExplainError> {
    let Some(encoder) = model.image_encoder() else {
        return Ok(None);
    };
    let side = input.side;
    let mut one = Batch::collate(&[sample], config, side, device)?;
    let Some(x) = one.image.take() else {
        return Ok(None);
    };
    let Some(eval) = LocalEvaluator::new(encoder, x)? else {
        return Ok(None);
    };
    let image = sample.image.as_ref().ok_or(ExplainError::NoImage)?;
    let dims = [window; 3];
    let per_channel = window.pow(3);
    // Patch `i`: the window's box with the scan at the baseline and the other channels as
    // they are; patch 0 rewrites the first window's box with its own values (the input itself,
    // through the same arithmetic as the occluded copies).
    let patch = |i: usize| {
        let (lo, occlude) = if i == 0 {
            (windows[0], false)
        } else {
            (windows[i - 1], true)
        };
        let mut values = Vec::with_capacity(input.channels * per_channel);
        for c in 0..input.channels {
            for z in lo[0]..lo[0] + window {
                for y in lo[1]..lo[1] + window {
                    let row = c * input.n + (z * side + y) * side;
                    if c == 0 && occlude {
                        values.extend(std::iter::repeat_n(baseline, window));
                    } else {
                        values.extend_from_slice(&image[row + lo[2]..row + lo[2] + window]);
                    }
                }
            }
        }
        BoxPatch { lo, dims, values }
    };
    check_batch(batch)?;
    let count = windows.len() + 1;
    let after = eval.blocks_applied();
    let starts: Vec<usize> = (0..count).step_by(batch).collect();
    let full = one.repeat(batch);
    let parts: Vec<Result<Vec<f32>, ExplainError>> = starts
        .into_par_iter()
        .map(|start| {
            let k = batch.min(count - start);
            let patches: Vec<BoxPatch> = (start..start + k).map(patch).collect();
            let features = eval.features(&patches)?;
            let b = if k == batch {
                full.clone()
            } else {
                one.repeat(k)
            };
            let out = model.forward_with_image_features(&b, Some((features, after)));
            to_vec(out.logits.into_data())
        })
        .collect();
    let mut out = Vec::with_capacity(count);
    for p in parts {
        out.extend(p?);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    use oncolens_nn::{FusionKind, ImageEncoderConfig, ImageNorm, ModalitySet};

    fn setup(norm: ImageNorm) -> (MultimodalModel, ModelConfig, Sample, Device) {
        let device = Device::flex();
        device.seed(11);
        let config = ModelConfig {
            modalities: ModalitySet {
                image: true,
                clinical: true,
                text: true,
                omics: false,
            },
            fusion: FusionKind::GatedAttention,
            embed_dim: 8,
            image: ImageEncoderConfig {
                in_channels: 2,
                stem_channels: 4,
                norm,
                stem_stride: 2,
                block_channels: vec![8, 8],
                lesion_features: 3,
            },
            clinical_features: 2,
            text_vocab: 20,
            text_token_dim: 4,
            omics_genes: 0,
            hidden: 8,
            dropout: 0.0,
            tabular: Default::default(),
            pattern_fusion: false,
        };
        let model = MultimodalModel::new(&config, &device).expect("model");
        let side = 12;
        let image = (0..2 * side * side * side)
            .map(|i| ((i * 37) % 29) as f32 / 10.0 - 1.0)
            .collect();
        let sample = Sample {
            image: Some(image),
            clinical: Some(vec![0.5, -1.0, 0.0, 1.0]),
            tokens: Some(vec![3, 4, 5]),
            lesion_features: Some(vec![0.2, -0.3, 1.5]),
            ..Sample::default()
        };
        (model, config, sample, device)
    }

    /// The incremental evaluation gives the logits of full forward passes, for every window of
    /// a multimodal model with a second image channel and lesion features, and a batch that does
    /// not divide the number of copies.
    #[test]
    fn incremental_logits_equal_full_forward_passes() {
        let (model, config, sample, device) = setup(ImageNorm::None);
        let side = 12;
        let input = image_input(&model, &config, &sample, side).expect("input");
        let (window, stride, baseline) = (3, 2, -0.5);
        let windows = window_grid(side, window, stride);
        let local = local_logits(
            &model, &config, &sample, &input, &windows, window, baseline, 7, &device,
        )
        .expect("local")
        .expect("norm none allows incremental evaluation");
        let full = variant_logits(
            &model,
            &config,
            &sample,
            &input,
            windows.len() + 1,
            5,
            &device,
            |i, s| {
                s.copy_from_slice(input.scan);
                if i > 0 {
                    let [z0, y0, x0] = windows[i - 1];
                    for z in z0..z0 + window {
                        for y in y0..y0 + window {
                            let row = (z * side + y) * side;
                            s[row + x0..row + x0 + window].fill(baseline);
                        }
                    }
                }
            },
        )
        .expect("full");
        assert_eq!(local.len(), full.len());
        let spread = full.iter().fold(0f32, |m, v| m.max((v - full[0]).abs()));
        assert!(spread > 1e-4, "occlusion must move the logit");
        for (i, (a, b)) in local.iter().zip(&full).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "copy {i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn group_norm_falls_back_to_full_passes() {
        let (model, config, sample, device) = setup(ImageNorm::Group);
        let input = image_input(&model, &config, &sample, 12).expect("input");
        let none = local_logits(
            &model,
            &config,
            &sample,
            &input,
            &[[0, 0, 0]],
            3,
            0.0,
            4,
            &device,
        )
        .expect("no error");
        assert!(none.is_none());
    }

    #[test]
    fn window_positions_follow_captum() {
        assert_eq!(starts(16, 4, 2), vec![0, 2, 4, 6, 8, 10, 12]);
        assert_eq!(starts(7, 4, 2), vec![0, 2]);
        assert_eq!(starts(4, 4, 1), vec![0]);
    }
}
