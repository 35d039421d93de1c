//! Occlusion (Zeiler & Fergus, 2014) with a sliding 3D window, as Captum's `Occlusion`.

use burn::module::Module;
use burn::tensor::Device;
use oncolens_nn::batch::Sample;
use oncolens_nn::{ModelConfig, MultimodalModel};

use crate::common::{image_input, variant_logits};
use crate::{ExplainError, ImageAttribution};

/// Window start positions along one axis: `0, stride, ...` while the window fits (Captum's
/// `floor((side - window) / stride) + 1` positions; a tail the last window does not reach is
/// never occluded).
fn starts(side: usize, window: usize, stride: usize) -> Vec<usize> {
    (0..=(side - window) / stride).map(|i| i * stride).collect()
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
    let pos = starts(side, window, stride);
    let mut windows: Vec<[usize; 3]> = Vec::with_capacity(pos.len().pow(3));
    for &z in &pos {
        for &y in &pos {
            for &x in &pos {
                windows.push([z, y, x]);
            }
        }
    }
    let scan = input.scan;
    // Variant 0 is the input itself, so f(x) comes from the same kind of batch as the rest.
    let logits = variant_logits(
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
    )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_positions_follow_captum() {
        assert_eq!(starts(16, 4, 2), vec![0, 2, 4, 6, 8, 10, 12]);
        assert_eq!(starts(7, 4, 2), vec![0, 2]);
        assert_eq!(starts(4, 4, 1), vec![0]);
    }
}
