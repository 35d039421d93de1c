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
    // Every discretised intensity of G is evaluated, also those absent from the ROI. G can span
    // far more steps than the ROI has voxels (a re-segmentation range of ±1e9 HU), so the curve
    // is never materialised: ν is a step function of the step index that changes only where a
    // voxel's intensity lies, and every feature below is found by binary search over the index
    // or summed over the runs where ν is constant. Memory and time depend on the ROI alone.
    let n_steps: usize = if range > 0.0 {
        ((range / ivh.step + 1e-9).floor() as usize).saturating_add(1)
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
    // Voxels below step k's intensity (a small tolerance absorbs bin-centre noise); ν_k, the
    // fraction of voxels with intensity ≥ step k's, is the rest. Non-decreasing in k.
    let below = |k: usize| {
        let i = intensity(k);
        sorted.partition_point(|v| *v < i - 1e-9 * ivh.step)
    };
    let nu = |k: usize| (sorted.len() - below(k)) as f64 / n;
    // V_x: the largest volume fraction whose intensity fraction is at least x, i.e. ν at the
    // first step with γ ≥ x (ν does not increase along the steps).
    let volume_at = |x: f64| {
        let k = first_step(0, n_steps, |k| gamma(k) >= x - 1e-12);
        if k < n_steps { nu(k) } else { f64::NAN }
    };
    // I_x: the smallest intensity present in at most x of the volume.
    let intensity_at = |x: f64| {
        let k = first_step(0, n_steps, |k| nu(k) <= x + 1e-12);
        if k < n_steps {
            intensity(k)
        } else {
            ivh.hi + ivh.step
        }
    };
    let (v10, v90) = (volume_at(0.1), volume_at(0.9));
    let (i10, i90) = (intensity_at(0.1), intensity_at(0.9));
    // Area under the IVH curve by the trapezoidal rule over γ; 0 for a single intensity. Within
    // a run of steps where ν is constant the trapezoids sum to ν times the run's γ extent; the
    // trapezoid joining one run to the next averages the two.
    let mut auc = 0.0;
    let mut start = 0;
    while start + 1 < n_steps {
        let count = below(start);
        let next = first_step(start + 1, n_steps, |k| below(k) > count);
        let run_nu = (sorted.len() - count) as f64 / n;
        auc += run_nu * (gamma(next - 1) - gamma(start));
        if next < n_steps {
            auc += (gamma(next) - gamma(next - 1)) * (run_nu + nu(next)) / 2.0;
        }
        start = next;
    }
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

/// The first index in `lo..hi` where the monotone predicate `pred` holds (false, then true),
/// or `hi` when it never does.
fn first_step(mut lo: usize, mut hi: usize, pred: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The IBSI definitions evaluated literally, on the materialised curve over every step of G.
    fn brute_force(values: &[f64], lo: f64, hi: f64, step: f64) -> [f64; 5] {
        let n = values.len() as f64;
        let range = hi - lo;
        let steps = if range > 0.0 {
            (range / step + 1e-9).floor() as usize + 1
        } else {
            1
        };
        let curve: Vec<(f64, f64, f64)> = (0..steps)
            .map(|k| {
                let i = lo + k as f64 * step;
                let g = if range > 0.0 { (i - lo) / range } else { 0.0 };
                let nu = values.iter().filter(|v| **v >= i - 1e-9 * step).count() as f64 / n;
                (i, g, nu)
            })
            .collect();
        let v = |x: f64| {
            curve
                .iter()
                .filter(|c| c.1 >= x - 1e-12)
                .map(|c| c.2)
                .fold(f64::NAN, f64::max)
        };
        let i = |x: f64| {
            curve
                .iter()
                .find(|c| c.2 <= x + 1e-12)
                .map_or(hi + step, |c| c.0)
        };
        let auc = curve
            .windows(2)
            .map(|w| (w[1].1 - w[0].1) * (w[0].2 + w[1].2) / 2.0)
            .sum();
        [v(0.1), v(0.9), i(0.1), i(0.9), auc]
    }

    fn features(values: &[f64], reseg: &Resegmentation) -> [f64; 5] {
        let f = compute(values, &Discretisation::None, reseg).unwrap();
        let get = |name: &str| f.iter().find(|x| x.name == name).unwrap().value;
        [
            get("ivh_v10"),
            get("ivh_v90"),
            get("ivh_i10"),
            get("ivh_i90"),
            get("ivh_auc"),
        ]
    }

    #[test]
    fn runs_equal_the_materialised_curve() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for case in 0..40 {
            let len = 1 + case * 7;
            let values: Vec<f64> = (0..len)
                .map(|_| f64::from(rng.random_range(-60i32..90)))
                .collect();
            let (min, max) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(*v), b.max(*v))
                });
            let reseg = if case % 2 == 0 {
                Resegmentation::default()
            } else {
                Resegmentation {
                    range_min: Some(-100.0),
                    range_max: Some(150.0),
                    ..Resegmentation::default()
                }
            };
            let (lo, hi) = (
                reseg.range_min.unwrap_or(min),
                reseg.range_max.unwrap_or(max),
            );
            let got = features(&values, &reseg);
            let want = brute_force(&values, lo, hi, 1.0);
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() <= 1e-12 * w.abs().max(1.0) || (g.is_nan() && w.is_nan()),
                    "case {case}: {got:?} vs {want:?}"
                );
            }
        }
    }

    /// A re-segmentation range of ±1e9 HU spans two billion intensity steps; the features come
    /// back at once, without a curve of that length, and equal the closed form for two values.
    #[test]
    fn a_huge_resegmentation_range_costs_nothing() {
        let reseg = Resegmentation {
            range_min: Some(-1e9),
            range_max: Some(1e9),
            ..Resegmentation::default()
        };
        let values = [0.0, 0.0, 0.0, 10.0];
        let f = features(&values, &reseg);
        // Every step up to 0 HU holds all voxels, from 1 to 10 HU a quarter, beyond none.
        assert_eq!(
            f[0], 1.0,
            "V10: at γ = 0.1 (-8e8 HU) every voxel lies above"
        );
        assert_eq!(f[1], 0.0, "V90: at γ = 0.9 (8e8 HU) none does");
        assert_eq!(f[2], 11.0, "I10: the first step holding at most 10%");
        assert_eq!(f[3], 1.0, "I90: the first step holding at most 90%");
        // Half the range at ν = 1, nine whole steps at 1/4, and the two joining trapezoids.
        let expected_auc = 0.5 + (0.625 + 9.0 * 0.25 + 0.125) / 2e9;
        assert!(
            (f[4] - expected_auc).abs() < 1e-15,
            "{} vs {expected_auc}",
            f[4]
        );
    }
}
