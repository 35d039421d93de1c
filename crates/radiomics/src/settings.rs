//! Settings of the preparation pipeline and of the feature families, readable as a TOML file.
//!
//! Every section has serde defaults so a settings file only needs the parts that differ from
//! [`Settings::default`] (which equals [`Settings::ibsi_digital_phantom`]: no resampling, no
//! re-segmentation, no discretisation beyond the integer grey levels). See `presets.rs` for the
//! PyRadiomics and IBSI configurations.

use serde::{Deserialize, Serialize};

use crate::RadiomicsError;
use crate::texture::TextureSettings;

/// All settings of one extraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Free text naming the preset the settings came from, for provenance in outputs.
    pub description: String,
    pub resampling: Resampling,
    pub resegmentation: Resegmentation,
    /// Discretisation for the intensity histogram and the texture families.
    pub discretisation: Discretisation,
    /// Discretisation for the intensity-volume histogram (IBSI uses a finer one than texture).
    pub ivh_discretisation: Discretisation,
    pub local_intensity: LocalIntensitySettings,
    pub morphology: MorphologySettings,
    /// Texture-family settings (owned by the texture module; every field has a default).
    pub texture: TextureSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            description: "IBSI digital phantom (no image processing)".to_string(),
            resampling: Resampling::default(),
            resegmentation: Resegmentation::default(),
            discretisation: Discretisation::None,
            ivh_discretisation: Discretisation::None,
            local_intensity: LocalIntensitySettings::default(),
            morphology: MorphologySettings::default(),
            texture: TextureSettings::default(),
        }
    }
}

/// Interpolation to a new voxel grid (IBSI 1 section 2.4).
///
/// The new grid is centre-aligned with the old one as IBSI prescribes: along each axis it has
/// `ceil(n * old / new)` voxels and its centre coincides with the original grid's centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resampling {
    /// New voxel spacing `[x, y, z]` in mm; absent means no resampling.
    pub spacing_mm: Option<[f64; 3]>,
    /// Interpolate within slices only and keep the slice grid (IBSI 2D configurations A/B).
    pub in_plane_only: bool,
    pub image_interpolation: Interpolation,
    pub mask_interpolation: Interpolation,
    /// A resampled mask voxel belongs to the ROI when its interpolated value is at least this
    /// partial-volume fraction (IBSI uses 0.5).
    pub mask_threshold: f64,
    /// Round interpolated intensities to the nearest integer (IBSI does this for CT, whose
    /// Hounsfield units are integers).
    pub round_intensities: bool,
}

impl Default for Resampling {
    fn default() -> Self {
        Resampling {
            spacing_mm: None,
            in_plane_only: false,
            image_interpolation: Interpolation::Linear,
            mask_interpolation: Interpolation::Linear,
            mask_threshold: 0.5,
            round_intensities: false,
        }
    }
}

/// Interpolation kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Trilinear (bilinear when `in_plane_only`).
    Linear,
    /// Cubic B-spline with prefiltering (scipy `map_coordinates(order=3)`), IBSI's "tricubic
    /// spline" of configuration E. Image only: masks are always interpolated linearly.
    CubicBspline,
}

/// Re-segmentation of the intensity mask (IBSI 1 section 2.5). The morphological mask keeps
/// every voxel, so shape features do not change with the intensity window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resegmentation {
    /// Voxels below this intensity leave the intensity mask.
    pub range_min: Option<f64>,
    /// Voxels above this intensity leave the intensity mask.
    pub range_max: Option<f64>,
    /// Outlier filtering: voxels outside mean ± `outlier_sigma` standard deviations (computed
    /// after the range step) leave the intensity mask. IBSI uses 3.
    pub outlier_sigma: Option<f64>,
}

/// Grey-level discretisation (IBSI 1 section 2.7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Discretisation {
    /// No discretisation: intensities are used as grey levels (they must be integers ≥ 1 for
    /// the histogram and texture families, as in the IBSI digital phantom; for the IVH any
    /// values are accepted and every distinct intensity is one step).
    None,
    /// Fixed bin number: `floor(bins * (x - min) / (max - min)) + 1`, the maximum in bin `bins`.
    FixedBinNumber { bins: u32 },
    /// Fixed bin size: `floor((x - lower) / width_mm) + 1`. `lower_bound` defaults to the lower
    /// bound of the re-segmentation range, else the ROI minimum (IBSI's rule).
    FixedBinSize {
        width: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lower_bound: Option<f64>,
    },
    /// PyRadiomics' `binWidth` rule: bins start at `floor(min / width) * width`, so bin edges
    /// are multiples of the width whatever the ROI minimum is.
    PyradiomicsBinWidth { width: f64 },
}

/// Local intensity features (IBSI 1 section 3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalIntensitySettings {
    /// Compute the local and global intensity peaks. They are IBSI-only and cost a sphere
    /// mean per ROI voxel; when false both are NaN with a note.
    pub enabled: bool,
    /// Volume of the sphere whose mean intensity is the peak (IBSI: 1 cm³).
    pub sphere_volume_cm3: f64,
}

impl Default for LocalIntensitySettings {
    fn default() -> Self {
        LocalIntensitySettings {
            enabled: true,
            sphere_volume_cm3: 1.0,
        }
    }
}

/// Morphology family settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MorphologySettings {
    /// Moran's I and Geary's C are computed exactly by FFT over the ROI's bounding box (zero
    /// padded to twice its size); above this voxel count they are reported as NaN with a note
    /// instead of allocating gigabytes in a batch run.
    pub autocorrelation_max_voxels: usize,
    /// Divide the voxel-position covariance of the PCA axes by `n` instead of `n − 1`. IBSI's
    /// reference values use `n − 1` (digital phantom minor axis 9.31 vs 9.24 with `n`);
    /// PyRadiomics divides by `n` (axis lengths differ by a factor `1 + 1/(2n)`).
    pub pca_population_covariance: bool,
    /// How each marching cube is triangulated (mesh volume, area and everything derived).
    pub mesh: MeshTriangulation,
}

/// Triangulation of the marching-cubes surface. Both put the vertices at the same edge
/// midpoints (so diameters agree); they differ inside cubes with an ambiguous face, where the
/// surface can be triangulated in more than one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeshTriangulation {
    /// A watertight mesh whose cube configurations are derived in code; it reproduces the
    /// IBSI consensus mesh volume and area (the IBSI reference tests use it).
    #[default]
    Ibsi,
    /// PyRadiomics' per-cube classic marching-cubes triangulation (ambiguous faces resolved
    /// per cube, so the surface need not be watertight), to reproduce its `shape_MeshVolume`,
    /// `shape_SurfaceArea` and the features derived from them.
    Pyradiomics,
}

impl Default for MorphologySettings {
    fn default() -> Self {
        MorphologySettings {
            autocorrelation_max_voxels: 2_000_000,
            pca_population_covariance: false,
            mesh: MeshTriangulation::Ibsi,
        }
    }
}

impl Settings {
    /// Parses a settings file; missing sections and fields take their defaults.
    pub fn from_toml_str(s: &str) -> Result<Self, RadiomicsError> {
        let settings: Settings = toml::from_str(s)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Writes the settings as TOML (the format [`Settings::from_toml_str`] reads).
    pub fn to_toml_string(&self) -> String {
        // Serialising plain structs of numbers, strings and options cannot fail.
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# cannot serialise settings: {e}\n"))
    }

    /// Checks ranges that serde cannot express, so bad files fail before any image is read.
    pub fn validate(&self) -> Result<(), RadiomicsError> {
        let invalid =
            |field: &'static str, reason: String| RadiomicsError::InvalidSetting { field, reason };
        if let Some(s) = self.resampling.spacing_mm
            && s.iter().any(|v| !v.is_finite() || *v <= 0.0)
        {
            return Err(invalid(
                "resampling.spacing_mm",
                format!("{s:?}: every spacing must be finite and > 0"),
            ));
        }
        if self.resampling.mask_interpolation != Interpolation::Linear {
            return Err(invalid(
                "resampling.mask_interpolation",
                "only \"linear\" is supported for masks (a spline overshoots the 0/1 mask)"
                    .to_string(),
            ));
        }
        let t = self.resampling.mask_threshold;
        if !(t > 0.0 && t <= 1.0) {
            return Err(invalid(
                "resampling.mask_threshold",
                format!("{t}: must lie in (0, 1]"),
            ));
        }
        if let (Some(lo), Some(hi)) = (self.resegmentation.range_min, self.resegmentation.range_max)
            && lo > hi
        {
            return Err(invalid(
                "resegmentation",
                format!("range_min {lo} > range_max {hi}"),
            ));
        }
        if let Some(s) = self.resegmentation.outlier_sigma
            && !(s.is_finite() && s > 0.0)
        {
            return Err(invalid(
                "resegmentation.outlier_sigma",
                format!("{s}: must be > 0"),
            ));
        }
        for (field, d) in [
            ("discretisation", &self.discretisation),
            ("ivh_discretisation", &self.ivh_discretisation),
        ] {
            match d {
                Discretisation::FixedBinNumber { bins } if *bins == 0 => {
                    return Err(invalid(field, "bins must be ≥ 1".to_string()));
                }
                Discretisation::FixedBinSize { width, .. }
                | Discretisation::PyradiomicsBinWidth { width }
                    if !(width.is_finite() && *width > 0.0) =>
                {
                    return Err(invalid(field, format!("bin width {width} must be > 0")));
                }
                _ => {}
            }
        }
        let v = self.local_intensity.sphere_volume_cm3;
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(
                "local_intensity.sphere_volume_cm3",
                format!("{v}: must be > 0"),
            ));
        }
        Ok(())
    }
}
