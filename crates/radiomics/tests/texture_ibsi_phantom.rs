//! IBSI 1 digital phantom: every texture reference value (cm_, rlm_, szm_, dzm_, ngt_, ngl_) must
//! be reproduced within tolerance, one test per family; plus degenerate ROIs that must not panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::Array3;
use oncolens_radiomics::texture::{TextureSettings, compute_all};
use oncolens_radiomics::{DiscretisedRoi, Feature};

/// `fixtures/radiomics/ibsi1/<rel>` when present, else the shared reference data.
fn ibsi1_path(rel: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = manifest.join("../../fixtures/radiomics/ibsi1").join(rel);
    if fixture.exists() {
        return fixture;
    }
    manifest
        .join("../../../shared/data/reference/radiomics/ibsi1")
        .join(rel)
}

/// The phantom as IBSI uses it for texture: grey levels are the discretised levels, 6 levels.
fn phantom_roi() -> DiscretisedRoi {
    let image = oncolens_nifti::read_volume(&ibsi1_path("digital_phantom/image/phantom.nii.gz"))
        .expect("read phantom image");
    let mask = oncolens_nifti::read_label_map(&ibsi1_path("digital_phantom/mask/mask.nii.gz"))
        .expect("read phantom mask");
    let grey = image.volume.data();
    let labels = mask.volume().data();
    assert_eq!(grey.dim(), labels.dim(), "image and mask shapes differ");
    let levels = Array3::from_shape_fn(grey.dim(), |idx| {
        if labels[idx] > 0 {
            grey[idx].round() as u32
        } else {
            0
        }
    });
    let morph_mask = labels.mapv(|l| l > 0);
    assert_eq!(levels.iter().filter(|&&l| l > 0).count(), 74);
    DiscretisedRoi {
        levels,
        n_levels: 6,
        morph_mask,
        spacing_mm: image.volume.geometry().spacing_mm,
    }
}

/// Reference values by tag: (value, tolerance).
fn reference() -> HashMap<String, (f64, f64)> {
    let path = ibsi1_path("ibsi_1_reference_values_digital_phantom.csv");
    let mut reader = csv::Reader::from_path(&path).expect("open reference csv");
    let headers = reader.headers().expect("csv headers").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
            .unwrap_or_else(|| panic!("column {name} missing in {}", path.display()))
    };
    let (tag_col, value_col, tol_col) = (col("tag"), col("reference value"), col("tolerance"));
    let mut out = HashMap::new();
    for record in reader.records() {
        let record = record.expect("csv record");
        let tag = record.get(tag_col).unwrap_or("").trim().to_string();
        let value = record.get(value_col).unwrap_or("").trim().parse::<f64>();
        let tol = record.get(tol_col).unwrap_or("").trim().parse::<f64>();
        if let (Ok(v), Ok(t)) = (value, tol) {
            out.insert(tag, (v, t));
        }
    }
    out
}

/// Reference values are printed to 3 significant digits: accept the printed rounding as well as
/// the stated tolerance (0 for the phantom).
fn allowed_deviation(reference: f64, tolerance: f64) -> f64 {
    let rounding = if reference == 0.0 {
        5e-4
    } else {
        0.5 * 10f64.powi(reference.abs().log10().floor() as i32 - 2)
    };
    tolerance.max(rounding) + 1e-12
}

/// Compares every reference tag with `prefix` (there must be `expected_tags`: 6 or 3
/// aggregations × the family's features) and reports all mismatches at once.
fn check_family(prefix: &str, expected_tags: usize) {
    let refs = reference();
    let features = compute_all(&phantom_roi(), &TextureSettings::default());
    let by_name: HashMap<&str, &Feature> = features.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut tags: Vec<&String> = refs.keys().filter(|t| t.starts_with(prefix)).collect();
    tags.sort();
    assert_eq!(tags.len(), expected_tags, "reference tags for {prefix}");
    let mut failures = Vec::new();
    let mut per_suffix: HashMap<String, (usize, usize)> = HashMap::new();
    let mut worst = (0.0f64, String::new());
    for tag in &tags {
        let (want, tol) = refs[*tag];
        let suffix = [
            "_2D_avg",
            "_2D_comb",
            "_2_5D_avg",
            "_2_5D_comb",
            "_3D_avg",
            "_3D_comb",
        ]
        .iter()
        .chain(&["_2_5D", "_2D", "_3D"])
        .find(|s| tag.ends_with(**s))
        .map_or("?", |s| *s)
        .to_string();
        let entry = per_suffix.entry(suffix).or_default();
        entry.1 += 1;
        if let Some(f) = by_name.get(tag.as_str()) {
            let ratio = (f.value - want).abs() / allowed_deviation(want, tol);
            if ratio > worst.0 || ratio.is_nan() {
                worst = (ratio, tag.to_string());
            }
        }
        match by_name.get(tag.as_str()) {
            None => failures.push(format!("{tag}: not computed")),
            Some(f) if (f.value - want).abs() <= allowed_deviation(want, tol) => entry.0 += 1,
            Some(f) => failures.push(format!("{tag}: got {:.6}, want {want} ± {tol}", f.value)),
        }
    }
    let mut summary: Vec<_> = per_suffix.into_iter().collect();
    summary.sort();
    for (suffix, (ok, total)) in &summary {
        println!("{prefix}*{suffix}: {ok}/{total} within tolerance");
    }
    println!(
        "{prefix}: largest deviation {:.2} of the allowed one ({})",
        worst.0, worst.1
    );
    assert!(
        failures.is_empty(),
        "{} of {} {prefix} features off:\n{}",
        failures.len(),
        tags.len(),
        failures.join("\n")
    );
}

#[test]
fn glcm_matches_ibsi_phantom() {
    check_family("cm_", 150);
}

#[test]
fn glrlm_matches_ibsi_phantom() {
    check_family("rlm_", 96);
}

#[test]
fn glszm_matches_ibsi_phantom() {
    check_family("szm_", 48);
}

#[test]
fn gldzm_matches_ibsi_phantom() {
    check_family("dzm_", 48);
}

#[test]
fn ngtdm_matches_ibsi_phantom() {
    check_family("ngt_", 15);
}

#[test]
fn ngldm_matches_ibsi_phantom() {
    check_family("ngl_", 51);
}

#[test]
fn every_feature_has_code_and_unique_name() {
    let features = compute_all(&phantom_roi(), &TextureSettings::default());
    // 25 * 6 + 16 * 6 + 16 * 3 + 16 * 3 + 5 * 3 + 17 * 3
    assert_eq!(features.len(), 408);
    let mut names: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), features.len());
    assert!(features.iter().all(|f| f.ibsi_code.len() == 4));
    // Families come in IBSI order.
    let order = ["cm_", "rlm_", "szm_", "dzm_", "ngt_", "ngl_"];
    let family_index = |name: &str| order.iter().position(|p| name.starts_with(p));
    let indices: Vec<Option<usize>> = features.iter().map(|f| family_index(&f.name)).collect();
    assert!(indices.iter().all(Option::is_some));
    assert!(indices.windows(2).all(|w| w[0] <= w[1]));
    let py: Vec<&str> = features
        .iter()
        .filter_map(|f| f.pyradiomics_name.as_deref())
        .collect();
    assert!(py.contains(&"glcm_Contrast"));
    assert!(py.contains(&"gldm_DependenceEntropy"));
    // Only one aggregation per PyRadiomics name.
    let mut unique = py.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), py.len());
}

fn roi_from(levels: Array3<u32>, n_levels: u32) -> DiscretisedRoi {
    let morph_mask = levels.mapv(|l| l > 0);
    DiscretisedRoi {
        levels,
        n_levels,
        morph_mask,
        spacing_mm: [1.0, 1.0, 1.0],
    }
}

#[test]
fn single_voxel_roi_does_not_panic() {
    let mut levels = Array3::<u32>::zeros((3, 3, 3));
    levels[[1, 1, 1]] = 2;
    let features = compute_all(&roi_from(levels, 4), &TextureSettings::default());
    assert_eq!(features.len(), 408);
    for f in &features {
        assert!(
            f.value.is_finite() || f.note.is_some(),
            "{} NaN without note",
            f.name
        );
    }
    let get = |n: &str| {
        features
            .iter()
            .find(|f| f.name == n)
            .map(|f| f.value)
            .expect("feature present")
    };
    // No co-occurring pairs: GLCM undefined.
    assert!(get("cm_joint_max_3D_avg").is_nan());
    // One run / zone / neighbourhood of size 1 is well defined.
    assert_eq!(get("rlm_sre_3D_comb"), 1.0);
    assert_eq!(get("szm_z_perc_3D"), 1.0);
    assert_eq!(get("dzm_sde_3D"), 1.0);
    assert_eq!(get("ngl_dc_perc_3D"), 1.0);
    // No voxel with a neighbour: NGTDM undefined.
    assert!(get("ngt_coarseness_3D").is_nan());
}

#[test]
fn constant_roi_gives_defined_values_or_nan_with_note() {
    let levels = Array3::<u32>::from_elem((3, 4, 5), 3);
    let features = compute_all(&roi_from(levels, 3), &TextureSettings::default());
    assert_eq!(features.len(), 408);
    for f in &features {
        assert!(
            f.value.is_finite() || f.note.is_some(),
            "{} NaN without note",
            f.name
        );
    }
    let get = |n: &str| {
        features
            .iter()
            .find(|f| f.name == n)
            .map(|f| f.value)
            .expect("feature present")
    };
    assert_eq!(get("cm_joint_max_3D_comb"), 1.0);
    assert_eq!(get("cm_contrast_2D_avg"), 0.0);
    assert!(get("cm_corr_3D_avg").is_nan());
    assert_eq!(get("ngt_coarseness_3D"), 1e6);
    let capped = features
        .iter()
        .find(|f| f.name == "ngt_coarseness_3D")
        .and_then(|f| f.note.as_deref());
    assert!(capped.is_some_and(|n| n.contains("cap")));
    assert_eq!(get("ngt_contrast_2D"), 0.0);
    assert_eq!(get("szm_zsnu_norm_3D"), 1.0);
    // One 3D zone touching the border: distance 1.
    assert_eq!(get("dzm_lde_3D"), 1.0);
}

#[test]
fn empty_roi_does_not_panic() {
    let levels = Array3::<u32>::zeros((2, 2, 2));
    let features = compute_all(&roi_from(levels, 1), &TextureSettings::default());
    assert!(
        features
            .iter()
            .all(|f| f.value.is_nan() && f.note.is_some())
    );
}

#[test]
fn settings_round_trip_with_defaults() {
    let parsed: TextureSettings = serde_json::from_str("{}").expect("empty settings parse");
    assert_eq!(parsed, TextureSettings::default());
    let json = serde_json::to_string(&TextureSettings::default()).expect("serialise");
    assert!(json.contains("\"2_5D_comb\""));
    let back: TextureSettings = serde_json::from_str(&json).expect("parse back");
    assert_eq!(back, TextureSettings::default());
}
