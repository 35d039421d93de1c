//! Faithfulness of an attribution: deletion and insertion curves (Petsiuk et al., 2018) and the
//! model-randomisation sanity check (Adebayo et al., 2018).

use burn::module::Module;
use burn::tensor::Device;
use oncolens_nn::batch::Sample;
use oncolens_nn::{ModelConfig, MultimodalModel};

use crate::common::{image_input, sigmoid, variant_logits};
use crate::{ExplainError, ImageAttribution};

/// Deletion and insertion scores of one attribution.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Faithfulness {
    /// Area under the probability curve as the most relevant voxels are removed first: lower is
    /// more faithful (the prediction collapses quickly).
    pub deletion_auc: f64,
    /// Area under the probability curve as the most relevant voxels are inserted first into the
    /// baseline image: higher is more faithful.
    pub insertion_auc: f64,
    /// Probability after removing `k / steps` of the voxels, `k = 0..=steps`.
    pub deletion_curve: Vec<f64>,
    /// Probability after inserting `k / steps` of the voxels, `k = 0..=steps`.
    pub insertion_curve: Vec<f64>,
}

/// Trapezoid area under `curve`, sampled at equally spaced fractions of `[0, 1]`.
fn trapezoid(curve: &[f64]) -> f64 {
    if curve.len() < 2 {
        return curve.first().copied().unwrap_or(0.0);
    }
    let h = 1.0 / (curve.len() - 1) as f64;
    curve.windows(2).map(|w| (w[0] + w[1]) * h / 2.0).sum()
}

/// Deletion and insertion AUC of `attribution` (`side^3` values on the scan channel).
///
/// The voxels are ranked by attribution, highest first (signed: a negative attribution is
/// evidence against the prediction and comes last; ties keep voxel order). Deletion starts from
/// the scan and sets the voxels to `baseline` in `steps` equal chunks; insertion starts from the
/// all-`baseline` scan and restores the scan's voxels in the same order. After each chunk the
/// model's probability (sigmoid of the logit) is recorded, giving `steps + 1` points at
/// fractions `k / steps`; the AUC is the trapezoid rule over the fraction in `[0, 1]`, so it is
/// the mean probability along the curve, in `[0, 1]`. The curves' images are evaluated in
/// batches of 16.
#[allow(clippy::too_many_arguments)]
pub fn deletion_insertion(
    model: &MultimodalModel,
    config: &ModelConfig,
    sample: &Sample,
    side: usize,
    attribution: &[f32],
    steps: usize,
    baseline: f32,
    device: &Device,
) -> Result<Faithfulness, ExplainError> {
    let model = &model.valid();
    let input = image_input(model, config, sample, side)?;
    let n = input.n;
    if attribution.len() != n {
        return Err(ExplainError::Setting(format!(
            "attribution has {} values, expected {side}^3",
            attribution.len()
        )));
    }
    if steps == 0 {
        return Err(ExplainError::Setting("steps must be at least 1".into()));
    }
    let mut order: Vec<usize> = (0..n).collect();
    // NaN ranks last.
    order.sort_by(|&a, &b| {
        let (x, y) = (attribution[a], attribution[b]);
        y.partial_cmp(&x)
            .unwrap_or_else(|| x.is_nan().cmp(&y.is_nan()))
    });
    // rank[v]: position of voxel v in the order.
    let mut rank = vec![0usize; n];
    for (r, &v) in order.iter().enumerate() {
        rank[v] = r;
    }
    let cut = |k: usize| (k * n + steps / 2) / steps; // voxels changed after k chunks
    let scan = input.scan;
    // Variants 0..=steps: deletion; steps+1..=2 steps+1: insertion.
    let logits = variant_logits(
        model,
        config,
        sample,
        &input,
        2 * (steps + 1),
        16,
        device,
        |i, s| {
            let (deleting, k) = if i <= steps {
                (true, i)
            } else {
                (false, i - steps - 1)
            };
            let c = cut(k);
            for ((out, &x), &r) in s.iter_mut().zip(scan).zip(&rank) {
                let changed = r < c;
                *out = if changed == deleting { baseline } else { x };
            }
        },
    )?;
    let probs: Vec<f64> = logits.iter().map(|z| sigmoid(f64::from(*z))).collect();
    let (deletion_curve, insertion_curve) = probs.split_at(steps + 1);
    Ok(Faithfulness {
        deletion_auc: trapezoid(deletion_curve),
        insertion_auc: trapezoid(insertion_curve),
        deletion_curve: deletion_curve.to_vec(),
        insertion_curve: insertion_curve.to_vec(),
    })
}

/// Ranks (1-based) with ties given their average rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0f64; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            out[k] = avg;
        }
        i = j + 1;
    }
    out
}

/// Spearman rank correlation of two equally long series (Pearson correlation of their ranks,
/// ties at their average rank, as `scipy.stats.spearmanr`). 0 when either series is constant
/// (it carries no ranking to agree with).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let (ra, rb) = (ranks(&a[..n]), ranks(&b[..n]));
    let mean = (n as f64 + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        let (dx, dy) = (x - mean, y - mean);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        return 0.0;
    }
    sab / (saa * sbb).sqrt()
}

/// Result of the model-randomisation sanity check.
#[derive(Debug, Clone)]
pub struct Randomization {
    /// Spearman rank correlation of |attribution| between the trained and the randomised
    /// model: low (say below 0.5) passes; near 1 means the method ignores the weights, as an
    /// edge detector would.
    pub rank_correlation: f64,
    pub trained: ImageAttribution,
    pub randomized: ImageAttribution,
}

/// The model-randomisation check of Adebayo et al. (2018): `explain` run on `model` and on a
/// copy with every weight re-drawn from the initialisation distribution (the full, not the
/// cascading, randomisation: `MultimodalModel::new(config, device)` after seeding the device's
/// generator with `seed`), and the Spearman rank correlation of the absolute attributions.
///
/// `explain` can wrap any method, e.g. `|m| saliency(m, &config, &sample, side, &device)`.
/// The random model is drawn under [`oncolens_nn::rng::SeededRng`], so it is the same whatever
/// else the process is training.
pub fn randomization_check<F>(
    model: &MultimodalModel,
    config: &ModelConfig,
    seed: u64,
    device: &Device,
    explain: F,
) -> Result<Randomization, ExplainError>
where
    F: Fn(&MultimodalModel) -> Result<ImageAttribution, ExplainError>,
{
    let trained = explain(&model.valid())?;
    let random = {
        let _rng = oncolens_nn::rng::SeededRng::acquire(device, seed);
        MultimodalModel::new(config, device)?
    };
    let randomized = explain(&random)?;
    if trained.values.len() != randomized.values.len() {
        return Err(ExplainError::Data(
            "the two attributions differ in size".into(),
        ));
    }
    let abs = |a: &ImageAttribution| -> Vec<f64> {
        a.values.iter().map(|v| f64::from(v.abs())).collect()
    };
    Ok(Randomization {
        rank_correlation: spearman(&abs(&trained), &abs(&randomized)),
        trained,
        randomized,
    })
}

/// [`randomization_check`]'s rank correlation only.
pub fn randomization_rank_corr<F>(
    model: &MultimodalModel,
    config: &ModelConfig,
    seed: u64,
    device: &Device,
    explain: F,
) -> Result<f64, ExplainError>
where
    F: Fn(&MultimodalModel) -> Result<ImageAttribution, ExplainError>,
{
    Ok(randomization_check(model, config, seed, device, explain)?.rank_correlation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_matches_scipy() {
        // scipy.stats.spearmanr([1, 2, 2, 5, 3], [2, 1, 4, 4, 9]).statistic = 0.6052631578947368
        let r = spearman(&[1.0, 2.0, 2.0, 5.0, 3.0], &[2.0, 1.0, 4.0, 4.0, 9.0]);
        assert!((r - 0.605_263_157_894_736_8).abs() < 1e-12, "{r}");
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn trapezoid_is_the_mean_of_a_linear_curve() {
        assert!((trapezoid(&[1.0, 0.5, 0.0]) - 0.5).abs() < 1e-12);
        assert!((trapezoid(&[1.0, 1.0]) - 1.0).abs() < 1e-12);
    }
}
