//! Slice rendering: PNG output, radiological orientation, physical aspect ratio, overlays and
//! the errors for overlays on the wrong grid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use oncolens_report::overlay::{CONTOUR_MAGENTA, PANEL_GAP_PX};
use oncolens_report::{
    Colormap, Interpolation, OverlayOptions, ReportError, RgbImage, SliceView, mask_centre,
    render_slice, render_three_views, to_png, write_png,
};

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];

/// A volume of -1000 HU (air, black in the default window) with size `[x, y, z]`.
fn air(size: [usize; 3], spacing: [f64; 3]) -> Volume<f32> {
    let g = Geometry::new(size, spacing, [0.0; 3], Direction::identity()).unwrap();
    Volume::new(Array3::from_elem((size[2], size[1], size[0]), -1000.0), g).unwrap()
}

fn nearest() -> OverlayOptions<'static> {
    OverlayOptions {
        interpolation: Interpolation::Nearest,
        ..Default::default()
    }
}

fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn png_decodes_with_expected_size_and_pixels() {
    let mut v = air([7, 5, 3], [1.0; 3]);
    v.data_mut()[[1, 2, 3]] = 1000.0;
    let img = render_slice(&v, SliceView::Axial, 1, &nearest()).unwrap();
    assert_eq!((img.width(), img.height()), (7, 5));
    let (w, h, pixels) = decode(&to_png(&img).unwrap());
    assert_eq!((w, h), (7, 5));
    assert_eq!(pixels, img.pixels());
    assert_eq!(img.get(3, 2), Some(WHITE));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slice.png");
    write_png(&img, &path).unwrap();
    let (w, h, _) = decode(&std::fs::read(&path).unwrap());
    assert_eq!((w, h), (7, 5));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temp file left behind"
    );
}

#[test]
fn axial_view_is_radiological() {
    // Identity direction (LPS): x = 0 is the patient's right, y = 0 anterior.
    let mut v = air([6, 4, 2], [1.0; 3]);
    v.data_mut()[[0, 0, 0]] = 1000.0; // right, anterior
    let img = render_slice(&v, SliceView::Axial, 0, &nearest()).unwrap();
    // Patient's right on the image's left, anterior at the top.
    assert_eq!(img.get(0, 0), Some(WHITE));
    assert_eq!(img.get(5, 0), Some(BLACK));
    assert_eq!(img.get(0, 3), Some(BLACK));
}

#[test]
fn coronal_and_sagittal_put_superior_up_and_anterior_left() {
    let mut v = air([6, 4, 5], [1.0; 3]);
    // Most superior slice (z = 4), patient's right (x = 0), most posterior row (y = 3).
    v.data_mut()[[4, 3, 0]] = 1000.0;
    let cor = render_slice(&v, SliceView::Coronal, 3, &nearest()).unwrap();
    assert_eq!((cor.width(), cor.height()), (6, 5));
    assert_eq!(
        cor.get(0, 0),
        Some(WHITE),
        "superior right should be top left"
    );
    assert_eq!(cor.get(0, 4), Some(BLACK));

    let sag = render_slice(&v, SliceView::Sagittal, 0, &nearest()).unwrap();
    assert_eq!((sag.width(), sag.height()), (4, 5));
    // Posterior is on the right of a sagittal view, superior at the top.
    assert_eq!(sag.get(3, 0), Some(WHITE));
    assert_eq!(sag.get(0, 0), Some(BLACK));
}

#[test]
fn thick_slices_stretch_coronal_and_sagittal_views() {
    // 0.8 mm in-plane, 2.5 mm slices: 10 slices cover 25 mm, i.e. 31.25 -> 31 pixels of 0.8 mm.
    let mut v = air([20, 16, 10], [0.8, 0.8, 2.5]);
    v.data_mut()[[9, 8, 10]] = 1000.0; // top slice
    let cor = render_slice(&v, SliceView::Coronal, 8, &nearest()).unwrap();
    assert_eq!((cor.width(), cor.height()), (20, 31));
    let sag = render_slice(&v, SliceView::Sagittal, 10, &nearest()).unwrap();
    assert_eq!((sag.width(), sag.height()), (16, 31));
    // The top slice spans about 2.5 / 0.8 = 3 rows of the picture.
    let bright_rows = (0..31).filter(|&y| cor.get(10, y) == Some(WHITE)).count();
    assert_eq!(bright_rows, 3);
    let ax = render_slice(&v, SliceView::Axial, 0, &nearest()).unwrap();
    assert_eq!((ax.width(), ax.height()), (20, 16));

    // A chosen pixel size scales every axis.
    let opts = OverlayOptions {
        pixel_size_mm: Some(0.4),
        ..Default::default()
    };
    let big = render_slice(&v, SliceView::Coronal, 8, &opts).unwrap();
    assert_eq!((big.width(), big.height()), (40, 63));
}

#[test]
fn three_views_share_height_and_scale() {
    let v = air([20, 16, 10], [0.8, 0.8, 2.5]);
    let img = render_three_views(&v, [10, 8, 5], &Default::default()).unwrap();
    // axial 20x16, coronal 20x31, sagittal 16x31 at 0.8 mm per pixel.
    assert_eq!(img.height(), 31);
    assert_eq!(img.width(), 20 + 20 + 16 + 2 * PANEL_GAP_PX);
    let err = render_three_views(&v, [10, 16, 5], &Default::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::IndexOutOfRange {
                index: 16,
                len: 16,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("centre voxel y"), "{err}");
}

#[test]
fn index_out_of_range_is_an_error() {
    let v = air([4, 3, 2], [1.0; 3]);
    let err = render_slice(&v, SliceView::Axial, 2, &Default::default()).unwrap_err();
    assert!(matches!(
        err,
        ReportError::IndexOutOfRange {
            index: 2,
            len: 2,
            ..
        }
    ));
    assert!(err.to_string().contains("axial"), "{err}");
    assert!(render_slice(&v, SliceView::Sagittal, 4, &Default::default()).is_err());
    assert!(render_slice(&v, SliceView::Sagittal, 3, &Default::default()).is_ok());
}

#[test]
fn overlays_on_another_grid_are_rejected_by_name() {
    let v = air([4, 3, 2], [1.0; 3]);
    let other = air([4, 3, 3], [1.0; 3]);
    let opts = OverlayOptions {
        heatmap: Some(&other),
        ..Default::default()
    };
    let err = render_slice(&v, SliceView::Axial, 0, &opts).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("heatmap grid"), "{msg}");
    assert!(
        msg.contains("[4, 3, 3]") && msg.contains("[4, 3, 2]"),
        "{msg}"
    );

    let mask = LabelMap::new(Array3::zeros((3, 3, 4)), other.geometry().clone()).unwrap();
    let opts = OverlayOptions {
        contour: Some(&mask),
        ..Default::default()
    };
    let err = render_three_views(&v, [0, 0, 0], &opts).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::GridMismatch {
                which: "contour",
                other_size: [4, 3, 3],
                ..
            }
        ),
        "{err}"
    );

    // Same size, shifted origin: still another grid.
    let mut shifted = v.geometry().clone();
    shifted.origin_mm[0] += 3.0;
    let mask = LabelMap::new(Array3::zeros((2, 3, 4)), shifted).unwrap();
    let opts = OverlayOptions {
        second_contour: Some((&mask, CONTOUR_MAGENTA)),
        ..Default::default()
    };
    let err = render_slice(&v, SliceView::Axial, 0, &opts).unwrap_err();
    assert!(err.to_string().contains("second contour"), "{err}");
    assert!(err.to_string().contains("origin"), "{err}");
}

#[test]
fn contour_is_a_one_pixel_outline() {
    let v = air([9, 9, 1], [1.0; 3]);
    let mut labels = Array3::<u16>::zeros((1, 9, 9));
    for y in 2..7 {
        for x in 2..7 {
            labels[[0, y, x]] = 1;
        }
    }
    let mask = LabelMap::for_image(labels, &v).unwrap();
    let opts = OverlayOptions {
        contour: Some(&mask),
        ..nearest()
    };
    let img = render_slice(&v, SliceView::Axial, 0, &opts).unwrap();
    let green = opts.contour_colour;
    let count = |img: &RgbImage, c| {
        (0..9)
            .flat_map(|y| (0..9).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get(x, y) == Some(c))
            .count()
    };
    assert_eq!(count(&img, green), 16, "border of a 5x5 square");
    assert_eq!(img.get(4, 4), Some(BLACK), "inside stays unpainted");
    assert_eq!(img.get(2, 2), Some(green));
    assert_eq!(img.get(1, 2), Some(BLACK));
    assert_eq!(mask_centre(&mask), Some([4, 4, 0]));
}

#[test]
fn heatmap_is_blended_above_threshold_only() {
    let v = air([10, 1, 1], [1.0; 3]);
    let mut heat = v.map(|_| 0.0f32);
    for x in 0..10 {
        heat.data_mut()[[0, 0, x]] = x as f32; // scale = 99th percentile of 1..9 = 9
    }
    let opts = OverlayOptions {
        heatmap: Some(&heat),
        heat_alpha: 1.0,
        heat_threshold: 0.3,
        ..nearest()
    };
    let img = render_slice(&v, SliceView::Axial, 0, &opts).unwrap();
    // 2/9 < 0.3: transparent (black air shows); 3/9 >= 0.3: coloured.
    assert_eq!(img.get(2, 0), Some(BLACK));
    assert_ne!(img.get(3, 0), Some(BLACK));
    // Inferno's top is pale yellow.
    let top = img.get(9, 0).unwrap();
    assert!(top[0] > 240 && top[1] > 240 && top[2] > 150, "{top:?}");

    // Signed map: negative values shown in blue with the diverging map.
    heat.data_mut()[[0, 0, 0]] = -9.0;
    let opts = OverlayOptions {
        heatmap: Some(&heat),
        heat_alpha: 1.0,
        heat_threshold: 0.3,
        heat_colormap: Colormap::Diverging,
        ..nearest()
    };
    let img = render_slice(&v, SliceView::Axial, 0, &opts).unwrap();
    let neg = img.get(0, 0).unwrap();
    let pos = img.get(9, 0).unwrap();
    assert!(neg[2] > neg[0], "negative should be blue: {neg:?}");
    assert!(pos[0] > pos[2], "positive should be red: {pos:?}");

    // A fixed scale above every value keeps weak values transparent.
    let opts = OverlayOptions {
        heat_max: Some(100.0),
        ..opts
    };
    let img = render_slice(&v, SliceView::Axial, 0, &opts).unwrap();
    assert_eq!(img.get(9, 0), Some(BLACK));
}

#[test]
fn window_maps_hu_to_grey() {
    let mut v = air([3, 1, 1], [1.0; 3]);
    v.data_mut()[[0, 0, 0]] = -160.0; // bottom of the 40/400 window
    v.data_mut()[[0, 0, 1]] = 40.0; // centre
    v.data_mut()[[0, 0, 2]] = f32::NAN; // no data
    let img = render_slice(&v, SliceView::Axial, 0, &nearest()).unwrap();
    assert_eq!(img.get(0, 0), Some(BLACK));
    assert_eq!(img.get(1, 0), Some([128, 128, 128]));
    assert_eq!(img.get(2, 0), Some(BLACK));
}

#[test]
fn empty_volume_is_an_error() {
    let v = air([0, 3, 2], [1.0; 3]);
    assert!(matches!(
        render_slice(&v, SliceView::Axial, 0, &Default::default()),
        Err(ReportError::EmptyImage(_))
    ));
}
