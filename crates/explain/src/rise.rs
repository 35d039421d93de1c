//! RISE, Randomized Input Sampling for Explanation (Petsiuk et al., 2018), in 3D.

use burn::module::Module;
use burn::tensor::Device;
use oncolens_nn::batch::Sample;
use oncolens_nn::{ModelConfig, MultimodalModel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::common::{image_input, logit_of, sigmoid, variant_logits};
use crate::{ExplainError, ImageAttribution};

/// Settings of [`rise`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiseSettings {
    /// Number of random masks `N`.
    pub masks: usize,
    /// Edge of a mask cell in input voxels (`C` in the paper): the low-resolution grid has
    /// `ceil(side / cell) + 1` cells per axis.
    pub cell: usize,
    /// Probability that a cell is kept.
    pub p: f64,
    /// Value the scan takes where a mask is 0 (the paper multiplies by the mask: baseline 0).
    pub baseline: f32,
    pub seed: u64,
    /// Masked copies per forward pass.
    pub batch: usize,
}

/// Linear weights of one axis of the upsampled, shifted mask: output voxel `o` samples the
/// cell-centred upsampling of `cells` values by `cell` at position `o + shift`.
fn axis(side: usize, cells: usize, cell: usize, shift: usize) -> Vec<(usize, usize, f32)> {
    (0..side)
        .map(|o| {
            let u = ((o + shift) as f64 + 0.5) / cell as f64 - 0.5;
            let u = u.clamp(0.0, (cells - 1) as f64);
            let lo = u.floor() as usize;
            let hi = (lo + 1).min(cells - 1);
            (lo, hi, (u - lo as f64) as f32)
        })
        .collect()
}

/// Mask `index` of the sequence seeded by `seed`: a random binary grid of `cells^3` (each cell 1
/// with probability `p`), upsampled trilinearly by `cell` and cropped at a random shift in
/// `[0, cell)` per axis. Each mask has its own ChaCha8 stream, so the masks do not depend on
/// how they are split between threads or batches.
fn mask(side: usize, cell: usize, p: f64, seed: u64, index: usize, out: &mut [f32]) {
    let cells = side.div_ceil(cell) + 1;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    let grid: Vec<f32> = (0..cells.pow(3))
        .map(|_| if rng.random_bool(p) { 1.0 } else { 0.0 })
        .collect();
    let shifts: [usize; 3] = std::array::from_fn(|_| rng.random_range(0..cell));
    let [wz, wy, wx] = shifts.map(|s| axis(side, cells, cell, s));
    let at = |z: usize, y: usize, x: usize| grid[(z * cells + y) * cells + x];
    let mut k = 0;
    for &(z0, z1, fz) in &wz {
        for &(y0, y1, fy) in &wy {
            for &(x0, x1, fx) in &wx {
                let c = |z: usize| {
                    let a = at(z, y0, x0) * (1.0 - fx) + at(z, y0, x1) * fx;
                    let b = at(z, y1, x0) * (1.0 - fx) + at(z, y1, x1) * fx;
                    a * (1.0 - fy) + b * fy
                };
                out[k] = c(z0) * (1.0 - fz) + c(z1) * fz;
                k += 1;
            }
        }
    }
}

/// RISE saliency: `S(v) = 1 / (N p) * sum_i P(x ⊙ M_i) M_i(v)`, the mean of `N` random smooth
/// masks weighted by the model's probability (sigmoid of the logit, the paper's class score) on
/// the scan with each mask applied (`baseline + M (x - baseline)`), normalised by the expected
/// mask value `p` as in the paper. Values lie in `[0, 1]`-ish: the expected probability when a
/// voxel is kept; a voxel the model ignores scores about the mean probability.
pub fn rise(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    settings: &RiseSettings,
    device: &Device,
) -> Result<ImageAttribution, ExplainError> {
    let model = &model.valid();
    let input = image_input(model, config, sample, side)?;
    let RiseSettings {
        masks,
        cell,
        p,
        baseline,
        seed,
        batch,
    } = *settings;
    if masks == 0 || cell == 0 || batch == 0 || !(p > 0.0 && p <= 1.0) {
        return Err(ExplainError::Setting(format!(
            "RISE needs masks, cell and batch >= 1 and p in (0, 1]: {settings:?}"
        )));
    }
    let n = input.n;
    let scan = input.scan;
    let mut sal = vec![0f64; n];
    let mut first = 0;
    while first < masks {
        let k = batch.min(masks - first);
        let mut ms = vec![0f32; k * n];
        ms.par_chunks_mut(n)
            .enumerate()
            .for_each(|(j, m)| mask(side, cell, p, seed, first + j, m));
        let logits = variant_logits(model, config, sample, &input, k, k, device, |j, s| {
            for ((out, &x), &m) in s.iter_mut().zip(scan).zip(&ms[j * n..(j + 1) * n]) {
                *out = baseline + m * (x - baseline);
            }
        })?;
        for (m, &z) in ms.chunks(n).zip(&logits) {
            let prob = sigmoid(f64::from(z));
            for (s, &v) in sal.iter_mut().zip(m) {
                *s += prob * f64::from(v);
            }
        }
        first += k;
    }
    let norm = masks as f64 * p;
    let logit = logit_of(model, config, sample, side, device)?;
    Ok(ImageAttribution {
        method: "rise",
        side,
        values: sal.into_iter().map(|v| (v / norm) as f32).collect(),
        logit,
        convergence_delta: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_smooth_reproducible_and_keep_about_p() {
        let (side, cell) = (8usize, 4usize);
        let mut a = vec![0f32; side.pow(3)];
        let mut b = vec![0f32; side.pow(3)];
        mask(side, cell, 0.5, 3, 7, &mut a);
        mask(side, cell, 0.5, 3, 7, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        let mut mean = 0.0;
        for i in 0..200 {
            mask(side, cell, 0.5, 3, i, &mut a);
            mean += a.iter().map(|v| f64::from(*v)).sum::<f64>() / a.len() as f64;
        }
        mean /= 200.0;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
        // All ones when every cell is kept.
        mask(side, cell, 1.0, 3, 0, &mut a);
        assert!(a.iter().all(|v| (*v - 1.0).abs() < 1e-6));
    }
}
