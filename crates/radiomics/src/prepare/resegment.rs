//! Re-segmentation of the intensity mask (IBSI 1 section 2.5): an intensity range, then outlier
//! filtering at mean ± k·SD of what the range left.

use ndarray::{Array3, Zip};

use crate::settings::Resegmentation;

/// Removes from `int_mask` the voxels that the range or the outlier rule exclude.
pub fn resegment(image: &Array3<f64>, int_mask: &mut Array3<bool>, settings: &Resegmentation) {
    let lo = settings.range_min.unwrap_or(f64::NEG_INFINITY);
    let hi = settings.range_max.unwrap_or(f64::INFINITY);
    Zip::from(&mut *int_mask).and(image).for_each(|m, v| {
        if *m && !(*v >= lo && *v <= hi) {
            *m = false;
        }
    });
    if let Some(k) = settings.outlier_sigma {
        let values: Vec<f64> = image
            .iter()
            .zip(int_mask.iter())
            .filter(|(_, m)| **m)
            .map(|(v, _)| *v)
            .collect();
        if values.is_empty() {
            return;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        // Population SD, as IBSI's definition of the outlier bounds uses.
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let (lo, hi) = (mean - k * sd, mean + k * sd);
        Zip::from(int_mask).and(image).for_each(|m, v| {
            if *m && !(*v >= lo && *v <= hi) {
                *m = false;
            }
        });
    }
}
