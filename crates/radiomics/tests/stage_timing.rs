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
        let m = morphology::mesh::marching_cubes(&roi.morph_mask, roi.spacing_mm);
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
