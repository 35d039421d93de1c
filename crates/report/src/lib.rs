//! Self-contained HTML reports for clinicians and researchers: CT slices with attribution
//! heatmaps and mask outlines, plots of model performance, tables, all in one offline file.
//!
//! * [`overlay`] renders slices of a [`oncolens_core::Volume`] in radiological display, with the
//!   physical aspect ratio, a heatmap and outlines on top, and encodes them as PNG.
//! * [`plot`] writes ROC and calibration curves, bar charts with confidence intervals and
//!   shaded tables as standalone SVG.
//! * [`graph`] lays out decision trees and Bayesian networks and draws them as SVG, as PNG
//!   (embedded bitmap font, no Graphviz) and as Graphviz DOT.
//! * [`html`] assembles sections of text, tables, pictures and plots into one HTML file that
//!   needs no network, no script and no other file.
//!
//! Nothing here panics on user data: mismatched grids, out-of-range slices and bad options are
//! [`ReportError`]s; non-finite plot values are skipped; odd text is escaped.

pub mod error;
pub mod graph;
pub mod html;
pub mod overlay;
pub mod plot;
mod text;

pub use error::{ReportError, Result};
pub use graph::{Edge, Graph, Layout, Node, PlacedEdge, PlacedNode, Positioned, Shape};
pub use html::{Report, Section};
pub use overlay::{
    Colormap, Interpolation, OverlayOptions, Rgb, RgbImage, SliceView, mask_centre, render_slice,
    render_three_views, to_png, write_png,
};
pub use plot::{
    Bar, BarChart, HeatmapTable, LineChart, Series, bar_chart, heatmap_table, line_chart,
};
pub use text::escape;
