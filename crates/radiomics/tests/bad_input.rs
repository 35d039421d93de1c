//! Bad or degenerate input never panics: it is a clear error, or features that are defined or
//! NaN with a note saying why.

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use oncolens_radiomics::{Discretisation, RadiomicsError, Resegmentation, Settings, extract};

fn geometry(size: [usize; 3], spacing_mm: [f64; 3]) -> Geometry {
    Geometry::new(size, spacing_mm, [0.0; 3], Direction::default()).expect("valid geometry")
}

/// A 6×5×4 image with a ramp of integer intensities and a 2×2×2 cube ROI labelled 1.
fn ramp_case() -> (Volume<f32>, LabelMap) {
    let image = Array3::from_shape_fn((4, 5, 6), |(z, y, x)| (1 + x + 2 * y + 3 * z) as f32);
    let image = Volume::new(image, geometry([6, 5, 4], [1.0, 1.0, 2.0])).expect("image");
    let labels = Array3::from_shape_fn((4, 5, 6), |(z, y, x)| {
        u16::from((1..3).contains(&z) && (1..3).contains(&y) && (2..4).contains(&x))
    });
    let mask = LabelMap::for_image(labels, &image).expect("mask");
    (image, mask)
}

fn settings() -> Settings {
    Settings {
        discretisation: Discretisation::FixedBinNumber { bins: 8 },
        ..Settings::ibsi_digital_phantom()
    }
}

#[test]
fn absent_label_is_an_empty_mask_error() {
    let (image, mask) = ramp_case();
    let err = extract(&image, &mask, 7, &settings()).expect_err("label 7 is absent");
    assert!(
        matches!(err, RadiomicsError::EmptyMask { label: 7, ref present } if present == &vec![1]),
        "{err}"
    );
    assert!(err.to_string().contains("label 7"), "{err}");
}

#[test]
fn label_zero_is_background_not_a_roi() {
    let (image, mask) = ramp_case();
    assert!(matches!(
        extract(&image, &mask, 0, &settings()),
        Err(RadiomicsError::EmptyMask { label: 0, .. })
    ));
}

#[test]
fn all_background_mask_is_an_error() {
    let (image, _) = ramp_case();
    let mask = LabelMap::for_image(Array3::zeros((4, 5, 6)), &image).expect("mask");
    assert!(matches!(
        extract(&image, &mask, 1, &settings()),
        Err(RadiomicsError::EmptyMask { .. })
    ));
}

#[test]
fn mask_on_another_grid_is_an_error() {
    let (image, _) = ramp_case();
    let labels = Array3::from_elem((4, 5, 6), 1u16);
    let shifted = LabelMap::new(
        labels.clone(),
        Geometry::new(
            [6, 5, 4],
            [1.0, 1.0, 2.0],
            [5.0, 0.0, 0.0],
            Direction::default(),
        )
        .expect("geometry"),
    )
    .expect("mask");
    let err = extract(&image, &shifted, 1, &settings()).expect_err("shifted grid");
    assert!(matches!(err, RadiomicsError::GridMismatch(_)), "{err}");
    let other_spacing = LabelMap::new(labels, geometry([6, 5, 4], [1.0, 1.0, 3.0])).expect("mask");
    assert!(matches!(
        extract(&image, &other_spacing, 1, &settings()),
        Err(RadiomicsError::GridMismatch(_))
    ));
    let other_size = LabelMap::new(
        Array3::from_elem((4, 5, 7), 1u16),
        geometry([7, 5, 4], [1.0, 1.0, 2.0]),
    )
    .expect("mask");
    assert!(matches!(
        extract(&image, &other_size, 1, &settings()),
        Err(RadiomicsError::GridMismatch(_))
    ));
}

/// Every NaN must carry a note saying why; nothing may be infinite.
fn assert_nan_notes(fs: &oncolens_radiomics::FeatureSet) {
    for f in &fs.features {
        assert!(
            !f.value.is_nan() || f.note.is_some(),
            "{} is NaN without a note",
            f.name
        );
        assert!(!f.value.is_infinite(), "{} is infinite", f.name);
    }
}

#[test]
fn single_voxel_roi_gives_defined_values_or_noted_nans() {
    let (image, _) = ramp_case();
    let mut labels = Array3::zeros((4, 5, 6));
    labels[[2, 2, 3]] = 1u16;
    let mask = LabelMap::for_image(labels, &image).expect("mask");
    let fs = extract(&image, &mask, 1, &settings()).expect("single voxel is a valid ROI");
    assert_nan_notes(&fs);
    let v = |n: &str| fs.get(n).map(|f| f.value).expect("feature present");
    // One 1×1×2 mm voxel: its marching-cubes octahedron has volume 4/3 · ½ · ½ · 1 mm³.
    assert!((v("morph_volume") - 4.0 / 3.0 * 0.5 * 0.5 * 1.0).abs() < 1e-9);
    assert_eq!(v("morph_vol_approx"), 2.0);
    assert_eq!(v("stat_mean"), f64::from(1 + 3 + 4 + 6));
    assert_eq!(v("stat_var"), 0.0);
    assert!(v("stat_skew").is_nan());
    assert!(v("morph_pca_elongation").is_nan());
    assert!(v("morph_moran_i").is_nan());
}

#[test]
fn constant_intensity_gives_defined_values_or_noted_nans() {
    let image = Volume::new(
        Array3::from_elem((4, 5, 6), 42.0f32),
        geometry([6, 5, 4], [1.0; 3]),
    )
    .expect("image");
    let labels = Array3::from_shape_fn((4, 5, 6), |(z, y, x)| {
        u16::from(z >= 1 && y >= 1 && x >= 1 && z < 3 && y < 4 && x < 5)
    });
    let mask = LabelMap::for_image(labels, &image).expect("mask");
    for d in [
        Discretisation::FixedBinNumber { bins: 16 },
        Discretisation::FixedBinSize {
            width: 25.0,
            lower_bound: None,
        },
        Discretisation::PyradiomicsBinWidth { width: 25.0 },
    ] {
        let s = Settings {
            discretisation: d,
            ..Settings::pyradiomics_with_ibsi()
        };
        let fs = extract(&image, &mask, 1, &s).expect("constant ROI is valid");
        assert_nan_notes(&fs);
        let v = |n: &str| fs.get(n).map(|f| f.value).expect("feature present");
        assert_eq!(v("stat_mean"), 42.0);
        assert_eq!(v("stat_range"), 0.0);
        assert!(v("stat_kurt").is_nan());
        assert_eq!(v("ih_entropy"), 0.0);
        assert_eq!(v("ih_uniformity"), 1.0);
        assert_eq!(v("loc_peak_glob"), 42.0);
    }
}

/// The PyRadiomics preset computes PyRadiomics' feature classes: the IBSI-only peaks and
/// autocorrelation are NaN with the setting that turned them off, and texture is 3D only.
#[test]
fn pyradiomics_preset_notes_what_it_leaves_out() {
    let (image, mask) = ramp_case();
    let fs = extract(&image, &mask, 1, &Settings::pyradiomics()).expect("valid ROI");
    for (name, setting) in [
        ("loc_peak_glob", "local_intensity.enabled"),
        ("morph_moran_i", "autocorrelation_max_voxels = 0"),
    ] {
        let f = fs.get(name).expect("listed");
        assert!(f.value.is_nan(), "{name} = {}", f.value);
        assert!(
            f.note.as_deref().is_some_and(|n| n.contains(setting)),
            "{name}: {:?}",
            f.note
        );
    }
    assert!(
        fs.get("cm_joint_max_3D_avg")
            .is_some_and(|f| f.value.is_finite())
    );
    assert!(
        fs.features
            .iter()
            .all(|f| !f.name.contains("_2D") && !f.name.contains("_2_5D"))
    );
    let full = extract(&image, &mask, 1, &Settings::pyradiomics_with_ibsi()).expect("valid ROI");
    assert!(
        full.get("loc_peak_glob")
            .is_some_and(|f| f.value.is_finite())
    );
    assert!(full.features.len() > fs.features.len() + 200);
}

#[test]
fn resegmentation_that_removes_everything_is_an_error() {
    let (image, mask) = ramp_case();
    let s = Settings {
        resegmentation: Resegmentation {
            range_min: Some(1000.0),
            range_max: Some(2000.0),
            outlier_sigma: None,
        },
        ..settings()
    };
    let err = extract(&image, &mask, 1, &s).expect_err("nothing in range");
    assert!(
        matches!(
            err,
            RadiomicsError::EmptyRoi {
                step: "re-segmentation"
            }
        ),
        "{err}"
    );
}

#[test]
fn non_finite_intensity_is_an_error() {
    let (mut image, mask) = ramp_case();
    image.data_mut()[[1, 1, 2]] = f32::NAN;
    assert!(matches!(
        extract(&image, &mask, 1, &settings()),
        Err(RadiomicsError::NonFiniteIntensity { .. })
    ));
}

#[test]
fn grey_levels_without_discretisation_must_be_positive_integers() {
    let (mut image, mask) = ramp_case();
    image.data_mut().mapv_inplace(|v| v + 0.5);
    let err = extract(&image, &mask, 1, &Settings::ibsi_digital_phantom())
        .expect_err("fractional grey levels");
    assert!(
        matches!(
            err,
            RadiomicsError::InvalidSetting {
                field: "discretisation",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn invalid_settings_are_rejected_before_any_work() {
    let (image, mask) = ramp_case();
    let zero_bins = Settings {
        discretisation: Discretisation::FixedBinNumber { bins: 0 },
        ..settings()
    };
    assert!(matches!(
        extract(&image, &mask, 1, &zero_bins),
        Err(RadiomicsError::InvalidSetting { .. })
    ));
    let mut bad_spacing = settings();
    bad_spacing.resampling.spacing_mm = Some([1.0, -1.0, 1.0]);
    assert!(matches!(
        extract(&image, &mask, 1, &bad_spacing),
        Err(RadiomicsError::InvalidSetting { .. })
    ));
    let mut bad_range = settings();
    bad_range.resegmentation.range_min = Some(10.0);
    bad_range.resegmentation.range_max = Some(0.0);
    assert!(matches!(
        extract(&image, &mask, 1, &bad_range),
        Err(RadiomicsError::InvalidSetting { .. })
    ));
}

#[test]
fn resampling_keeps_the_roi_and_reports_the_new_grid() {
    let (image, mask) = ramp_case();
    let mut s = settings();
    s.resampling.spacing_mm = Some([0.5, 0.5, 0.5]);
    let fs = extract(&image, &mask, 1, &s).expect("finer grid");
    assert_eq!(fs.diagnostics.get("img_dim_x_interp_img"), Some(&12.0));
    assert_eq!(fs.diagnostics.get("img_dim_z_interp_img"), Some(&16.0));
    assert_eq!(fs.diagnostics.get("vox_dim_z_interp_img"), Some(&0.5));
    assert_nan_notes(&fs);
}

#[test]
fn feature_set_serialises_to_features_and_settings() {
    let (image, mask) = ramp_case();
    let fs = extract(&image, &mask, 1, &settings()).expect("extracts");
    let json = serde_json::to_value(&fs).expect("serialises");
    assert!(json["features"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(json["settings"]["discretisation"]["method"] == "fixed_bin_number");
    assert!(json["diagnostics"]["int_mask_vox_count_reseg_roi"] == 8.0);
}
