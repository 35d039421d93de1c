//! Intensity-volume histogram features (IBSI 1 section 3.5).
//!
//! The IVH has its own discretisation: raw intensities ("none", natural for integer CT
//! numbers), bin centres for fixed bin size (so results stay in intensity units), or bin
//! numbers for fixed bin number (IBSI configuration E reports those).

use crate::prepare::discretise::discretise;
use crate::settings::{Discretisation, Resegmentation};
use crate::util::FeatureBuilder;
use crate::{Family, Feature, RadiomicsError};

/// IVH intensities of every ROI voxel, the total range `G` and the interval `w_d` between
/// adjacent discretised intensities (IBSI 1 section 3.5).
struct IvhValues {
    values: Vec<f64>,
    lo: f64,
    hi: f64,
    step: f64,
}

fn ivh_values(
    values: &[f64],
    method: &Discretisation,
    reseg: &Resegmentation,
) -> Result<IvhValues, RadiomicsError> {
    let (min, max) =
        crate::prepare::discretise::min_max(values).ok_or(RadiomicsError::EmptyRoi {
            step: "re-segmentation",
        })?;
    Ok(match method {
        // Calibrated discrete intensities (CT): no discretisation, G = re-segmentation range
        // (its open ends replaced by the ROI extremes), w_d = 1.
        Discretisation::None => IvhValues {
            values: values.to_vec(),
            lo: reseg.range_min.unwrap_or(min),
            hi: reseg.range_max.unwrap_or(max),
            step: 1.0,
        },
        // Arbitrary units: bin numbers 1..=N_g are the IVH intensities.
        Discretisation::FixedBinNumber { bins } => {
            let d = discretise(values, method, reseg)?;
            IvhValues {
                values: d.levels.iter().map(|l| f64::from(*l)).collect(),
                lo: 1.0,
                hi: f64::from(*bins),
                step: 1.0,
            }
        }
        // Calibrated continuous intensities: bin centres, G = [X_min + w/2, X_max - w/2].
        Discretisation::FixedBinSize { width, lower_bound } => {
            let d = discretise(values, method, reseg)?;
            let lower = lower_bound.or(reseg.range_min).unwrap_or(min);
            let upper = reseg.range_max.unwrap_or(max);
            IvhValues {
                values: d
                    .levels
                    .iter()
                    .map(|l| lower + (f64::from(*l) - 0.5) * width)
                    .collect(),
                lo: lower + 0.5 * width,
                hi: upper - 0.5 * width,
                step: *width,
            }
        }
        Discretisation::PyradiomicsBinWidth { width } => {
            let d = discretise(values, method, reseg)?;
            let lower = (min / width).floor() * width;
            let centres: Vec<f64> = d
                .levels
                .iter()
                .map(|l| lower + (f64::from(*l) - 0.5) * width)
                .collect();
            let hi = centres.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            IvhValues {
                values: centres,
                lo: lower + 0.5 * width,
                hi,
                step: *width,
            }
        }
    })
}

/// The seven IVH features.
pub fn compute(
    values: &[f64],
    method: &Discretisation,
    reseg: &Resegmentation,
) -> Result<Vec<Feature>, RadiomicsError> {
    let ivh = ivh_values(values, method, reseg)?;
    let n = ivh.values.len() as f64;
    let mut sorted = ivh.values.clone();
    sorted.sort_by(f64::total_cmp);
    let range = ivh.hi - ivh.lo;
    // Every discretised intensity of G is evaluated, also those absent from the ROI.
    let n_steps = if range > 0.0 {
        (range / ivh.step + 1e-9).floor() as usize + 1
    } else {
        1
    };
    let intensity = |k: usize| ivh.lo + k as f64 * ivh.step;
    let gamma = |k: usize| {
        if range > 0.0 {
            (intensity(k) - ivh.lo) / range
        } else {
            0.0
        }
    };
    // ν_i: fraction of voxels with intensity ≥ i (a small tolerance absorbs bin-centre noise).
    let nu = |k: usize| {
        let i = intensity(k);
        let below = sorted.partition_point(|v| *v < i - 1e-9 * ivh.step);
        (sorted.len() - below) as f64 / n
    };
    let curve: Vec<(f64, f64, f64)> = (0..n_steps)
        .map(|k| (intensity(k), gamma(k), nu(k)))
        .collect();
    // V_x: the largest volume fraction whose intensity fraction is at least x.
    let volume_at = |x: f64| {
        curve
            .iter()
            .filter(|(_, g, _)| *g >= x - 1e-12)
            .map(|(_, _, v)| *v)
            .fold(f64::NAN, f64::max)
    };
    // I_x: the smallest intensity present in at most x of the volume.
    let intensity_at = |x: f64| {
        curve
            .iter()
            .find(|(_, _, v)| *v <= x + 1e-12)
            .map_or(ivh.hi + ivh.step, |(i, _, _)| *i)
    };
    let (v10, v90) = (volume_at(0.1), volume_at(0.9));
    let (i10, i90) = (intensity_at(0.1), intensity_at(0.9));
    // Area under the IVH curve by the trapezoidal rule over γ; 0 for a single intensity.
    let auc = curve
        .windows(2)
        .map(|w| (w[1].1 - w[0].1) * (w[0].2 + w[1].2) / 2.0)
        .sum::<f64>();
    let mut b = FeatureBuilder::new(Family::IntensityVolumeHistogram);
    b.push("ivh_v10", "BC2M", None, v10, None);
    b.push("ivh_v90", "BC2M", None, v90, None);
    b.push("ivh_i10", "GBPN", None, i10, None);
    b.push("ivh_i90", "GBPN", None, i90, None);
    b.push("ivh_diff_v10_v90", "DDTU", None, v10 - v90, None);
    b.push("ivh_diff_i10_i90", "CNV2", None, i10 - i90, None);
    b.push("ivh_auc", "9CMM", None, auc, None);
    Ok(b.finish())
}
