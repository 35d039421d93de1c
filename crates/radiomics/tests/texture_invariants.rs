//! Texture invariants on synthetic ROIs (identities between IBSI features that hold for any
//! image), non-default settings, and a timing run on a large ROI (`--ignored`, release).

use std::collections::HashMap;
use std::time::Instant;

use ndarray::Array3;
use oncolens_radiomics::DiscretisedRoi;
use oncolens_radiomics::texture::{
    DirectionalAggregation, DistanceMetric, SliceAggregation, TextureSettings, compute_all,
};

/// Deterministic blobby texture inside an ellipsoid: patches of constant level plus sparse noise.
fn synthetic_roi(nz: usize, ny: usize, nx: usize, n_levels: u32) -> DiscretisedRoi {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let levels = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let (cz, cy, cx) = (nz as f64 / 2.0, ny as f64 / 2.0, nx as f64 / 2.0);
        let r = ((z as f64 - cz) / cz).powi(2)
            + ((y as f64 - cy) / cy).powi(2)
            + ((x as f64 - cx) / cx).powi(2);
        if r > 1.0 {
            return 0;
        }
        let patch = (x / 4) * 31 + (y / 3) * 17 + (z / 2) * 13;
        let noise = if state.is_multiple_of(7) {
            (state >> 8) as usize
        } else {
            0
        };
        1 + ((patch + noise) % n_levels as usize) as u32
    });
    let morph_mask = levels.mapv(|l| l > 0);
    DiscretisedRoi {
        levels,
        n_levels,
        morph_mask,
        spacing_mm: [1.0, 1.0, 2.0],
    }
}

fn by_name(roi: &DiscretisedRoi, settings: &TextureSettings) -> HashMap<String, f64> {
    compute_all(roi, settings)
        .into_iter()
        .map(|f| (f.name, f.value))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn ibsi_identities_hold() {
    let roi = synthetic_roi(10, 20, 24, 8);
    let f = by_name(&roi, &TextureSettings::default());
    for agg in DirectionalAggregation::ALL {
        let s = agg.tag_suffix();
        let get = |stem: &str| f[&format!("cm_{stem}_{s}")];
        // IBSI: sum average = 2 joint average, dissimilarity = difference average,
        // sum variance = cluster tendency.
        assert!(close(get("sum_avg"), 2.0 * get("joint_avg")), "{s}");
        assert!(close(get("dissimilarity"), get("diff_avg")), "{s}");
        assert!(close(get("sum_var"), get("clust_tend")), "{s}");
    }
    // Merged slices or the volume count every ROI voxel once per level: same grey-level
    // histogram, so NGLDM normalised GLNU is the same for 2.5D and 3D (alpha = 0).
    assert!(close(f["ngl_glnu_norm_2_5D"], f["ngl_glnu_norm_3D"]));
    // Every voxel is a neighbourhood centre.
    assert!(close(f["ngl_dc_perc_3D"], 1.0));
    // GLSZM and GLDZM share zones, so grey-level statistics coincide.
    for s in ["2D", "2_5D", "3D"] {
        assert!(close(
            f[&format!("szm_glnu_{s}")],
            f[&format!("dzm_glnu_{s}")]
        ));
        assert!(close(
            f[&format!("szm_z_perc_{s}")],
            f[&format!("dzm_z_perc_{s}")]
        ));
    }
    // Run percentage lies in (0, 1] for every aggregation: merged matrices sum N_v along with
    // the runs (IBSI), so merging cannot push it above 1.
    for agg in DirectionalAggregation::ALL {
        let v = f[&format!("rlm_r_perc_{}", agg.tag_suffix())];
        assert!(v > 0.0 && v <= 1.0);
    }
}

#[test]
fn non_default_settings_run_and_select() {
    let roi = synthetic_roi(6, 12, 14, 5);
    let settings = TextureSettings {
        directional_aggregations: vec![DirectionalAggregation::ThreeDMerged],
        slice_aggregations: vec![SliceAggregation::TwoHalfD],
        glcm_distance_voxels: 2,
        glcm_symmetric: false,
        ngtdm_distance_voxels: 2,
        ngldm_distance_voxels: 2,
        ngldm_coarseness_alpha: 1,
        gldzm_distance_metric: DistanceMetric::Chebyshev,
        ..TextureSettings::default()
    };
    let features = compute_all(&roi, &settings);
    assert_eq!(features.len(), 25 + 16 + 16 + 16 + 5 + 17);
    // Listing an aggregation twice does not duplicate features.
    let twice = TextureSettings {
        directional_aggregations: vec![DirectionalAggregation::ThreeDMerged; 2],
        slice_aggregations: vec![SliceAggregation::TwoHalfD; 2],
        ..settings.clone()
    };
    assert_eq!(compute_all(&roi, &twice).len(), features.len());
    assert!(features.iter().all(|f| f.value.is_finite()), "{features:?}");
    assert!(features.iter().any(|f| f.name == "cm_joint_max_3D_comb"));
    assert!(features.iter().any(|f| f.name == "dzm_sde_2_5D"));
    // Dependence count can reach the 5x5 in-plane neighbourhood size.
    let hde = features
        .iter()
        .find(|f| f.name == "ngl_hde_2_5D")
        .map(|f| f.value)
        .expect("ngl_hde_2_5D");
    assert!(hde >= 1.0);
}

/// `cargo test -p oncolens-radiomics --release --test texture_invariants -- --ignored --nocapture`
#[test]
#[ignore = "timing run; use --release"]
fn timing_large_roi() {
    let roi = synthetic_roi(64, 192, 192, 64);
    let n_voxels = roi.levels.iter().filter(|&&l| l > 0).count();
    let start = Instant::now();
    let features = compute_all(&roi, &TextureSettings::default());
    println!(
        "{} features for {n_voxels} voxels in {:.2?}",
        features.len(),
        start.elapsed()
    );
    for family in [
        oncolens_radiomics::texture::TextureFamily::Glcm,
        oncolens_radiomics::texture::TextureFamily::Glrlm,
        oncolens_radiomics::texture::TextureFamily::Glszm,
        oncolens_radiomics::texture::TextureFamily::Gldzm,
        oncolens_radiomics::texture::TextureFamily::Ngtdm,
        oncolens_radiomics::texture::TextureFamily::Ngldm,
    ] {
        let settings = TextureSettings {
            families: vec![family],
            ..TextureSettings::default()
        };
        let start = Instant::now();
        let _ = compute_all(&roi, &settings);
        println!("  {family:?}: {:.2?}", start.elapsed());
    }
    for agg in SliceAggregation::ALL {
        let settings = TextureSettings {
            families: vec![oncolens_radiomics::texture::TextureFamily::Glszm],
            slice_aggregations: vec![agg],
            ..TextureSettings::default()
        };
        let start = Instant::now();
        let _ = compute_all(&roi, &settings);
        println!("  GLSZM {agg:?}: {:.2?}", start.elapsed());
    }
}
