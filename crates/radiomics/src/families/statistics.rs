//! Intensity-based statistical features (IBSI 1 section 3.3), on the intensity-mask values.

use crate::util::{FeatureBuilder, mean, percentile_sorted, sorted};
use crate::{Family, Feature};

/// Moments and order statistics shared by the statistics and intensity-histogram families,
/// which IBSI defines with the same formulas (on intensities and on grey levels).
pub struct Summary {
    pub mean: f64,
    pub var: f64,
    pub skew: f64,
    pub kurt: f64,
    pub median: f64,
    pub min: f64,
    pub p10: f64,
    pub p25: f64,
    pub p75: f64,
    pub p90: f64,
    pub max: f64,
    pub mad: f64,
    pub rmad: f64,
    pub medad: f64,
    pub cov: f64,
    pub qcod: f64,
}

impl Summary {
    /// Summary of a non-empty sample (NaN entries where the sample makes a value undefined,
    /// e.g. skewness of a constant).
    pub fn of(values: &[f64]) -> Self {
        let s = sorted(values);
        let n = values.len() as f64;
        let mu = mean(values);
        let m2 = values.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n;
        let m3 = values.iter().map(|v| (v - mu).powi(3)).sum::<f64>() / n;
        let m4 = values.iter().map(|v| (v - mu).powi(4)).sum::<f64>() / n;
        let (p10, p25, median, p75, p90) = (
            percentile_sorted(&s, 10.0),
            percentile_sorted(&s, 25.0),
            percentile_sorted(&s, 50.0),
            percentile_sorted(&s, 75.0),
            percentile_sorted(&s, 90.0),
        );
        // Robust MAD: values between the 10th and 90th percentiles, around their own mean.
        let robust: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| *v >= p10 && *v <= p90)
            .collect();
        let robust_mean = mean(&robust);
        let rmad = robust.iter().map(|v| (v - robust_mean).abs()).sum::<f64>()
            / robust.len().max(1) as f64;
        Summary {
            mean: mu,
            var: m2,
            skew: if m2 > 0.0 {
                m3 / m2.powf(1.5)
            } else {
                f64::NAN
            },
            kurt: if m2 > 0.0 {
                m4 / (m2 * m2) - 3.0
            } else {
                f64::NAN
            },
            median,
            min: s.first().copied().unwrap_or(f64::NAN),
            p10,
            p25,
            p75,
            p90,
            max: s.last().copied().unwrap_or(f64::NAN),
            mad: values.iter().map(|v| (v - mu).abs()).sum::<f64>() / n,
            rmad,
            medad: values.iter().map(|v| (v - median).abs()).sum::<f64>() / n,
            cov: m2.sqrt() / mu,
            qcod: (p75 - p25) / (p75 + p25),
        }
    }
}

/// The 18 IBSI intensity statistics of the intensity-ROI values.
pub fn compute(values: &[f64]) -> Vec<Feature> {
    let s = Summary::of(values);
    let n = values.len() as f64;
    let energy: f64 = values.iter().map(|v| v * v).sum();
    let constant = "undefined for a constant intensity (zero variance)";
    let mut b = FeatureBuilder::new(Family::Statistics);
    b.push("stat_mean", "Q4LE", Some("firstorder_Mean"), s.mean, None);
    b.push("stat_var", "ECT3", Some("firstorder_Variance"), s.var, None);
    b.push(
        "stat_skew",
        "KE2A",
        Some("firstorder_Skewness"),
        s.skew,
        Some(constant),
    );
    // PyRadiomics' Kurtosis is the plain (not excess) kurtosis: firstorder_Kurtosis = this + 3.
    b.push("stat_kurt", "IPH6", None, s.kurt, Some(constant));
    b.push(
        "stat_median",
        "Y12H",
        Some("firstorder_Median"),
        s.median,
        None,
    );
    b.push("stat_min", "1GSF", Some("firstorder_Minimum"), s.min, None);
    b.push(
        "stat_p10",
        "QG58",
        Some("firstorder_10Percentile"),
        s.p10,
        None,
    );
    b.push(
        "stat_p90",
        "8DWT",
        Some("firstorder_90Percentile"),
        s.p90,
        None,
    );
    b.push("stat_max", "84IY", Some("firstorder_Maximum"), s.max, None);
    b.push(
        "stat_iqr",
        "SALO",
        Some("firstorder_InterquartileRange"),
        s.p75 - s.p25,
        None,
    );
    b.push(
        "stat_range",
        "2OJQ",
        Some("firstorder_Range"),
        s.max - s.min,
        None,
    );
    b.push(
        "stat_mad",
        "4FUA",
        Some("firstorder_MeanAbsoluteDeviation"),
        s.mad,
        None,
    );
    b.push(
        "stat_rmad",
        "1128",
        Some("firstorder_RobustMeanAbsoluteDeviation"),
        s.rmad,
        None,
    );
    b.push("stat_medad", "N72L", None, s.medad, None);
    b.push(
        "stat_cov",
        "7TET",
        None,
        s.cov,
        Some("undefined when the mean intensity is 0"),
    );
    b.push(
        "stat_qcod",
        "9S40",
        None,
        s.qcod,
        Some("undefined when the 25th and 75th percentiles sum to 0"),
    );
    b.push(
        "stat_energy",
        "N8CA",
        Some("firstorder_Energy"),
        energy,
        None,
    );
    b.push(
        "stat_rms",
        "5ZWQ",
        Some("firstorder_RootMeanSquared"),
        (energy / n).sqrt(),
        None,
    );
    b.finish()
}

/// First-order features PyRadiomics reports that IBSI does not define (tags `pyrad_*`, no IBSI
/// code): `firstorder_Kurtosis`, the plain kurtosis `m4 / m2²` (IBSI `stat_kurt` is the excess
/// kurtosis, 3 less), and `firstorder_TotalEnergy`, the energy times the voxel volume in mm³
/// (PyRadiomics' default `voxelArrayShift` is 0, so no shift is added).
pub fn pyradiomics_extras(values: &[f64], voxel_volume_mm3: f64) -> Vec<Feature> {
    let n = values.len() as f64;
    let mu = mean(values);
    let m2 = values.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n;
    let m4 = values.iter().map(|v| (v - mu).powi(4)).sum::<f64>() / n;
    let energy: f64 = values.iter().map(|v| v * v).sum();
    let mut b = FeatureBuilder::new(Family::Statistics);
    b.push(
        "pyrad_firstorder_Kurtosis",
        "",
        Some("firstorder_Kurtosis"),
        if m2 > 0.0 { m4 / (m2 * m2) } else { f64::NAN },
        Some("undefined for a constant intensity (PyRadiomics reports 0)"),
    );
    b.push(
        "pyrad_firstorder_TotalEnergy",
        "",
        Some("firstorder_TotalEnergy"),
        energy * voxel_volume_mm3,
        None,
    );
    b.finish()
}
