//! Grey-level discretisation (IBSI 1 section 2.7) of the intensity-ROI values.

use crate::RadiomicsError;
use crate::settings::{Discretisation, Resegmentation};

/// Discretised grey levels of a list of intensities.
#[derive(Debug, Clone, PartialEq)]
pub struct Discretised {
    /// Grey level `1..=n_levels` of each input value, same order.
    pub levels: Vec<u32>,
    /// Number of grey levels `N_g`.
    pub n_levels: u32,
    /// Intensity of the lower edge of bin 1 and the bin width, when bins have a fixed width in
    /// intensity units (FBS, PyRadiomics, FBN); `None` for [`Discretisation::None`].
    pub bins: Option<BinGeometry>,
}

/// Lower edge of the first bin and bin width, in intensity units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinGeometry {
    pub lower_edge: f64,
    pub width: f64,
}

impl BinGeometry {
    /// Intensity at the centre of grey level `level` (1-based).
    pub fn centre(&self, level: u32) -> f64 {
        self.lower_edge + (f64::from(level) - 0.5) * self.width
    }
}

/// Discretises `values` (the intensity ROI) by `method`. `reseg` supplies IBSI's default lower
/// bound for fixed bin size (the re-segmentation range minimum).
pub fn discretise(
    values: &[f64],
    method: &Discretisation,
    reseg: &Resegmentation,
) -> Result<Discretised, RadiomicsError> {
    let Some((min, max)) = min_max(values) else {
        return Err(RadiomicsError::EmptyRoi {
            step: "re-segmentation",
        });
    };
    let fixed_width = |lower: f64, width: f64| -> Discretised {
        // A bin width far below the intensity range would make enormous matrices; clamp so a
        // level always fits in u32.
        let level = |v: f64| {
            (((v - lower) / width)
                .floor()
                .clamp(0.0, f64::from(u32::MAX - 1)) as u32)
                + 1
        };
        let levels: Vec<u32> = values.iter().map(|v| level(*v)).collect();
        let n_levels = levels.iter().copied().max().unwrap_or(1);
        Discretised {
            levels,
            n_levels,
            bins: Some(BinGeometry {
                lower_edge: lower,
                width,
            }),
        }
    };
    Ok(match method {
        Discretisation::None => {
            if let Some(bad) = values
                .iter()
                .find(|v| v.fract() != 0.0 || **v < 1.0 || **v > f64::from(u32::MAX))
            {
                return Err(RadiomicsError::InvalidSetting {
                    field: "discretisation",
                    reason: format!(
                        "method \"none\" uses intensities as grey levels, which must be integers ≥ 1, but the ROI holds {bad}; choose fixed_bin_number or fixed_bin_size"
                    ),
                });
            }
            let levels: Vec<u32> = values.iter().map(|v| *v as u32).collect();
            let n_levels = levels.iter().copied().max().unwrap_or(1);
            Discretised {
                levels,
                n_levels,
                bins: None,
            }
        }
        Discretisation::FixedBinNumber { bins } => {
            let n = *bins;
            let range = max - min;
            let levels = values
                .iter()
                .map(|v| {
                    if range <= 0.0 {
                        1
                    } else {
                        ((f64::from(n) * (v - min) / range).floor() as u32 + 1).min(n)
                    }
                })
                .collect();
            Discretised {
                levels,
                n_levels: n,
                bins: Some(BinGeometry {
                    lower_edge: min,
                    width: if range > 0.0 {
                        range / f64::from(n)
                    } else {
                        1.0
                    },
                }),
            }
        }
        Discretisation::FixedBinSize { width, lower_bound } => {
            let lower = lower_bound.or(reseg.range_min).unwrap_or(min);
            fixed_width(lower, *width)
        }
        Discretisation::PyradiomicsBinWidth { width } => {
            fixed_width((min / width).floor() * width, *width)
        }
    })
}

/// The most grey levels the histogram and texture families accept. Their matrices are dense
/// in `N_g` (a co-occurrence matrix holds `N_g²` counts, and 13 of them are built at once), so
/// a fixed bin size whose lower bound lies far below the ROI (a re-segmentation minimum of
/// -1e9 HU) would otherwise ask for petabytes and abort. 4096 levels is 1 HU bins over the
/// whole CT range, far beyond any published radiomics setting.
pub const MAX_GREY_LEVELS: u32 = 4096;

/// Refuses a discretisation with more than [`MAX_GREY_LEVELS`] levels, naming the setting that
/// made them.
pub fn check_grey_levels(d: &Discretised, method: &Discretisation) -> Result<(), RadiomicsError> {
    if d.n_levels <= MAX_GREY_LEVELS {
        return Ok(());
    }
    let cause = match (method, d.bins) {
        (Discretisation::None, _) => {
            "method \"none\" uses the intensities themselves as levels; choose fixed_bin_number or fixed_bin_size".to_string()
        }
        (_, Some(b)) => format!(
            "bins of {} from a lower edge at {} (the discretisation's lower_bound, else resegmentation.range_min) reach the ROI's intensities only after that many bins; set discretisation.lower_bound near the ROI's minimum or narrow the re-segmentation range",
            b.width, b.lower_edge
        ),
        (_, None) => "reduce the number of bins".to_string(),
    };
    Err(RadiomicsError::InvalidSetting {
        field: "discretisation",
        reason: format!(
            "{} grey levels, more than the {MAX_GREY_LEVELS} texture matrices allow: {cause}",
            d.n_levels
        ),
    })
}

/// Minimum and maximum of a non-empty slice.
pub fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    let first = *values.first()?;
    Some(
        values
            .iter()
            .fold((first, first), |(lo, hi), v| (lo.min(*v), hi.max(*v))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_bin_number_puts_maximum_in_last_bin() {
        let d = discretise(
            &[0.0, 5.0, 10.0],
            &Discretisation::FixedBinNumber { bins: 4 },
            &Resegmentation::default(),
        );
        assert_eq!(d.ok().map(|d| d.levels), Some(vec![1, 3, 4]));
    }

    #[test]
    fn pyradiomics_bins_start_at_multiple_of_width() {
        let d = discretise(
            &[-26.0, 0.0, 24.0],
            &Discretisation::PyradiomicsBinWidth { width: 25.0 },
            &Resegmentation::default(),
        );
        // Edges -50, -25, 0, 25: -26 -> bin 1, 0 -> bin 3, 24 -> bin 3.
        assert_eq!(d.ok().map(|d| d.levels), Some(vec![1, 3, 3]));
    }

    #[test]
    fn fixed_bin_size_uses_resegmentation_lower_bound() {
        let reseg = Resegmentation {
            range_min: Some(-500.0),
            ..Resegmentation::default()
        };
        let d = discretise(
            &[-500.0, -476.0, -475.0],
            &Discretisation::FixedBinSize {
                width: 25.0,
                lower_bound: None,
            },
            &reseg,
        );
        assert_eq!(d.ok().map(|d| d.levels), Some(vec![1, 1, 2]));
    }

    #[test]
    fn none_rejects_fractional_intensities() {
        assert!(discretise(&[1.5], &Discretisation::None, &Resegmentation::default()).is_err());
    }

    #[test]
    fn a_lower_bound_far_below_the_roi_is_refused_by_name() {
        let method = Discretisation::FixedBinSize {
            width: 25.0,
            lower_bound: None,
        };
        let reseg = Resegmentation {
            range_min: Some(-1e9),
            ..Resegmentation::default()
        };
        let d = discretise(&[-50.0, 0.0, 40.0], &method, &reseg).unwrap();
        assert_eq!(d.n_levels, 40_000_002);
        let e = check_grey_levels(&d, &method).unwrap_err().to_string();
        assert!(e.contains("40000002 grey levels"), "{e}");
        assert!(
            e.contains("resegmentation.range_min") && e.contains("-1000000000"),
            "{e}"
        );
        // The same bins from a lower bound near the ROI pass.
        let reseg = Resegmentation {
            range_min: Some(-1000.0),
            ..Resegmentation::default()
        };
        let d = discretise(&[-50.0, 0.0, 40.0], &method, &reseg).unwrap();
        assert!(check_grey_levels(&d, &method).is_ok());
    }
}
