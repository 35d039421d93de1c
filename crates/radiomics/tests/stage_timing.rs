//! Prints how long each stage takes on the CT phantom (run with `--ignored --nocapture`) so
//! slow stages in debug builds can be spotted.

mod common;

use std::time::Instant;

use oncolens_radiomics::families::{local_intensity, morphology};
use oncolens_radiomics::prepare::prepare;
use oncolens_radiomics::{Settings, texture};

#[test]
#[ignore]
fn stage_timing() {
    let Some((image, mask)) = common::ct_phantom() else {
        return;
    };
    for c in ['A', 'C'] {
        let settings = Settings::ibsi_config(c).expect("config");
        let t = Instant::now();
        let roi = prepare(image, mask, 1, &settings).expect("prepare");
        println!(
            "{c}: prepare {:?} (array {:?})",
            t.elapsed(),
            roi.image.dim()
        );
        let t = Instant::now();
        let m = morphology::mesh::marching_cubes(
            &roi.morph_mask,
            roi.spacing_mm,
            settings.morphology.mesh,
        );
        println!(
            "{c}: mesh {:?} ({} vertices)",
            t.elapsed(),
            m.vertices.len()
        );
        let t = Instant::now();
        let h = morphology::hull::convex_hull(&m.vertices);
        println!(
            "{c}: hull {:?} ({:?} hull vertices)",
            t.elapsed(),
            h.map(|h| h.vertices.len())
        );
        let t = Instant::now();
        let _ = morphology::autocorrelation::moran_geary(&roi.image, &roi.int_mask, roi.spacing_mm);
        println!("{c}: moran/geary {:?}", t.elapsed());
        let t = Instant::now();
        let _ = local_intensity::compute(&roi.image, &roi.int_mask, roi.spacing_mm, 1.0);
        println!("{c}: local intensity {:?}", t.elapsed());
        let t = Instant::now();
        let tex = texture::compute_all(&roi.texture_roi, &settings.texture);
        println!("{c}: texture {:?} ({} features)", t.elapsed(), tex.len());
    }
}

/// Per-stage times of the PyRadiomics preset on the CT phantom and STS_001, NIfTI reading
/// (gzip inflate + parse) included, to see what the CLI's wall time is made of.
#[test]
#[ignore]
fn pyradiomics_preset_timing() {
    let shared = common::workspace_root().join("../shared/data");
    let cases = [
        (
            "ct_phantom",
            shared.join("reference/radiomics/ibsi1/ct_phantom_CC-BY-NC/image/phantom.nii.gz"),
            shared.join("reference/radiomics/ibsi1/ct_phantom_CC-BY-NC/mask/mask.nii.gz"),
        ),
        (
            "sts_001",
            shared.join("reference/multimodal_sts/STS_001/CT_image.nii.gz"),
            shared.join("reference/multimodal_sts/STS_001/CT_mask.nii.gz"),
        ),
    ];
    // More cases from `ONCOLENS_TIMING_CASES="name=image.nii.gz,mask.nii.gz;..."`.
    let extra: Vec<(String, std::path::PathBuf, std::path::PathBuf)> =
        std::env::var("ONCOLENS_TIMING_CASES")
            .unwrap_or_default()
            .split(';')
            .filter_map(|c| {
                let (name, files) = c.split_once('=')?;
                let (img, msk) = files.split_once(',')?;
                Some((name.to_string(), img.into(), msk.into()))
            })
            .collect();
    let cases = cases
        .into_iter()
        .map(|(n, i, m)| (n.to_string(), i, m))
        .chain(extra);
    let settings = Settings::pyradiomics();
    for (name, img, msk) in cases {
        if !img.exists() || !msk.exists() {
            eprintln!("note: {name} not found, skipped");
            continue;
        }
        let t = Instant::now();
        let image = oncolens_nifti::read_volume(&img).expect("image").volume;
        let t_img = t.elapsed();
        let t = Instant::now();
        let mask = oncolens_nifti::read_label_map(&msk).expect("mask");
        println!(
            "{name}: read image {t_img:?} ({:?}), read mask {:?}",
            image.data().dim(),
            t.elapsed()
        );
        let t = Instant::now();
        let roi = prepare(&image, &mask, 1, &settings).expect("prepare");
        println!(
            "{name}: prepare {:?} (array {:?})",
            t.elapsed(),
            roi.image.dim()
        );
        let t = Instant::now();
        let m = morphology::mesh::marching_cubes(
            &roi.morph_mask,
            roi.spacing_mm,
            settings.morphology.mesh,
        );
        println!(
            "{name}: mesh {:?} ({} vertices)",
            t.elapsed(),
            m.vertices.len()
        );
        let t = Instant::now();
        let _ = morphology::mesh::planar_diameters(&m.vertex_keys, roi.spacing_mm);
        println!("{name}: 2D diameters {:?}", t.elapsed());
        let t = Instant::now();
        let _ = morphology::hull::convex_hull(&m.vertices);
        println!("{name}: hull {:?}", t.elapsed());
        let t = Instant::now();
        let _ = morphology::autocorrelation::moran_geary(&roi.image, &roi.int_mask, roi.spacing_mm);
        println!("{name}: moran/geary {:?}", t.elapsed());
        let t = Instant::now();
        let _ = local_intensity::compute(&roi.image, &roi.int_mask, roi.spacing_mm, 1.0);
        println!("{name}: local intensity {:?}", t.elapsed());
        let t = Instant::now();
        let tex = texture::compute_all(&roi.texture_roi, &settings.texture);
        println!("{name}: texture {:?} ({} features)", t.elapsed(), tex.len());
        let t = Instant::now();
        let _ = texture::pyradiomics_mcc(&roi.texture_roi);
        println!("{name}: MCC {:?}", t.elapsed());
        let t = Instant::now();
        let _ = oncolens_radiomics::extract(&image, &mask, 1, &settings).expect("extract");
        println!("{name}: extract total {:?}", t.elapsed());
    }
}
