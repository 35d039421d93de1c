//! HTML reports: escaping, self-containment, embedded pictures, atomic writing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use ndarray::Array3;
use oncolens_core::{Direction, Geometry, Volume};
use oncolens_report::{
    LineChart, OverlayOptions, Report, Series, SliceView, line_chart, render_slice,
};

fn sample_png() -> Vec<u8> {
    let g = Geometry::new([8, 6, 2], [1.0; 3], [0.0; 3], Direction::identity()).unwrap();
    let v = Volume::new(Array3::from_elem((2, 6, 8), 40.0f32), g).unwrap();
    render_slice(&v, SliceView::Axial, 0, &OverlayOptions::default())
        .unwrap()
        .to_png()
        .unwrap()
}

fn full_report() -> Report {
    let mut r = Report::new("Case <017> & friends");
    r.generated_at(Some("2025-01-01 00:00 UTC".into()));
    r.section("Summary")
        .key_values(&[("Prediction", "malignant (p = 0.91)"), ("Site", "<b>A</b>")])
        .paragraph("First paragraph.\n\nSecond <paragraph>.");
    r.section("Images")
        .image_png("<script>alert('x')</script> axial slice", &sample_png())
        .svg(
            "ROC",
            &line_chart(&LineChart::roc("ROC").with(Series::new(
                "model",
                vec![0.0, 0.2, 1.0],
                vec![0.0, 0.8, 1.0],
            ))),
        );
    r.section("Metrics").table(
        &["Metric", "Value"],
        &[
            vec!["AUC", "0.87 (0.81–0.92)"],
            vec!["Note", "a & b"],
            vec!["short"],
        ],
    );
    r.section("Log")
        .preformatted("epoch 1 <loss 0.3>\n  epoch 2");
    r
}

#[test]
fn text_is_escaped_everywhere() {
    let html = full_report().to_html();
    assert!(!html.contains("<script"), "unescaped script");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; axial slice"));
    assert!(html.contains("<title>Case &lt;017&gt; &amp; friends</title>"));
    assert!(html.contains("&lt;b&gt;A&lt;/b&gt;"));
    assert!(html.contains("<p>Second &lt;paragraph&gt;.</p>"));
    assert!(html.contains("<pre>epoch 1 &lt;loss 0.3&gt;\n  epoch 2</pre>"));
    assert!(html.contains("<td>a &amp; b</td>"));
}

#[test]
fn report_is_self_contained() {
    let html = full_report().to_html();
    for needle in [
        "http:",
        "https:",
        "src=\"//",
        "href=\"//",
        "<script",
        "<link",
        "@import",
    ] {
        assert!(!html.contains(needle), "found {needle:?}");
    }
    // Every src and href is a data URI or an in-page anchor.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            assert!(
                rest.starts_with("data:") || rest.starts_with('#'),
                "{}",
                &rest[..rest.len().min(40)]
            );
        }
    }
    assert!(html.contains("Content-Security-Policy"));
}

#[test]
fn structure_has_header_contents_and_numbered_figures() {
    let html = full_report().to_html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Generated 2025-01-01 00:00 UTC."));
    assert!(html.contains("Research software, not a medical device"));
    for (i, h) in ["Summary", "Images", "Metrics", "Log"].iter().enumerate() {
        assert!(html.contains(&format!("<li><a href=\"#section-{}\">{h}</a></li>", i + 1)));
        assert!(html.contains(&format!("<section id=\"section-{}\">\n<h2>{h}</h2>", i + 1)));
    }
    assert!(html.contains("Figure 1. "));
    assert!(html.contains("Figure 2. ROC"));
    // Numbers right-aligned, short rows padded.
    assert!(html.contains("<td class=\"num\">0.87 (0.81–0.92)</td>"));
    assert!(html.contains("<tr><td>short</td><td></td></tr>"));
    // Same inputs, same bytes once the timestamp is fixed.
    assert_eq!(html, full_report().to_html());
}

#[test]
fn embedded_png_round_trips() {
    let png = sample_png();
    let html = full_report().to_html();
    let start = html.find("data:image/png;base64,").unwrap() + "data:image/png;base64,".len();
    let end = start + html[start..].find('"').unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&html[start..end])
        .unwrap();
    assert_eq!(bytes, png);
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    assert_eq!((reader.info().width, reader.info().height), (8, 6));

    // The SVG is embedded as an image and decodes to well-formed XML.
    let start = html.find("data:image/svg+xml;base64,").unwrap() + 26;
    let end = start + html[start..].find('"').unwrap();
    let svg = base64::engine::general_purpose::STANDARD
        .decode(&html[start..end])
        .unwrap();
    roxmltree::Document::parse(std::str::from_utf8(&svg).unwrap()).unwrap();
}

#[test]
fn bad_figure_data_becomes_a_notice() {
    let mut r = Report::new("t");
    r.section("s")
        .image_png("not a picture", b"GIF89a...")
        .svg("not svg", "hello");
    let html = r.to_html();
    assert!(!html.contains("<img"));
    assert_eq!(html.matches("class=\"missing\"").count(), 2);
    assert!(html.contains("not a PNG image"));
}

#[test]
fn write_is_atomic_and_reports_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let report = full_report();
    report.write(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), report.to_html());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary file left behind: {names:?}");

    let missing = dir.path().join("no-such-folder").join("report.html");
    let err = report.write(&missing).unwrap_err();
    assert!(err.to_string().contains("no-such-folder"), "{err}");
}
