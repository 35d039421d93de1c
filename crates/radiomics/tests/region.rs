#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Features from a streamed region equal features from the whole image: `region_for` +
//! `WholeImageStream` + `extract_region` against `extract`, bit for bit, diagnostics included.

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use oncolens_radiomics::{
    RadiomicsError, Settings, WholeImageStream, extract, extract_region, region_for,
};

/// A 64×70×66 image (more voxels than one statistics block) of CT-like values with texture, and
/// an irregular lesion labelled 1 plus a second structure labelled 2.
fn case() -> (Volume<f32>, LabelMap) {
    let (nz, ny, nx) = (66, 70, 64);
    let g = Geometry::new(
        [nx, ny, nz],
        [0.8, 0.8, 2.5],
        [-30.0, 12.0, 100.0],
        Direction::default(),
    )
    .unwrap();
    let image = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        let h = (x * 7919 + y * 104_729 + z * 1_299_709) % 1000;
        -900.0 + 1.7 * h as f32 + 40.0 * ((x + 2 * y) as f32 * 0.3).sin()
    });
    let labels = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        let (dz, dy, dx) = (z as f64 - 30.0, y as f64 - 40.0, x as f64 - 25.0);
        let r = (dx * dx + dy * dy + 4.0 * dz * dz).sqrt();
        let lobes = 9.0 + 2.5 * (3.0 * dy.atan2(dx)).sin();
        if r < lobes {
            1
        } else if (2..6).contains(&z) && (60..66).contains(&y) && (50..60).contains(&x) {
            2
        } else {
            0
        }
    });
    let image = Volume::new(image, g.clone()).unwrap();
    (image, LabelMap::new(labels, g).unwrap())
}

fn region_features(
    image: &Volume<f32>,
    mask: &LabelMap,
    label: u16,
    settings: &Settings,
    block: usize,
) -> oncolens_radiomics::FeatureSet {
    let ranges = region_for(mask, label, settings).expect("a region");
    let mut stream = WholeImageStream::new();
    let flat: Vec<f32> = image.data().iter().copied().collect();
    for chunk in flat.chunks(block) {
        stream.push(chunk);
    }
    let (nz, ny, nx) = image.data().dim();
    let whole = stream.finish([nz, ny, nx]).unwrap();
    let img = image.region(&ranges).unwrap();
    let msk = mask.region(&ranges).unwrap();
    assert!(
        img.data().len() < image.data().len() / 10,
        "the region is small"
    );
    extract_region(&img, &msk, label, settings, &whole).unwrap()
}

#[test]
fn region_features_equal_whole_image_features_bit_for_bit() {
    let (image, mask) = case();
    for settings in [Settings::pyradiomics(), Settings::pyradiomics_with_ibsi()] {
        for label in [1, 2] {
            let whole = extract(&image, &mask, label, &settings).unwrap();
            for block in [1000, 131_072, 1 << 20] {
                let part = region_features(&image, &mask, label, &settings, block);
                assert_eq!(whole.features.len(), part.features.len());
                for (a, b) in whole.features.iter().zip(&part.features) {
                    assert_eq!(a.name, b.name);
                    assert!(
                        a.value.to_bits() == b.value.to_bits()
                            || (a.value.is_nan() && b.value.is_nan()),
                        "{} (label {label}, block {block}): {} vs {}",
                        a.name,
                        a.value,
                        b.value
                    );
                }
                assert_eq!(
                    serde_json::to_string(&whole.diagnostics).unwrap(),
                    serde_json::to_string(&part.diagnostics).unwrap(),
                    "diagnostics (label {label}, block {block})"
                );
            }
        }
    }
}

#[test]
fn streamed_statistics_catch_what_the_whole_pass_catches() {
    let (mut image, mask) = case();
    image.data_mut()[[40, 3, 3]] = f32::NAN;
    let settings = Settings::pyradiomics();
    let err = extract(&image, &mask, 1, &settings).unwrap_err();
    assert!(
        matches!(err, RadiomicsError::NonFiniteIntensity { .. }),
        "{err}"
    );
    let mut stream = WholeImageStream::new();
    for chunk in image.data().iter().copied().collect::<Vec<_>>().chunks(777) {
        stream.push(chunk);
    }
    let err = stream.finish([66, 70, 64]).unwrap_err();
    assert!(
        matches!(err, RadiomicsError::NonFiniteIntensity { .. }),
        "{err}"
    );
    // A stream shorter than the grid it claims is refused.
    let mut short = WholeImageStream::new();
    short.push(&[1.0, 2.0, 3.0]);
    assert!(short.finish([2, 2, 2]).is_err());
    // Resampling lays the IBSI grid over the whole image: no region then.
    let resampled = Settings {
        resampling: oncolens_radiomics::settings::Resampling {
            spacing_mm: Some([1.0; 3]),
            ..Settings::pyradiomics().resampling
        },
        ..Settings::pyradiomics()
    };
    assert!(region_for(&mask, 1, &resampled).is_none());
    assert!(region_for(&mask, 3, &settings).is_none());
}

/// Equal to float rounding (NaN equals NaN): sums over a crop with another origin, or means
/// over directions combined in another order, differ in the last bits.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-300)
}

/// The lesion of [`case`] (label 1) in a box a few voxels wider than it: the same ROI on a
/// grid small enough for several extractions in a debug build.
fn small_case() -> (Volume<f32>, LabelMap) {
    let (image, mask) = case();
    let ranges = [18..43, 26..55, 11..40];
    (
        image.region(&ranges).unwrap(),
        mask.region(&ranges).unwrap(),
    )
}

/// Without local-intensity features the crop keeps no sphere margin around the ROI: every other
/// feature, and every diagnostic, is exactly what the wider crop gives.
#[test]
fn the_local_intensity_margin_changes_no_other_feature() {
    let (image, mask) = small_case();
    let narrow = Settings::pyradiomics();
    let mut wide = Settings::pyradiomics();
    wide.local_intensity.enabled = true;
    let a = extract(&image, &mask, 1, &narrow).unwrap();
    let b = extract(&image, &mask, 1, &wide).unwrap();
    let mut compared = 0;
    for f in a
        .features
        .iter()
        .filter(|f| f.family != oncolens_radiomics::Family::LocalIntensity)
    {
        let g = b.features.iter().find(|g| g.name == f.name).unwrap();
        assert!(
            same(f.value, g.value),
            "{}: {} vs {}",
            f.name,
            f.value,
            g.value
        );
        compared += 1;
    }
    assert!(compared > 100, "{compared} features compared");
    assert_eq!(a.diagnostics, b.diagnostics);
}

/// Steps that change nothing (no resampling, no re-segmentation) copy the diagnostics of the
/// step before; a re-segmentation range that removes nothing takes the computing path and must
/// give the same entries, and one that removes voxels must show it.
#[test]
fn unchanged_steps_report_the_diagnostics_they_would_compute() {
    let (image, mask) = small_case();
    let plain = extract(&image, &mask, 1, &Settings::pyradiomics()).unwrap();
    let d = &plain.diagnostics;
    for key in [
        "int_mask_vox_count",
        "morph_mask_bb_dim_x",
        "int_mask_mean_int",
    ] {
        let init = d[&format!("{key}_init_roi")];
        assert_eq!(d[&format!("{key}_interp_roi")], init, "{key}");
        assert_eq!(d[&format!("{key}_reseg_roi")], init, "{key}");
    }
    let mut wide_range = Settings::pyradiomics();
    // Below every voxel of the image (its minimum is -900): removes nothing.
    wide_range.resegmentation.range_min = Some(-1000.0);
    let computed = extract(&image, &mask, 1, &wide_range).unwrap();
    assert_eq!(computed.diagnostics, plain.diagnostics);
    let mut cut = Settings::pyradiomics();
    cut.resegmentation.range_min = Some(0.0);
    let cut = extract(&image, &mask, 1, &cut).unwrap();
    assert!(
        cut.diagnostics["int_mask_vox_count_reseg_roi"]
            < cut.diagnostics["int_mask_vox_count_interp_roi"]
    );
}

/// MCC read from the co-occurrence matrices the GLCM family built equals MCC computed alone,
/// and the GLCM features equal those of the texture code without MCC.
#[test]
fn shared_cooccurrence_matrices_change_nothing() {
    let (image, mask) = small_case();
    let settings = Settings::pyradiomics();
    let roi = oncolens_radiomics::prepare::prepare(&image, &mask, 1, &settings).unwrap();
    let (with, mcc) =
        oncolens_radiomics::texture::compute_all_with_mcc(&roi.texture_roi, &settings.texture);
    let alone = oncolens_radiomics::texture::compute_all(&roi.texture_roi, &settings.texture);
    let mcc_alone = oncolens_radiomics::texture::pyradiomics_mcc(&roi.texture_roi);
    assert!(mcc.value.is_finite() && mcc.value > 0.0);
    assert!(same(mcc.value, mcc_alone.value));
    assert_eq!(with.len(), alone.len());
    for (f, g) in with.iter().zip(&alone) {
        assert_eq!(f.name, g.name);
        assert!(same(f.value, g.value), "{}", f.name);
    }
}
