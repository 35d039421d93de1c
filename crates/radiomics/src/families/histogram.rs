//! Intensity-histogram features (IBSI 1 section 3.4), on the discretised grey levels.

use super::statistics::Summary;
use crate::util::FeatureBuilder;
use crate::{Family, Feature};

/// The 23 IBSI intensity-histogram features of grey levels `levels` (1..=`n_levels`).
pub fn compute(levels: &[u32], n_levels: u32) -> Vec<Feature> {
    let values: Vec<f64> = levels.iter().map(|l| f64::from(*l)).collect();
    let s = Summary::of(&values);
    let n = values.len() as f64;
    let mut counts = vec![0usize; n_levels.max(1) as usize];
    for l in levels {
        if let Some(c) = counts.get_mut((*l as usize).saturating_sub(1)) {
            *c += 1;
        }
    }
    let p: Vec<f64> = counts.iter().map(|c| *c as f64 / n).collect();
    let entropy: f64 = -p
        .iter()
        .filter(|v| **v > 0.0)
        .map(|v| v * v.log2())
        .sum::<f64>();
    let uniformity: f64 = p.iter().map(|v| v * v).sum();
    // Mode: the most frequent grey level; ties go to the level closest to the mean.
    let max_count = counts.iter().copied().max().unwrap_or(0);
    let mode = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == max_count)
        .map(|(i, _)| (i + 1) as f64)
        .min_by(|a, b| (a - s.mean).abs().total_cmp(&(b - s.mean).abs()))
        .unwrap_or(f64::NAN);
    let (max_grad, max_grad_g, min_grad, min_grad_g) = gradients(&counts);
    let constant = "undefined for a single grey level (zero variance)";
    let mut b = FeatureBuilder::new(Family::IntensityHistogram);
    b.push("ih_mean", "X6K6", None, s.mean, None);
    b.push("ih_var", "CH89", None, s.var, None);
    b.push("ih_skew", "88K1", None, s.skew, Some(constant));
    b.push("ih_kurt", "C3I7", None, s.kurt, Some(constant));
    b.push("ih_median", "WIFQ", None, s.median, None);
    b.push("ih_min", "1PR8", None, s.min, None);
    b.push("ih_p10", "GPMT", None, s.p10, None);
    b.push("ih_p90", "OZ0C", None, s.p90, None);
    b.push("ih_max", "3NCY", None, s.max, None);
    b.push("ih_mode", "AMMC", None, mode, None);
    b.push("ih_iqr", "WR0O", None, s.p75 - s.p25, None);
    b.push("ih_range", "5Z3W", None, s.max - s.min, None);
    b.push("ih_mad", "D2ZX", None, s.mad, None);
    b.push("ih_rmad", "WRZB", None, s.rmad, None);
    b.push("ih_medad", "4RNL", None, s.medad, None);
    b.push("ih_cov", "CWYJ", None, s.cov, None);
    b.push("ih_qcod", "SLWD", None, s.qcod, None);
    b.push(
        "ih_entropy",
        "TLU2",
        Some("firstorder_Entropy"),
        entropy,
        None,
    );
    b.push(
        "ih_uniformity",
        "BJ5W",
        Some("firstorder_Uniformity"),
        uniformity,
        None,
    );
    let one_bin = "undefined for a histogram with a single bin";
    b.push("ih_max_grad", "12CE", None, max_grad, Some(one_bin));
    b.push("ih_max_grad_g", "8E6O", None, max_grad_g, Some(one_bin));
    b.push("ih_min_grad", "VQB3", None, min_grad, Some(one_bin));
    b.push("ih_min_grad_g", "RHQZ", None, min_grad_g, Some(one_bin));
    b.finish()
}

/// Maximum and minimum of the histogram gradient (central differences inside, one-sided at
/// the ends) and the grey levels where they occur (the first on ties).
fn gradients(counts: &[usize]) -> (f64, f64, f64, f64) {
    let h: Vec<f64> = counts.iter().map(|c| *c as f64).collect();
    let n = h.len();
    if n < 2 {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let grad: Vec<f64> = (0..n)
        .map(|i| match i {
            0 => h[1] - h[0],
            i if i == n - 1 => h[n - 1] - h[n - 2],
            i => (h[i + 1] - h[i - 1]) / 2.0,
        })
        .collect();
    let (mut imax, mut imin) = (0, 0);
    for (i, g) in grad.iter().enumerate() {
        if *g > grad[imax] {
            imax = i;
        }
        if *g < grad[imin] {
            imin = i;
        }
    }
    (grad[imax], (imax + 1) as f64, grad[imin], (imin + 1) as f64)
}
