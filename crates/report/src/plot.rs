//! Plots as standalone SVG documents, written by hand.
//!
//! Hand-written rather than built on a plotting crate because reports need only a few chart
//! kinds (ROC and calibration curves, metrics with confidence intervals, small tables of
//! numbers), and because the output must be a self-contained string that embeds in an offline
//! HTML file. Colours come from the Okabe–Ito palette, which stays distinguishable under the
//! common colour-vision deficiencies; dashed lines give a second cue.
//!
//! Data problems never panic: non-finite points are skipped (the line breaks there), a series
//! with `xs` and `ys` of different lengths uses the common prefix, and an empty chart still
//! draws its axes with a "no data" note. All text is escaped.

use std::fmt::Write as _;

use crate::text::escape;

/// The Okabe–Ito colour-blind-safe palette, in the order series use it (yellow last: it is hard
/// to see on white).
pub const OKABE_ITO: [&str; 8] = [
    "#0072B2", // blue
    "#D55E00", // vermillion
    "#009E73", // bluish green
    "#CC79A7", // reddish purple
    "#E69F00", // orange
    "#56B4E9", // sky blue
    "#000000", // black
    "#F0E442", // yellow
];

/// Series with at most this many finite points also get a dot at each point, so that the
/// operating points of a small ROC curve or the bins of a calibration curve are visible.
pub const MARKER_MAX_POINTS: usize = 25;

pub(crate) const FONT: &str = "font-family=\"Helvetica, Arial, sans-serif\"";
const CHAR_W: f64 = 6.8; // rough width of one character at 12 px, for layout
const AXIS_COLOUR: &str = "#333333";
const GRID_COLOUR: &str = "#e5e5e5";

/// One line of a [`LineChart`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub label: String,
    pub xs: Vec<f64>,
    pub ys: Vec<f64>,
    /// Dashed line, e.g. for a baseline model or a validation curve.
    pub dashed: bool,
}

impl Series {
    pub fn new(label: impl Into<String>, xs: Vec<f64>, ys: Vec<f64>) -> Self {
        Series {
            label: label.into(),
            xs,
            ys,
            dashed: false,
        }
    }

    /// The same series drawn dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// A line chart: ROC curves, calibration curves, learning curves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Draw the y = x line (chance for ROC, perfect calibration for reliability diagrams).
    pub diagonal: bool,
    /// Axis ranges; `None` (or an invalid range) fits the data.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
}

impl LineChart {
    /// An empty ROC chart: rates on both axes, 0 to 1, with the chance diagonal.
    pub fn roc(title: impl Into<String>) -> Self {
        LineChart {
            title: title.into(),
            x_label: "False positive rate (1 − specificity)".into(),
            y_label: "True positive rate (sensitivity)".into(),
            series: Vec::new(),
            diagonal: true,
            x_range: Some((0.0, 1.0)),
            y_range: Some((0.0, 1.0)),
        }
    }

    /// An empty calibration (reliability) chart: 0 to 1 with the perfect-calibration diagonal.
    pub fn calibration(title: impl Into<String>) -> Self {
        LineChart {
            title: title.into(),
            x_label: "Predicted probability".into(),
            y_label: "Observed frequency".into(),
            series: Vec::new(),
            diagonal: true,
            x_range: Some((0.0, 1.0)),
            y_range: Some((0.0, 1.0)),
        }
    }

    /// Adds a series (builder style).
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }
}

/// One bar of a [`BarChart`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// Confidence interval (low, high), drawn as an error bar.
    pub ci: Option<(f64, f64)>,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Bar {
            label: label.into(),
            value,
            ci: None,
        }
    }

    pub fn with_ci(mut self, low: f64, high: f64) -> Self {
        self.ci = Some((low, high));
        self
    }
}

/// A bar chart with optional confidence intervals, e.g. AUC per site.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub bars: Vec<Bar>,
    /// Value range; `None` (or an invalid range) fits the values, intervals and zero.
    pub y_range: Option<(f64, f64)>,
}

/// A grid of numbers shown as coloured cells with the value written in, e.g. a confusion matrix
/// or a metric per site and model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeatmapTable {
    pub title: String,
    pub row_labels: Vec<String>,
    pub col_labels: Vec<String>,
    /// `values[row][col]`; missing or non-finite cells are drawn grey with a dash.
    pub values: Vec<Vec<f64>>,
    /// Values mapped to the lightest and darkest colour; `None` uses the data's min and max.
    pub range: Option<(f64, f64)>,
    /// Digits after the decimal point in the cells.
    pub decimals: usize,
}

/// A rectangle in SVG pixels.
#[derive(Debug, Clone, Copy)]
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

/// Linear maps from data to SVG pixels inside a frame.
#[derive(Debug, Clone, Copy)]
struct Scale {
    frame: Frame,
    x: (f64, f64),
    y: (f64, f64),
}

impl Scale {
    fn px(&self, x: f64) -> f64 {
        self.frame.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.frame.width
    }

    fn py(&self, y: f64) -> f64 {
        self.frame.top + self.frame.height
            - (y - self.y.0) / (self.y.1 - self.y.0) * self.frame.height
    }
}

/// Tick positions for a range: steps of 1, 2 or 5 times a power of ten, about `target` of them.
fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let mut out = Vec::new();
    let first = (lo / step - 1e-9).ceil();
    for k in 0..200 {
        let v = (first + k as f64) * step;
        if v > hi + step * 1e-9 {
            break;
        }
        out.push(v);
    }
    (out, decimals.min(12))
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Number with a fixed number of decimals, without a "-0".
fn fmt_fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_owned()
    } else {
        s
    }
}

/// Number with about three significant digits, for value labels.
fn fmt_sig(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor();
    if !(-4.0..6.0).contains(&mag) {
        return format!("{v:.2e}");
    }
    fmt_fixed(v, (2.0 - mag).max(0.0) as usize)
}

/// Coordinates in SVG, two decimals.
fn c(v: f64) -> String {
    fmt_fixed(v, 2)
}

/// The range to draw: `explicit` if it is a valid interval, else the finite data widened to
/// "nice" tick boundaries (and to a unit interval around a single value).
/// `headroom` widens a fitted range by that fraction of its span on each side away from zero,
/// so that labels above bars do not touch the frame.
fn resolve_range(
    explicit: Option<(f64, f64)>,
    data: impl Iterator<Item = f64>,
    headroom: f64,
) -> (f64, f64) {
    if let Some((lo, hi)) = explicit
        .filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite())
    {
        return (lo, hi);
    }
    let (mut lo, mut hi) = data
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    if !(hi - lo).is_finite() {
        // Values near ±f64::MAX: no tick maths would work, show what fits.
        return (f64::MIN / 4.0, f64::MAX / 4.0);
    }
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    }
    let span = hi - lo;
    if hi > 0.0 {
        hi += headroom * span;
    }
    if lo < 0.0 {
        lo -= headroom * span;
    }
    let step = nice_step((hi - lo) / 5.0);
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// Clips the segment a–b to the rectangle (Liang–Barsky); `None` if it lies outside.
fn clip(
    a: (f64, f64),
    b: (f64, f64),
    x: (f64, f64),
    y: (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [
        (-dx, a.0 - x.0),
        (dx, x.1 - a.0),
        (-dy, a.1 - y.0),
        (dy, y.1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    Some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

fn svg_open(out: &mut String, width: f64, height: f64, title: &str) {
    let t = escape(title);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" {FONT} font-size=\"12\">\
         <title>{t}</title>\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>",
        w = c(width),
        h = c(height),
    );
    if !title.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" \
             font-weight=\"bold\">{t}</text>",
            c(width / 2.0)
        );
    }
}

/// Axes with ticks, grid lines and labels around `s.frame`.
fn axes(out: &mut String, s: &Scale, x_label: Option<&str>, y_label: &str) {
    let f = s.frame;
    let bottom = f.top + f.height;
    let (yt, yd) = ticks(s.y.0, s.y.1, 5);
    for v in yt {
        let y = s.py(v);
        let _ = write!(
            out,
            "<line x1=\"{l}\" y1=\"{y}\" x2=\"{r}\" y2=\"{y}\" stroke=\"{GRID_COLOUR}\"/>\
             <line x1=\"{l5}\" y1=\"{y}\" x2=\"{l}\" y2=\"{y}\" stroke=\"{AXIS_COLOUR}\"/>\
             <text x=\"{l8}\" y=\"{y4}\" text-anchor=\"end\">{v}</text>",
            l = c(f.left),
            r = c(f.left + f.width),
            l5 = c(f.left - 5.0),
            l8 = c(f.left - 8.0),
            y = c(y),
            y4 = c(y + 4.0),
            v = fmt_fixed(v, yd),
        );
    }
    if x_label.is_some() {
        let (xt, xd) = ticks(s.x.0, s.x.1, 6);
        for v in xt {
            let x = s.px(v);
            let _ = write!(
                out,
                "<line x1=\"{x}\" y1=\"{t}\" x2=\"{x}\" y2=\"{b}\" stroke=\"{GRID_COLOUR}\"/>\
                 <line x1=\"{x}\" y1=\"{b}\" x2=\"{x}\" y2=\"{b5}\" stroke=\"{AXIS_COLOUR}\"/>\
                 <text x=\"{x}\" y=\"{b18}\" text-anchor=\"middle\">{v}</text>",
                x = c(x),
                t = c(f.top),
                b = c(bottom),
                b5 = c(bottom + 5.0),
                b18 = c(bottom + 18.0),
                v = fmt_fixed(v, xd),
            );
        }
    }
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{AXIS_COLOUR}\"/>",
        c(f.left),
        c(f.top),
        c(f.width),
        c(f.height)
    );
    if let Some(xl) = x_label.filter(|l| !l.is_empty()) {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
            c(f.left + f.width / 2.0),
            c(bottom + 40.0),
            escape(xl)
        );
    }
    if !y_label.is_empty() {
        let (x, y) = (f.left - 52.0, f.top + f.height / 2.0);
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{y}\" transform=\"rotate(-90 {x} {y})\" text-anchor=\"middle\" \
             font-size=\"13\">{}</text>",
            escape(y_label),
            x = c(x),
            y = c(y),
        );
    }
}

fn no_data(out: &mut String, f: Frame) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#777777\">no data</text>",
        c(f.left + f.width / 2.0),
        c(f.top + f.height / 2.0)
    );
}

/// Text width estimate in pixels, for layout only.
fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * CHAR_W
}

/// Shortens a label to `max` characters with an ellipsis, so one long name cannot push a
/// chart off the page.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The finite (x, y) points of a series, `None` where the line must break.
fn points(s: &Series) -> Vec<Option<(f64, f64)>> {
    s.xs.iter()
        .zip(&s.ys)
        .map(|(&x, &y)| (x.is_finite() && y.is_finite()).then_some((x, y)))
        .collect()
}

/// Renders a line chart as a standalone SVG document.
pub fn line_chart(chart: &LineChart) -> String {
    const PLOT_W: f64 = 440.0;
    const PLOT_H: f64 = 320.0;
    let labels: Vec<String> = chart.series.iter().map(|s| shorten(&s.label, 40)).collect();
    let legend_w = if labels.iter().any(|l| !l.is_empty()) {
        labels.iter().map(|l| text_width(l)).fold(0.0, f64::max) + 48.0
    } else {
        0.0
    };
    let frame = Frame {
        left: 76.0,
        top: 40.0,
        width: PLOT_W,
        height: PLOT_H,
    };
    let width = frame.left + frame.width + 20.0 + legend_w;
    let height = frame.top + frame.height + 56.0;
    let all = || {
        chart
            .series
            .iter()
            .flat_map(|s| points(s).into_iter().flatten())
    };
    let scale = Scale {
        frame,
        x: resolve_range(chart.x_range, all().map(|p| p.0), 0.0),
        y: resolve_range(chart.y_range, all().map(|p| p.1), 0.0),
    };

    let mut out = String::new();
    svg_open(&mut out, width, height, &chart.title);
    axes(&mut out, &scale, Some(&chart.x_label), &chart.y_label);

    if chart.diagonal {
        let lo = scale.x.0.max(scale.y.0);
        let hi = scale.x.1.min(scale.y.1);
        if lo < hi {
            let _ = write!(
                out,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999999\" \
                 stroke-dasharray=\"2 4\"/>",
                c(scale.px(lo)),
                c(scale.py(lo)),
                c(scale.px(hi)),
                c(scale.py(hi))
            );
        }
    }

    if all().next().is_none() {
        no_data(&mut out, frame);
    }

    for (i, s) in chart.series.iter().enumerate() {
        let colour = OKABE_ITO[i % OKABE_ITO.len()];
        let pts = points(s);
        let mut d = String::new();
        let mut last_end: Option<(f64, f64)> = None;
        for w in pts.windows(2) {
            let (Some(a), Some(b)) = (w[0], w[1]) else {
                continue;
            };
            if let Some((p, q)) = clip(a, b, scale.x, scale.y) {
                let (p, q) = (
                    (scale.px(p.0), scale.py(p.1)),
                    (scale.px(q.0), scale.py(q.1)),
                );
                if last_end != Some(p) {
                    let _ = write!(d, "M{} {}", c(p.0), c(p.1));
                }
                let _ = write!(d, "L{} {}", c(q.0), c(q.1));
                last_end = Some(q);
            }
        }
        let dash = if s.dashed {
            " stroke-dasharray=\"7 4\""
        } else {
            ""
        };
        if !d.is_empty() {
            let _ = write!(
                out,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>"
            );
        }
        let finite: Vec<(f64, f64)> = pts.iter().flatten().copied().collect();
        if finite.len() <= MARKER_MAX_POINTS {
            for (x, y) in finite {
                let inside =
                    (scale.x.0..=scale.x.1).contains(&x) && (scale.y.0..=scale.y.1).contains(&y);
                if inside {
                    let _ = write!(
                        out,
                        "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{colour}\"/>",
                        c(scale.px(x)),
                        c(scale.py(y))
                    );
                }
            }
        }
    }

    if legend_w > 0.0 {
        let lx = frame.left + frame.width + 20.0;
        for (i, (s, label)) in chart.series.iter().zip(&labels).enumerate() {
            let colour = OKABE_ITO[i % OKABE_ITO.len()];
            let y = frame.top + 12.0 + i as f64 * 20.0;
            let dash = if s.dashed {
                " stroke-dasharray=\"7 4\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{colour}\" \
                 stroke-width=\"2\"{dash}/><text x=\"{}\" y=\"{}\">{}</text>",
                c(lx),
                c(lx + 30.0),
                c(lx + 36.0),
                c(y + 4.0),
                escape(label),
                y = c(y),
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Renders a bar chart (with confidence-interval error bars) as a standalone SVG document.
pub fn bar_chart(chart: &BarChart) -> String {
    let n = chart.bars.len();
    let labels: Vec<String> = chart.bars.iter().map(|b| shorten(&b.label, 30)).collect();
    let plot_w = (n as f64 * 64.0).clamp(320.0, 1400.0);
    let slot = plot_w / n.max(1) as f64;
    let widest = labels.iter().map(|l| text_width(l)).fold(0.0, f64::max);
    let rotate = widest > slot - 6.0;
    // Labels rotated by 40° reach cos(40°) of their length to the left of their bar.
    let label_h = if rotate { widest * 0.65 + 12.0 } else { 20.0 };
    let left = if rotate {
        (widest * 0.77 - slot / 2.0 + 8.0).max(76.0)
    } else {
        76.0
    };
    let frame = Frame {
        left,
        top: 40.0,
        width: plot_w,
        height: 300.0,
    };
    let width = frame.left + frame.width + 24.0;
    let height = frame.top + frame.height + label_h + 16.0;

    let values = chart.bars.iter().flat_map(|b| {
        let (lo, hi) = b.ci.unwrap_or((f64::NAN, f64::NAN));
        [b.value, lo, hi, 0.0]
    });
    let y = resolve_range(chart.y_range, values, 0.08);
    let scale = Scale {
        frame,
        x: (0.0, 1.0),
        y,
    };
    let clamp_y = |v: f64| scale.py(v.clamp(y.0, y.1));

    let mut out = String::new();
    svg_open(&mut out, width, height, &chart.title);
    axes(&mut out, &scale, None, &chart.y_label);
    if n == 0 {
        no_data(&mut out, frame);
    }
    let base = clamp_y(0.0);
    let bottom = frame.top + frame.height;
    for (i, (bar, label)) in chart.bars.iter().zip(&labels).enumerate() {
        let cx = frame.left + (i as f64 + 0.5) * slot;
        let bw = (slot * 0.6).min(60.0);
        // The value is written beyond the end of the bar (and its interval): above for
        // positive values, below for negative ones.
        let down = bar.value < 0.0;
        let mut top_of_marks = base;
        let mut bottom_of_marks = base;
        if bar.value.is_finite() {
            let v = clamp_y(bar.value);
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
                c(cx - bw / 2.0),
                c(v.min(base)),
                c(bw),
                c((v - base).abs()),
                OKABE_ITO[0]
            );
            top_of_marks = top_of_marks.min(v);
            bottom_of_marks = bottom_of_marks.max(v);
        }
        if let Some((lo, hi)) = bar.ci.filter(|(lo, hi)| lo.is_finite() && hi.is_finite()) {
            let (a, b) = (clamp_y(lo.min(hi)), clamp_y(lo.max(hi)));
            let cap = bw / 4.0;
            let _ = write!(
                out,
                "<path d=\"M{x} {a}L{x} {b}M{l} {a}L{r} {a}M{l} {b}L{r} {b}\" stroke=\"#000000\" \
                 stroke-width=\"1.5\" fill=\"none\"/>",
                x = c(cx),
                a = c(a),
                b = c(b),
                l = c(cx - cap),
                r = c(cx + cap),
            );
            top_of_marks = top_of_marks.min(b);
            bottom_of_marks = bottom_of_marks.max(a);
        }
        let value_text = if bar.value.is_finite() {
            fmt_sig(bar.value)
        } else {
            "n/a".to_owned()
        };
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            c(cx),
            c(if down {
                (bottom_of_marks + 14.0).min(bottom - 3.0)
            } else {
                (top_of_marks - 5.0).max(frame.top + 10.0)
            }),
            escape(&value_text)
        );
        let ly = bottom + 16.0;
        if rotate {
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"{y}\" transform=\"rotate(-40 {x} {y})\" \
                 text-anchor=\"end\">{}</text>",
                escape(label),
                x = c(cx),
                y = c(ly),
            );
        } else {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                c(cx),
                c(ly),
                escape(label)
            );
        }
    }
    if y.0 < 0.0 && y.1 > 0.0 {
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\" stroke=\"{AXIS_COLOUR}\"/>",
            c(frame.left),
            c(frame.left + frame.width),
            b = c(base)
        );
    }
    out.push_str("</svg>");
    out
}

/// Renders a table of numbers with cells shaded from white (low) to blue (high) as a
/// standalone SVG document.
pub fn heatmap_table(table: &HeatmapTable) -> String {
    const CELL_W: f64 = 64.0;
    const CELL_H: f64 = 30.0;
    let rows: Vec<String> = table.row_labels.iter().map(|l| shorten(l, 30)).collect();
    let cols: Vec<String> = table.col_labels.iter().map(|l| shorten(l, 30)).collect();
    let n_rows = rows.len().max(table.values.len());
    let n_cols = cols
        .len()
        .max(table.values.iter().map(Vec::len).max().unwrap_or(0));
    let row_w = rows.iter().map(|l| text_width(l)).fold(0.0, f64::max) + 16.0;
    let col_h = cols.iter().map(|l| text_width(l)).fold(0.0, f64::max) * 0.58 + 16.0;
    let left = row_w.max(40.0);
    let top = 40.0 + col_h;
    // Column labels rotated by 35° reach cos(35°) of their length right of their cell centre.
    let last_col = cols.last().map_or(0.0, |l| text_width(l));
    let right = (last_col * 0.82 - CELL_W / 2.0 + 8.0).max(16.0);
    let width = (left + n_cols as f64 * CELL_W + right).max(200.0);
    let height = top + n_rows as f64 * CELL_H + 16.0;
    let value = |r: usize, col: usize| {
        table
            .values
            .get(r)
            .and_then(|row| row.get(col))
            .copied()
            .filter(|v| v.is_finite())
    };
    let (lo, hi) = table
        .range
        .filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo < hi)
        .unwrap_or_else(|| {
            let (lo, hi) = table
                .values
                .iter()
                .flatten()
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(*v), b.max(*v))
                });
            if lo < hi { (lo, hi) } else { (lo, lo + 1.0) }
        });

    let mut out = String::new();
    svg_open(&mut out, width, height, &table.title);
    if n_rows == 0 || n_cols == 0 {
        no_data(
            &mut out,
            Frame {
                left: 0.0,
                top: 40.0,
                width,
                height: height - 40.0,
            },
        );
    }
    for (j, label) in cols.iter().enumerate() {
        let (x, y) = (left + (j as f64 + 0.5) * CELL_W, top - 8.0);
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{y}\" transform=\"rotate(-35 {x} {y})\" \
             text-anchor=\"start\">{}</text>",
            escape(label),
            x = c(x),
            y = c(y)
        );
    }
    for r in 0..n_rows {
        let y = top + r as f64 * CELL_H;
        if let Some(label) = rows.get(r) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                c(left - 8.0),
                c(y + CELL_H / 2.0 + 4.0),
                escape(label)
            );
        }
        for col in 0..n_cols {
            let x = left + col as f64 * CELL_W;
            let (fill, ink, text) = match value(r, col) {
                Some(v) => {
                    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
                    // White to Okabe-Ito blue (0, 114, 178).
                    let mix = |w: f64| (255.0 + t * (w - 255.0)).round() as u8;
                    let fill = format!("#{:02x}{:02x}{:02x}", mix(0.0), mix(114.0), mix(178.0));
                    let ink = if t > 0.55 { "#ffffff" } else { "#000000" };
                    (fill, ink, fmt_fixed(v, table.decimals.min(12)))
                }
                None => ("#dddddd".to_owned(), "#555555", "–".to_owned()),
            };
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" \
                 stroke=\"#ffffff\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
                 fill=\"{ink}\">{}</text>",
                c(x),
                c(y),
                c(CELL_W),
                c(CELL_H),
                c(x + CELL_W / 2.0),
                c(y + CELL_H / 2.0 + 4.0),
                escape(&text)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        let (t, d) = ticks(0.0, 1.0, 5);
        assert_eq!(t.len(), 6);
        assert_eq!(d, 1);
        assert_eq!(fmt_fixed(t[3], d), "0.6");
        let (t, d) = ticks(-3.0, 250.0, 5);
        assert_eq!(d, 0);
        assert_eq!(t, vec![0.0, 100.0, 200.0]);
        let (t, d) = ticks(0.5, 0.7, 5);
        assert_eq!(d, 2);
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn ranges_fit_data_or_use_valid_explicit_ones() {
        assert_eq!(
            resolve_range(Some((0.0, 1.0)), [5.0].into_iter(), 0.0),
            (0.0, 1.0)
        );
        let (lo, hi) = resolve_range(Some((1.0, 1.0)), [0.5, 0.7].into_iter(), 0.0);
        assert!(
            (lo - 0.5).abs() < 1e-12 && (hi - 0.7).abs() < 1e-12,
            "{lo} {hi}"
        );
        assert_eq!(resolve_range(None, std::iter::empty(), 0.0), (0.0, 1.0));
        let (lo, hi) = resolve_range(None, [3.0].into_iter(), 0.0);
        assert!(lo < 3.0 && hi > 3.0);
        let (lo, hi) = resolve_range(None, [f64::NAN, 0.13, 0.92].into_iter(), 0.0);
        assert_eq!((lo, hi), (0.0, 1.0));
    }

    #[test]
    fn clipping_keeps_inside_part() {
        let r = clip((-1.0, 0.5), (0.5, 0.5), (0.0, 1.0), (0.0, 1.0));
        assert_eq!(r, Some(((0.0, 0.5), (0.5, 0.5))));
        assert_eq!(clip((2.0, 2.0), (3.0, 3.0), (0.0, 1.0), (0.0, 1.0)), None);
    }

    #[test]
    fn significant_digits() {
        assert_eq!(fmt_sig(0.8734), "0.873");
        assert_eq!(fmt_sig(12.345), "12.3");
        assert_eq!(fmt_sig(-0.0004), "-0.000400");
        assert_eq!(fmt_fixed(-0.0001, 2), "0.00");
    }
}
