//! Named settings presets: PyRadiomics' defaults and the IBSI 1 reference configurations.

use crate::RadiomicsError;
use crate::settings::{
    Discretisation, Interpolation, LocalIntensitySettings, MeshTriangulation, MorphologySettings,
    Resampling, Resegmentation, Settings,
};
use crate::texture::{DirectionalAggregation, SliceAggregation, TextureFamily, TextureSettings};

impl Settings {
    /// PyRadiomics' defaults: no resampling, no re-segmentation, bin width 25 with bins aligned
    /// to multiples of the width (`floor(min / 25) * 25`), texture from the discretised image.
    ///
    /// PyRadiomics conventions that differ from IBSI are listed in the README (kurtosis is not
    /// excess kurtosis, `firstorder_Entropy` uses log2 of the binned histogram, percentiles and
    /// shape features on the mesh agree).
    ///
    /// Computes what PyRadiomics' default feature classes compute: GLCM and GLRLM averaged
    /// over the 13 3D directions, GLSZM, NGTDM and NGLDM (PyRadiomics' GLDM) in 3D, the
    /// first-order, histogram and shape families. The IBSI-only extras (Moran's I, Geary's C,
    /// local intensity peaks) are NaN with a note; [`Settings::pyradiomics_with_ibsi`] adds
    /// them and every other IBSI aggregation.
    pub fn pyradiomics() -> Self {
        let full = Self::pyradiomics_with_ibsi();
        Settings {
            description: "PyRadiomics defaults (binWidth 25, no resampling), PyRadiomics' \
                          feature classes"
                .to_string(),
            local_intensity: LocalIntensitySettings {
                enabled: false,
                ..full.local_intensity
            },
            morphology: MorphologySettings {
                autocorrelation_max_voxels: 0,
                ..full.morphology
            },
            texture: TextureSettings {
                families: vec![
                    TextureFamily::Glcm,
                    TextureFamily::Glrlm,
                    TextureFamily::Glszm,
                    TextureFamily::Ngtdm,
                    TextureFamily::Ngldm,
                ],
                directional_aggregations: vec![DirectionalAggregation::ThreeDAveraged],
                slice_aggregations: vec![SliceAggregation::ThreeD],
                ..full.texture
            },
            ..full
        }
    }

    /// PyRadiomics' default settings with every IBSI family and aggregation on top of
    /// PyRadiomics' own: Moran's I and Geary's C, the local intensity peaks, GLDZM, and the
    /// 2D, 2.5D and merged texture aggregations (about 380 more values, 2-3x the time).
    pub fn pyradiomics_with_ibsi() -> Self {
        Settings {
            description: "PyRadiomics defaults (binWidth 25, no resampling), every IBSI feature"
                .to_string(),
            discretisation: Discretisation::PyradiomicsBinWidth { width: 25.0 },
            morphology: MorphologySettings {
                pca_population_covariance: true,
                mesh: MeshTriangulation::Pyradiomics,
                ..MorphologySettings::default()
            },
            ivh_discretisation: Discretisation::None,
            ..Settings::default()
        }
    }

    /// The IBSI 1 digital phantom: intensities are already the grey levels 1..=6 and nothing
    /// is resampled, re-segmented or discretised.
    pub fn ibsi_digital_phantom() -> Self {
        Settings::default()
    }

    /// The IBSI 1 CT phantom configurations A to E (reference manual, table of configurations):
    ///
    /// | | A | B | C | D | E |
    /// |-|---|---|---|---|---|
    /// | texture | 2D | 2D | 3D | 3D | 3D |
    /// | voxel (mm) | none | 2×2 in-plane | 2×2×2 | 2×2×2 | 2×2×2 |
    /// | range (HU) | [-500, 400] | [-500, 400] | [-1000, 400] | none | [-1000, 400] |
    /// | outliers | none | none | none | 3σ | 3σ |
    /// | texture/IH bins | FBS 25 HU | FBN 32 | FBS 25 HU | FBN 32 | FBN 32 |
    /// | IVH | none | none | FBS 2.5 HU | none | FBN 1000 |
    ///
    /// (The IVH of configuration B uses the raw Hounsfield units: its reference I10 of 92 HU is
    /// an integer intensity, not a bin number of a 1000-bin discretisation.)
    ///
    /// Interpolation is (bi/tri)linear (configuration E: cubic B-spline for the image) with
    /// intensities rounded to integers and the mask interpolated linearly and thresholded at 0.5.
    pub fn ibsi_config(c: char) -> Result<Self, RadiomicsError> {
        let c = c.to_ascii_uppercase();
        let resampled = |in_plane_only: bool| Resampling {
            spacing_mm: Some([2.0, 2.0, 2.0]),
            in_plane_only,
            round_intensities: true,
            ..Resampling::default()
        };
        let range = |lo: f64, hi: f64, outlier_sigma: Option<f64>| Resegmentation {
            range_min: Some(lo),
            range_max: Some(hi),
            outlier_sigma,
        };
        let fbs = |width: f64| Discretisation::FixedBinSize {
            width,
            lower_bound: None,
        };
        let fbn = |bins: u32| Discretisation::FixedBinNumber { bins };
        let (resampling, resegmentation, discretisation, ivh_discretisation) = match c {
            'A' => (
                Resampling::default(),
                range(-500.0, 400.0, None),
                fbs(25.0),
                Discretisation::None,
            ),
            'B' => (
                resampled(true),
                range(-500.0, 400.0, None),
                fbn(32),
                Discretisation::None,
            ),
            'C' => (
                resampled(false),
                range(-1000.0, 400.0, None),
                fbs(25.0),
                fbs(2.5),
            ),
            'D' => (
                resampled(false),
                Resegmentation {
                    outlier_sigma: Some(3.0),
                    ..Resegmentation::default()
                },
                fbn(32),
                Discretisation::None,
            ),
            'E' => (
                Resampling {
                    image_interpolation: Interpolation::CubicBspline,
                    ..resampled(false)
                },
                range(-1000.0, 400.0, Some(3.0)),
                fbn(32),
                fbn(1000),
            ),
            other => return Err(RadiomicsError::UnknownConfig(other)),
        };
        Ok(Settings {
            description: format!("IBSI 1 CT phantom configuration {c}"),
            resampling,
            resegmentation,
            discretisation,
            ivh_discretisation,
            ..Settings::default()
        })
    }
}
