//! Writes a sample report built from a synthetic phantom, to look at the pictures and plots:
//! `cargo run -p oncolens-report --example sample_report -- out-dir`.

use std::path::PathBuf;

use ndarray::Array3;
use oncolens_core::{Direction, Geometry, LabelMap, Volume};
use oncolens_report::overlay::CONTOUR_MAGENTA;
use oncolens_report::{
    Bar, BarChart, Colormap, HeatmapTable, LineChart, OverlayOptions, Report, Series, SliceView,
    bar_chart, heatmap_table, line_chart, mask_centre, render_slice, render_three_views,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "report-sample".into()),
    );
    std::fs::create_dir_all(&out)?;

    // 96 x 80 x 40 voxels of 0.8 x 0.8 x 2.5 mm: an elliptic body (40 HU), a spine (700 HU)
    // posterior, a lesion in the patient's right half (x small), superior part of the volume.
    let (nx, ny, nz) = (96usize, 80usize, 40usize);
    let g = Geometry::new(
        [nx, ny, nz],
        [0.8, 0.8, 2.5],
        [0.0; 3],
        Direction::identity(),
    )?;
    let mut ct = Array3::from_elem((nz, ny, nx), -1000.0f32);
    let mut labels = Array3::<u16>::zeros((nz, ny, nx));
    let mut heat = Array3::<f32>::zeros((nz, ny, nx));
    let lesion = [30.0, 38.0, 28.0];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let (fx, fy, fz) = (x as f64, y as f64, z as f64);
                let body = ((fx - 48.0) / 44.0).powi(2) + ((fy - 40.0) / 34.0).powi(2);
                if body <= 1.0 {
                    ct[[z, y, x]] = 40.0;
                }
                if ((fx - 48.0) / 6.0).powi(2) + ((fy - 66.0) / 6.0).powi(2) <= 1.0 {
                    ct[[z, y, x]] = 700.0;
                }
                let d2 = ((fx - lesion[0]) * 0.8).powi(2)
                    + ((fy - lesion[1]) * 0.8).powi(2)
                    + ((fz - lesion[2]) * 2.5).powi(2);
                if d2 <= 10.0f64.powi(2) {
                    ct[[z, y, x]] = 90.0;
                    labels[[z, y, x]] = 1;
                }
                heat[[z, y, x]] = (-d2 / (2.0 * 9.0f64.powi(2))).exp() as f32
                    - 0.5
                        * (-(((fx - 66.0) * 0.8).powi(2)
                            + ((fy - 40.0) * 0.8).powi(2)
                            + ((fz - 28.0) * 2.5).powi(2))
                            / 60.0)
                            .exp() as f32;
            }
        }
    }
    let image = Volume::new(ct, g.clone())?;
    let mask = LabelMap::for_image(labels, &image)?;
    let heat = Volume::new(heat, g)?;
    // A "reference" segmentation three voxels to the patient's left, to show two outlines.
    let mut moved = Array3::<u16>::zeros((nz, ny, nx));
    for ((z, y, x), l) in mask.data().indexed_iter() {
        if *l > 0 && x + 3 < nx {
            moved[[z, y, x + 3]] = 1;
        }
    }
    let reference = LabelMap::for_image(moved, &image)?;

    let centre = mask_centre(&mask).ok_or("empty mask")?;
    let opts = OverlayOptions {
        heatmap: Some(&heat),
        contour: Some(&mask),
        ..Default::default()
    };
    let three = render_three_views(&image, centre, &opts)?;
    three.write_png(out.join("three.png"))?;
    let signed = OverlayOptions {
        heat_colormap: Colormap::Diverging,
        second_contour: Some((&reference, CONTOUR_MAGENTA)),
        pixel_size_mm: Some(0.25),
        ..opts
    };
    let axial = render_slice(&image, SliceView::Axial, centre[2], &signed)?;
    axial.write_png(out.join("axial.png"))?;
    let coronal = render_slice(
        &image,
        SliceView::Coronal,
        centre[1],
        &OverlayOptions::default(),
    )?;
    coronal.write_png(out.join("coronal.png"))?;

    let roc = LineChart::roc("ROC, held-out site")
        .with(Series::new(
            "CT model (AUC 0.86)",
            vec![0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0],
            vec![0.0, 0.45, 0.62, 0.8, 0.9, 0.97, 1.0],
        ))
        .with(
            Series::new(
                "Clinical (AUC 0.71)",
                vec![0.0, 0.3, 0.6, 1.0],
                vec![0.0, 0.5, 0.8, 1.0],
            )
            .dashed(),
        );
    let bars = BarChart {
        title: "AUC per site".into(),
        y_label: "AUC".into(),
        bars: vec![
            Bar::new("Site A", 0.88).with_ci(0.82, 0.93),
            Bar::new("Site B", 0.79).with_ci(0.70, 0.87),
            Bar::new("Site C", 0.66).with_ci(0.52, 0.78),
        ],
        y_range: Some((0.0, 1.0)),
    };
    std::fs::write(out.join("roc.svg"), line_chart(&roc))?;
    std::fs::write(out.join("bars.svg"), bar_chart(&bars))?;
    let table = HeatmapTable {
        title: "Confusion matrix".into(),
        row_labels: vec!["benign".into(), "malignant".into()],
        col_labels: vec!["predicted benign".into(), "predicted malignant".into()],
        values: vec![vec![41.0, 7.0], vec![5.0, 27.0]],
        range: None,
        decimals: 0,
    };
    std::fs::write(out.join("confusion.svg"), heatmap_table(&table))?;
    let many = BarChart {
        title: "Radiomics feature importance".into(),
        y_label: "Change in AUC".into(),
        bars: (0..14)
            .map(|i| Bar::new(format!("original_glcm_feature_{i}"), 0.05 - 0.01 * i as f64))
            .collect(),
        y_range: None,
    };
    std::fs::write(out.join("many.svg"), bar_chart(&many))?;

    let mut report = Report::new("Sample case: right renal lesion");
    report.section("Summary").key_values(&[
        ("Prediction", "malignant, p = 0.91"),
        ("Lesion volume", "4.2 mL"),
    ]);
    report
        .section("Explanation")
        .image(
            "Axial, coronal and sagittal slices through the lesion centre",
            &three,
        )
        .image(
            "Axial slice, signed attribution at 0.25 mm per pixel",
            &axial,
        );
    report
        .section("Performance")
        .svg("ROC curves", &line_chart(&roc))
        .svg("AUC per site with 95% CI", &bar_chart(&bars))
        .svg(
            "Confusion matrix at the 0.5 threshold",
            &heatmap_table(&table),
        )
        .table(
            &["Site", "AUC (95% CI)", "n"],
            &[["A", "0.88 (0.82–0.93)", "120"]],
        );
    report.write(out.join("report.html"))?;
    println!("wrote {}", out.display());
    Ok(())
}
