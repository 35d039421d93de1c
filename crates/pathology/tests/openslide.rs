//! Whole-slide reading against OpenSlide 4.0.1 on real Aperio SVS files of `../shared/data`
//! (regions stored in `fixtures/pathology/`, made by `make_slide_fixture.py`). Skips when the
//! shared data is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use oncolens_pathology::RgbImage;
use oncolens_pathology::slide::Slide;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/pathology")
        .join(name)
}

fn shared_slide(name: &str) -> Option<PathBuf> {
    let root = match std::env::var("ONCOLENS_SHARED_DATA") {
        Ok(p) => PathBuf::from(p),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    let p = root.join("pathology_wsi").join(name);
    if !p.is_file() {
        eprintln!(
            "skipped: {} not found (set ONCOLENS_SHARED_DATA)",
            p.display()
        );
    }
    p.is_file().then_some(p)
}

#[test]
fn aperio_jpeg_slide_reads_as_openslide_reads_it() {
    let Some(path) = shared_slide("cmu-1-small-region.svs") else {
        return;
    };
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("slide_reference.json")).unwrap())
            .unwrap();
    let slide = Slide::open(&path).unwrap();
    assert_eq!(slide.levels.len() as u64, want["levels"].as_u64().unwrap());
    assert_eq!(
        (slide.levels[0].width, slide.levels[0].height),
        (2220, 2967)
    );
    assert_eq!(slide.mpp, Some((0.499, 0.499)));
    assert_eq!(slide.objective_power, Some(20.0));
    for (name, size) in want["associated"].as_object().unwrap() {
        let image = slide.associated_image(name).unwrap();
        assert_eq!(
            (u64::from(image.width), u64::from(image.height)),
            (size[0].as_u64().unwrap(), size[1].as_u64().unwrap()),
            "{name}"
        );
    }
    let share = compare_regions(&slide, &want, 2);
    eprintln!("channel values differing from OpenSlide: {share}");
    assert!(share < 0.01, "{share}");
}

#[test]
fn tissue_tiles_cover_the_stained_area() {
    let Some(path) = shared_slide("cmu-1-small-region.svs") else {
        return;
    };
    let slide = Slide::open(&path).unwrap();
    // 224-pixel tiles at 1 µm per pixel (about 10x): 2.004 scan pixels per tile pixel.
    let grid = slide.tissue_tiles(Some(1.0), 224, 0.5).unwrap();
    assert_eq!(grid.level, 0);
    assert_eq!(grid.read_size, 449);
    assert!(!grid.tiles.is_empty() && grid.tiles.len() < grid.grid_tiles);
    let tile = slide.read_tile(&grid, &grid.tiles[0]).unwrap();
    assert_eq!((tile.width, tile.height), (224, 224));
    // A tissue tile is coloured; the background is near-white grey.
    let saturation = |im: &RgbImage| {
        im.pixels
            .iter()
            .map(|p| f64::from(p.iter().max().unwrap() - p.iter().min().unwrap()))
            .sum::<f64>()
            / im.pixels.len() as f64
    };
    let background = slide.read_region(0, 0, 0, 64, 48).unwrap();
    assert!(saturation(&tile) > 3.0 * saturation(&background));
    // Finer than the scan is refused.
    assert!(slide.tissue_tiles(Some(0.25), 224, 0.5).is_err());
}

/// Regions of `slide` against OpenSlide's (`fixture` JSON lists them); the share of channel
/// values that differ (by at most `tolerance` levels).
fn compare_regions(slide: &Slide, reference: &Value, tolerance: i32) -> f64 {
    let (mut differing, mut total) = (0usize, 0usize);
    for region in reference["regions"].as_array().unwrap() {
        let (x, y) = (
            region["location"][0].as_i64().unwrap(),
            region["location"][1].as_i64().unwrap(),
        );
        let level = region["level"].as_u64().unwrap_or(0) as usize;
        let (w, h) = (
            region["size"][0].as_u64().unwrap() as u32,
            region["size"][1].as_u64().unwrap() as u32,
        );
        let ours = slide.read_region(x, y, level, w, h).unwrap();
        let theirs = RgbImage::read(&fixture(region["file"].as_str().unwrap())).unwrap();
        assert_eq!((ours.width, ours.height), (theirs.width, theirs.height));
        for (a, b) in ours.pixels.iter().zip(&theirs.pixels) {
            for c in 0..3 {
                let d = (i32::from(a[c]) - i32::from(b[c])).abs();
                assert!(
                    d <= tolerance,
                    "region at ({x}, {y}) level {level}: {a:?} vs OpenSlide {b:?}"
                );
                differing += usize::from(d > 0);
                total += 1;
            }
        }
    }
    differing as f64 / total as f64
}

#[test]
fn aperio_jpeg_2000_slide_reads_as_openslide_reads_it() {
    let Some(path) = shared_slide("tcga-cr-7395-01a-01-ts1.svs") else {
        return;
    };
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("slide_tcga_reference.json")).unwrap(),
    )
    .unwrap();
    let slide = Slide::open(&path).unwrap();
    assert_eq!(slide.levels.len(), 2);
    assert!((slide.levels[1].downsample - want["downsamples"][1].as_f64().unwrap()).abs() < 1e-12);
    // The thumbnail is plain JPEG.
    assert_eq!(slide.associated_image("thumbnail").unwrap().width, 956);
    // Level 0 decodes to OpenSlide's pixels exactly; at level 1 both interpolate at the
    // fractional position, OpenSlide (cairo/pixman) with 7-bit weights: one level apart at most.
    let share = compare_regions(&slide, &want, 1);
    eprintln!("channel values differing from OpenSlide (JPEG 2000): {share}");
    assert!(share < 0.2, "{share}");
}

#[test]
fn not_a_slide_is_named() {
    let e = Slide::open(&fixture("source.png")).unwrap_err();
    assert!(e.to_string().contains("source.png"), "{e}");
}
