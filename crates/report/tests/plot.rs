//! SVG plots: well-formed XML, labels present and escaped, bad data skipped without panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oncolens_report::plot::OKABE_ITO;
use oncolens_report::{
    Bar, BarChart, HeatmapTable, LineChart, Series, bar_chart, heatmap_table, line_chart,
};

/// Parses the SVG and returns the concatenated text of every `<text>` element.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|t| t.is_text())
                .filter_map(|t| t.text())
                .collect()
        })
        .collect()
}

fn count_tag(svg: &str, tag: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants().filter(|n| n.has_tag_name(tag)).count()
}

#[test]
fn roc_chart_is_well_formed_with_labels_and_legend() {
    let chart = LineChart::roc("ROC, test set (n = 120)")
        .with(Series::new(
            "CT model (AUC 0.87)",
            vec![0.0, 0.1, 0.3, 1.0],
            vec![0.0, 0.6, 0.9, 1.0],
        ))
        .with(
            Series::new(
                "Clinical baseline",
                vec![0.0, 0.5, 1.0],
                vec![0.0, 0.6, 1.0],
            )
            .dashed(),
        );
    let svg = line_chart(&chart);
    let t = texts(&svg);
    for want in [
        "ROC, test set (n = 120)",
        "CT model (AUC 0.87)",
        "Clinical baseline",
        "True positive rate (sensitivity)",
        "0.0",
        "1.0",
    ] {
        assert!(t.iter().any(|s| s == want), "missing {want:?} in {t:?}");
    }
    assert!(svg.contains(OKABE_ITO[0]) && svg.contains(OKABE_ITO[1]));
    assert!(svg.contains("stroke-dasharray=\"7 4\""), "dashed series");
    assert!(svg.contains("stroke-dasharray=\"2 4\""), "diagonal");
    // Few points: each gets a marker.
    assert_eq!(count_tag(&svg, "circle"), 7);
}

#[test]
fn text_is_escaped() {
    let chart = LineChart {
        title: "<script>alert(1)</script> & co".into(),
        x_label: "x \"quoted\"".into(),
        series: vec![Series::new("a<b", vec![1.0, 2.0], vec![3.0, 4.0])],
        ..Default::default()
    };
    let svg = line_chart(&chart);
    assert!(!svg.contains("<script>"));
    let t = texts(&svg);
    assert!(
        t.contains(&"<script>alert(1)</script> & co".to_owned()),
        "{t:?}"
    );
    assert!(t.contains(&"a<b".to_owned()));
    assert!(t.contains(&"x \"quoted\"".to_owned()));
}

#[test]
fn nan_points_break_the_line_and_empty_series_are_fine() {
    let chart = LineChart {
        title: "Calibration".into(),
        series: vec![
            Series::new(
                "with gaps",
                vec![0.1, 0.2, f64::NAN, 0.4, 0.5],
                vec![0.1, 0.25, 0.3, f64::INFINITY, 0.45],
            ),
            Series::new("empty", vec![], vec![]),
            Series::new("ragged", vec![0.1, 0.9, 0.95], vec![0.2]),
        ],
        diagonal: true,
        ..LineChart::calibration("Calibration")
    };
    let svg = line_chart(&chart);
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    let t = texts(&svg);
    assert!(t.contains(&"empty".to_owned()) && t.contains(&"ragged".to_owned()));
    // Only the 0.1 -> 0.2 segment survives; 0.5 stands alone as a marker.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let paths: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("path"))
        .filter_map(|n| n.attribute("d"))
        .collect();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert_eq!(paths[0].matches('M').count(), 1);
    assert_eq!(count_tag(&svg, "circle"), 3 + 1);

    let empty = line_chart(&LineChart::default());
    assert!(texts(&empty).contains(&"no data".to_owned()));
}

#[test]
fn out_of_range_points_are_clipped() {
    let chart = LineChart {
        series: vec![Series::new("s", vec![-5.0, 0.5, 5.0], vec![-5.0, 0.5, 5.0])],
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.0)),
        ..Default::default()
    };
    let svg = line_chart(&chart);
    texts(&svg);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let d = doc
        .descendants()
        .find(|n| n.has_tag_name("path"))
        .and_then(|n| n.attribute("d"))
        .unwrap();
    // Every coordinate lies inside the plot frame (76..516 x 40..360).
    for num in d.split(['M', 'L', ' ']).filter(|s| !s.is_empty()) {
        let v: f64 = num.parse().unwrap();
        assert!((40.0..=516.0).contains(&v), "{v} in {d}");
    }
}

#[test]
fn bar_chart_draws_bars_and_intervals() {
    let chart = BarChart {
        title: "AUC per site".into(),
        y_label: "AUC".into(),
        bars: vec![
            Bar::new("Site A", 0.86).with_ci(0.80, 0.91),
            Bar::new("Site B", 0.74).with_ci(0.65, 0.82),
            Bar::new("Site C (no positives)", f64::NAN),
            Bar::new("Site D", 0.5).with_ci(f64::NAN, 0.7),
        ],
        y_range: Some((0.0, 1.0)),
    };
    let svg = bar_chart(&chart);
    let t = texts(&svg);
    for want in [
        "AUC per site",
        "AUC",
        "Site A",
        "Site C (no positives)",
        "0.860",
        "n/a",
    ] {
        assert!(t.iter().any(|s| s == want), "missing {want:?} in {t:?}");
    }
    // Background + 3 finite bars + plot frame.
    assert_eq!(count_tag(&svg, "rect"), 1 + 3 + 1);
    // Two complete intervals.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("path")).count(),
        2
    );

    let empty = bar_chart(&BarChart::default());
    assert!(texts(&empty).contains(&"no data".to_owned()));

    // Negative values and long labels.
    let chart = BarChart {
        bars: (0..12)
            .map(|i| Bar::new(format!("a rather long feature name {i}"), i as f64 - 6.0))
            .collect(),
        ..Default::default()
    };
    let svg = bar_chart(&chart);
    assert!(svg.contains("rotate(-40"));
    texts(&svg);
}

#[test]
fn heatmap_table_shows_values() {
    let table = HeatmapTable {
        title: "Confusion matrix".into(),
        row_labels: vec!["benign".into(), "malignant".into()],
        col_labels: vec!["pred. benign".into(), "pred. malignant".into()],
        values: vec![vec![40.0, 5.0], vec![f64::NAN]],
        range: None,
        decimals: 0,
    };
    let svg = heatmap_table(&table);
    let t = texts(&svg);
    for want in [
        "Confusion matrix",
        "benign",
        "pred. malignant",
        "40",
        "5",
        "–",
    ] {
        assert!(t.iter().any(|s| s == want), "missing {want:?} in {t:?}");
    }
    assert!(texts(&heatmap_table(&HeatmapTable::default())).contains(&"no data".to_owned()));
}
