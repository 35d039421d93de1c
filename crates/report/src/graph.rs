//! Decision trees and Bayesian networks as pictures, without Graphviz.
//!
//! A [`Graph`] of labelled nodes and edges is placed by [`layout`] (a tree layout or a layered
//! DAG layout) into a [`Positioned`] drawing, which [`to_svg`] writes as a standalone SVG and
//! [`to_png`] rasterises into a PNG with an embedded bitmap font (no system fonts, no native
//! libraries). [`to_dot`] writes the same graph as Graphviz DOT for users who prefer rendering
//! it their own way.
//!
//! Coordinates of a [`Positioned`] drawing are pixels of the PNG at scale 1 (and SVG user
//! units). Node boxes are sized from their text with monospace metrics: every character is one
//! cell of [`CHAR_W`] pixels, every line [`LINE_H`] pixels, which is what the bitmap font
//! draws and leaves room for the proportional SVG font.
//!
//! * [`Layout::Tree`]: one or more trees drawn top-down; children keep the order in which their
//!   edges appear (the first edge is the leftmost child). Leaves take consecutive slots in a
//!   post-order walk, every parent is centred over its first and last child, and a subtree is
//!   pushed right where its nodes would touch the subtree on its left.
//! * [`Layout::Layered`]: a directed acyclic graph in the Sugiyama style: a node's layer is the
//!   length of the longest path reaching it from a source, edges spanning several layers run
//!   through invisible bend points, a few down and up sweeps of barycentre ordering reduce
//!   crossings, and nodes then move towards their neighbours without ever overlapping.
//!
//! Malformed graphs (duplicate ids, edges to missing nodes, a tree node with two parents) and
//! cycles are [`ReportError`]s naming the node at fault; nothing here panics on user data.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::error::{ReportError, Result};
use crate::overlay::{MAX_SIDE_PX, RgbImage};
use crate::plot::FONT;
use crate::text::escape;

/// Width of one character cell, in pixels at scale 1 (the bitmap font's glyph width).
pub const CHAR_W: f64 = 8.0;
/// Height of one text line, in pixels at scale 1 (an 8-pixel glyph with leading).
pub const LINE_H: f64 = 14.0;

const PAD_X: f64 = 10.0;
const PAD_Y: f64 = 7.0;
const MIN_NODE_W: f64 = 40.0;
const MIN_NODE_H: f64 = 28.0;
/// Horizontal gap between neighbouring nodes of one layer.
const H_GAP: f64 = 24.0;
/// Vertical gap between the bottom of one layer and the top of the next.
const V_GAP: f64 = 50.0;
const MARGIN: f64 = 16.0;
/// Height of the title band; the title is drawn with glyphs twice the normal size.
const TITLE_H: f64 = 32.0;
const TITLE_CHAR_W: f64 = 2.0 * CHAR_W;
const ARROW_LEN: f64 = 9.0;
const ARROW_HALF_W: f64 = 4.0;
/// Rounds of barycentre ordering (each one a down and an up sweep).
const ORDER_ROUNDS: usize = 6;
/// Rounds of moving nodes towards their neighbours in the layered layout.
const PLACE_ROUNDS: usize = 8;
/// The largest accepted PNG scale factor.
pub const MAX_PNG_SCALE: u32 = 16;

const STROKE: [u8; 3] = [0x33, 0x33, 0x33];
const EDGE_COLOUR: [u8; 3] = [0x55, 0x55, 0x55];
const DARK_TEXT: [u8; 3] = [0x1a, 0x1a, 0x1a];
const LIGHT_TEXT: [u8; 3] = [0xff, 0xff, 0xff];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];

/// The outline of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A rectangle, e.g. a decision node or a leaf of a tree.
    #[default]
    Box,
    /// An ellipse, e.g. a random variable of a Bayesian network.
    Ellipse,
}

/// A node: a unique id (never shown) and the lines of its label.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub id: String,
    /// Label lines, top to bottom.
    pub lines: Vec<String>,
    /// Background colour; `None` is white.
    pub fill: Option<[u8; 3]>,
    pub shape: Shape,
}

impl Node {
    /// A white box with the given label lines.
    pub fn new<S: Into<String>>(id: impl Into<String>, lines: impl IntoIterator<Item = S>) -> Self {
        Node {
            id: id.into(),
            lines: lines.into_iter().map(Into::into).collect(),
            fill: None,
            shape: Shape::Box,
        }
    }

    /// The same node with a background colour.
    pub fn with_fill(mut self, rgb: [u8; 3]) -> Self {
        self.fill = Some(rgb);
        self
    }

    /// The same node with another outline.
    pub fn with_shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }
}

/// A directed edge between two node ids, optionally labelled (e.g. "age <= 60").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
}

impl Edge {
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Edge {
            from: from.into(),
            to: to.into(),
            label: None,
        }
    }

    /// The same edge with a label drawn at its midpoint.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

/// A directed graph to draw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub title: Option<String>,
}

impl Graph {
    /// An empty graph with an optional title.
    pub fn new(title: Option<String>) -> Self {
        Graph {
            nodes: Vec::new(),
            edges: Vec::new(),
            title,
        }
    }

    /// Adds a node (builder style).
    pub fn node(mut self, node: Node) -> Self {
        self.nodes.push(node);
        self
    }

    /// Adds an edge (builder style).
    pub fn edge(mut self, edge: Edge) -> Self {
        self.edges.push(edge);
        self
    }
}

/// How [`layout`] places the nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Top-down trees (a forest is fine); children ordered as their edges appear, the first
    /// edge's child leftmost. A node with two parents is an error.
    #[default]
    Tree,
    /// A directed acyclic graph in layers: longest-path layering and barycentre crossing
    /// reduction. A cycle is an error.
    Layered,
}

/// A node with its place in the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedNode {
    pub id: String,
    pub lines: Vec<String>,
    pub fill: Option<[u8; 3]>,
    pub shape: Shape,
    /// Centre, in pixels at scale 1 (y grows downwards).
    pub x: f64,
    pub y: f64,
    /// Size of the box (or of the ellipse's bounding box).
    pub width: f64,
    pub height: f64,
    /// Row of the drawing, 0 at the top: the depth in a tree, the layer in a DAG.
    pub layer: usize,
    /// Position within its row, 0 leftmost.
    pub order: usize,
}

impl PlacedNode {
    /// Left, top, right and bottom edges of the node's box.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        (
            self.x - self.width / 2.0,
            self.y - self.height / 2.0,
            self.x + self.width / 2.0,
            self.y + self.height / 2.0,
        )
    }
}

/// An edge with its route in the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedEdge {
    /// Indices into [`Positioned::nodes`].
    pub from: usize,
    pub to: usize,
    pub label: Option<String>,
    /// The polyline from the source's outline to the target's outline (where the arrow tip
    /// touches); two points for a straight edge, more where it bends around other layers.
    pub points: Vec<(f64, f64)>,
    /// Centre of the label: the midpoint of the polyline by length.
    pub label_at: (f64, f64),
}

/// A graph laid out by [`layout`], ready for [`to_svg`] and [`to_png`].
#[derive(Debug, Clone, PartialEq)]
pub struct Positioned {
    /// Size of the drawing in pixels at scale 1 (whole numbers).
    pub width: f64,
    pub height: f64,
    pub title: Option<String>,
    /// The graph's nodes in their original order.
    pub nodes: Vec<PlacedNode>,
    /// The graph's edges in their original order.
    pub edges: Vec<PlacedEdge>,
}

/// Number of character cells of a line (monospace metrics: one cell per `char`).
fn cells(s: &str) -> usize {
    s.chars().count()
}

/// Width and height of a node from its text.
fn node_size(node: &Node) -> (f64, f64) {
    let cols = node.lines.iter().map(|l| cells(l)).max().unwrap_or(0) as f64;
    let tw = cols * CHAR_W;
    let th = node.lines.len() as f64 * LINE_H;
    let (w, h) = match node.shape {
        Shape::Box => (tw + 2.0 * PAD_X, th + 2.0 * PAD_Y),
        // The text rectangle inscribed in the ellipse touches it with its corners at a √2
        // enlargement; the padding keeps the corners off the outline.
        Shape::Ellipse => (
            tw * std::f64::consts::SQRT_2 + 2.0 * PAD_X,
            th * std::f64::consts::SQRT_2 + 2.0 * PAD_Y,
        ),
    };
    // Even whole numbers: box edges land on whole pixels when the centre does.
    let even = |v: f64| (v / 2.0).ceil() * 2.0;
    (even(w.max(MIN_NODE_W)), even(h.max(MIN_NODE_H)))
}

fn label_width(label: &str) -> f64 {
    cells(label) as f64 * CHAR_W + 6.0
}

/// The horizontal gap between nodes: wide enough that the labels of two edges from one parent
/// to neighbouring children, drawn at the edges' midpoints, stay 8 pixels apart (the midpoints
/// are half as far apart as the children).
fn horizontal_gap(graph: &Graph, sizes: &[(f64, f64)]) -> f64 {
    let widest_label = graph
        .edges
        .iter()
        .filter_map(|e| e.label.as_deref())
        .map(label_width)
        .fold(0.0f64, f64::max);
    if widest_label == 0.0 {
        return H_GAP;
    }
    let narrowest = sizes.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let narrowest = if narrowest.is_finite() {
        narrowest
    } else {
        0.0
    };
    H_GAP.max(2.0 * widest_label + 16.0 - narrowest).ceil()
}

/// Node ids to indices, and the edges as index pairs; rejects duplicates and dangling edges.
fn index_graph(graph: &Graph) -> Result<Vec<(usize, usize)>> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(graph.nodes.len());
    for (i, n) in graph.nodes.iter().enumerate() {
        if index.insert(n.id.as_str(), i).is_some() {
            return Err(ReportError::InvalidGraph(format!(
                "two nodes have the id {:?}",
                n.id
            )));
        }
    }
    graph
        .edges
        .iter()
        .map(|e| {
            let find = |id: &str, end: &str| {
                index.get(id).copied().ok_or_else(|| {
                    ReportError::InvalidGraph(format!(
                        "edge {:?} -> {:?} names a {end} node {id:?} that is not in the graph",
                        e.from, e.to
                    ))
                })
            };
            Ok((find(&e.from, "source")?, find(&e.to, "target")?))
        })
        .collect()
}

/// Lays the graph out; see the module documentation for the two layouts.
///
/// Errors: duplicate node ids, edges naming missing nodes, a tree node with two parents
/// ([`ReportError::InvalidGraph`]) and directed cycles ([`ReportError::GraphCycle`], naming a
/// node on the cycle). An empty graph gives an empty drawing.
pub fn layout(graph: &Graph, kind: Layout) -> Result<Positioned> {
    let pairs = index_graph(graph)?;
    let sizes: Vec<(f64, f64)> = graph.nodes.iter().map(node_size).collect();
    let gap = horizontal_gap(graph, &sizes);
    let (xs, layers, orders, routes) = match kind {
        Layout::Tree => tree_layout(graph, &pairs, &sizes, gap)?,
        Layout::Layered => layered_layout(graph, &pairs, &sizes, gap)?,
    };
    Ok(assemble(graph, &pairs, &sizes, xs, layers, orders, routes))
}

/// Per node: x centre, layer, order in layer; per edge: the x of each bend (one per layer the
/// edge passes through).
type Placement = (Vec<f64>, Vec<usize>, Vec<usize>, Vec<Vec<f64>>);

fn cycle_error(graph: &Graph, node: usize) -> ReportError {
    ReportError::GraphCycle {
        node: graph.nodes[node].id.clone(),
    }
}

fn tree_layout(
    graph: &Graph,
    pairs: &[(usize, usize)],
    sizes: &[(f64, f64)],
    gap: f64,
) -> Result<Placement> {
    // Cycles first: a cycle entered from outside also gives some node two parents, and the
    // cycle is the more useful message.
    topological_order(graph, pairs)?;
    let n = graph.nodes.len();
    let mut parent: Vec<Option<usize>> = vec![None; n];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(u, v) in pairs {
        if u == v {
            return Err(cycle_error(graph, u));
        }
        if let Some(p) = parent[v] {
            return Err(ReportError::InvalidGraph(format!(
                "node {:?} has two parents ({:?} and {:?}); a tree layout needs one, \
                 use Layout::Layered for a DAG",
                graph.nodes[v].id, graph.nodes[p].id, graph.nodes[u].id
            )));
        }
        parent[v] = Some(u);
        children[u].push(v);
    }
    // Depth-first from the roots in node order; post-order for placement.
    let mut depth = vec![usize::MAX; n];
    let mut post = Vec::with_capacity(n);
    for root in (0..n).filter(|&v| parent[v].is_none()) {
        depth[root] = 0;
        let mut stack = vec![(root, 0usize)];
        while let Some((v, next)) = stack.pop() {
            if let Some(&c) = children[v].get(next) {
                stack.push((v, next + 1));
                depth[c] = depth[v] + 1;
                stack.push((c, 0));
            } else {
                post.push(v);
            }
        }
    }
    if let Some(lost) = (0..n).find(|&v| depth[v] == usize::MAX) {
        // Not reachable from a root: following parents from it must loop.
        let mut seen = vec![false; n];
        let mut v = lost;
        while !seen[v] {
            seen[v] = true;
            match parent[v] {
                Some(p) => v = p,
                None => break,
            }
        }
        return Err(cycle_error(graph, v));
    }
    let rows = depth.iter().copied().max().map_or(0, |d| d + 1);
    let mut next_free = vec![0.0f64; rows];
    let mut x = vec![0.0f64; n];
    let mut order = vec![0usize; n];
    let mut row_count = vec![0usize; rows];
    for &v in &post {
        let d = depth[v];
        let half = sizes[v].0 / 2.0;
        match (children[v].first(), children[v].last()) {
            (Some(&first), Some(&last)) => {
                let mut centre = (x[first] + x[last]) / 2.0;
                let shift = next_free[d] - (centre - half);
                if shift > 0.0 {
                    centre += shift;
                    let mut stack: Vec<usize> = children[v].clone();
                    while let Some(u) = stack.pop() {
                        x[u] += shift;
                        let right = x[u] + sizes[u].0 / 2.0 + gap;
                        next_free[depth[u]] = next_free[depth[u]].max(right);
                        stack.extend(children[u].iter().copied());
                    }
                }
                x[v] = centre;
            }
            _ => x[v] = next_free[d] + half,
        }
        next_free[d] = x[v] + half + gap;
    }
    // Order within each row: left to right, which is the pre-order of the walk.
    let mut by_x: Vec<usize> = (0..n).collect();
    by_x.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    for v in by_x {
        order[v] = row_count[depth[v]];
        row_count[depth[v]] += 1;
    }
    let routes = vec![Vec::new(); pairs.len()];
    Ok((x, depth, order, routes))
}

/// Topological order (Kahn); on a cycle, the error names a node on it.
fn topological_order(graph: &Graph, pairs: &[(usize, usize)]) -> Result<Vec<usize>> {
    let n = graph.nodes.len();
    let mut indegree = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(u, v) in pairs {
        if u == v {
            return Err(cycle_error(graph, u));
        }
        indegree[v] += 1;
        out[u].push(v);
        preds[v].push(u);
    }
    let mut queue: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    queue.reverse();
    let mut topo = Vec::with_capacity(n);
    while let Some(v) = queue.pop() {
        topo.push(v);
        for &w in &out[v] {
            indegree[w] -= 1;
            if indegree[w] == 0 {
                queue.push(w);
            }
        }
    }
    if topo.len() < n {
        // Every node left over has a left-over predecessor: walking back must repeat a node,
        // and the first repeated node is on a cycle.
        let mut seen = vec![false; n];
        let Some(mut v) = (0..n).find(|&v| indegree[v] > 0) else {
            return Err(ReportError::InvalidGraph("cycle detection failed".into()));
        };
        while !seen[v] {
            seen[v] = true;
            match preds[v].iter().copied().find(|&p| indegree[p] > 0) {
                Some(p) => v = p,
                None => break,
            }
        }
        return Err(cycle_error(graph, v));
    }
    Ok(topo)
}

/// Number of crossings between edges that join `upper` and `lower` layers.
fn crossings(segments: &[(usize, usize)], pos: &[usize]) -> usize {
    let mut count = 0;
    for (i, &(a1, b1)) in segments.iter().enumerate() {
        for &(a2, b2) in &segments[i + 1..] {
            let (pa1, pa2, pb1, pb2) = (pos[a1], pos[a2], pos[b1], pos[b2]);
            if (pa1 < pa2 && pb1 > pb2) || (pa1 > pa2 && pb1 < pb2) {
                count += 1;
            }
        }
    }
    count
}

fn total_crossings(segments_by_layer: &[Vec<(usize, usize)>], pos: &[usize]) -> usize {
    segments_by_layer.iter().map(|s| crossings(s, pos)).sum()
}

/// Reorders `layer` by the mean position of each vertex's neighbours; vertices without
/// neighbours keep their position.
fn barycentre_sort(layer: &mut [usize], neighbours: &[Vec<usize>], pos: &mut [usize]) {
    let key = |v: usize, pos: &[usize]| {
        let nb = &neighbours[v];
        if nb.is_empty() {
            pos[v] as f64
        } else {
            nb.iter().map(|&u| pos[u] as f64).sum::<f64>() / nb.len() as f64
        }
    };
    let mut keyed: Vec<(f64, usize)> = layer.iter().map(|&v| (key(v, pos), v)).collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (i, (_, v)) in keyed.into_iter().enumerate() {
        layer[i] = v;
        pos[v] = i;
    }
}

/// The x positions closest (least squares) to `desired` that keep the given order and at least
/// `sep[i]` between positions `i` and `i + 1`: isotonic regression (pool adjacent violators)
/// on the desired positions minus the cumulative separations.
fn closest_spaced(desired: &[f64], sep: &[f64]) -> Vec<f64> {
    let mut offsets = Vec::with_capacity(desired.len());
    let mut acc = 0.0;
    for i in 0..desired.len() {
        offsets.push(acc);
        acc += sep.get(i).copied().unwrap_or(0.0);
    }
    // Blocks of (sum, count) whose means are non-decreasing.
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (d, o) in desired.iter().zip(&offsets) {
        blocks.push((d - o, 1));
        while blocks.len() >= 2 {
            let (s2, c2) = blocks[blocks.len() - 1];
            let (s1, c1) = blocks[blocks.len() - 2];
            if s1 / c1 as f64 > s2 / c2 as f64 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1 + s2, c1 + c2);
            } else {
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(desired.len());
    for (s, c) in blocks {
        for _ in 0..c {
            let i = out.len();
            out.push(s / c as f64 + offsets[i]);
        }
    }
    out
}

fn layered_layout(
    graph: &Graph,
    pairs: &[(usize, usize)],
    sizes: &[(f64, f64)],
    gap: f64,
) -> Result<Placement> {
    let n = graph.nodes.len();
    let topo = topological_order(graph, pairs)?;
    let mut layer = vec![0usize; n];
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(u, v) in pairs {
        preds[v].push(u);
    }
    for &v in &topo {
        layer[v] = preds[v].iter().map(|&u| layer[u] + 1).max().unwrap_or(0);
    }
    // Vertices: the nodes, then one bend point per edge and layer crossed.
    let mut vlayer = layer.clone();
    let mut width: Vec<f64> = sizes.iter().map(|s| s.0).collect();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(pairs.len());
    for &(u, v) in pairs {
        let mut chain = vec![u];
        for l in layer[u] + 1..layer[v] {
            chain.push(vlayer.len());
            vlayer.push(l);
            width.push(0.0);
        }
        chain.push(v);
        chains.push(chain);
    }
    let nv = vlayer.len();
    let rows = vlayer.iter().copied().max().map_or(0, |l| l + 1);
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); nv];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); nv];
    let mut segments: Vec<Vec<(usize, usize)>> = vec![Vec::new(); rows.saturating_sub(1)];
    for chain in &chains {
        for w in chain.windows(2) {
            let (a, b) = (w[0], w[1]);
            up[b].push(a);
            down[a].push(b);
            segments[vlayer[a]].push((a, b));
        }
    }
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for v in 0..nv {
        layers[vlayer[v]].push(v);
    }
    let mut pos = vec![0usize; nv];
    for l in &layers {
        for (i, &v) in l.iter().enumerate() {
            pos[v] = i;
        }
    }
    let mut best = (total_crossings(&segments, &pos), layers.clone());
    for _ in 0..ORDER_ROUNDS {
        if best.0 == 0 {
            break;
        }
        for layer in layers.iter_mut().skip(1) {
            barycentre_sort(layer, &up, &mut pos);
        }
        for l in (0..rows.saturating_sub(1)).rev() {
            barycentre_sort(&mut layers[l], &down, &mut pos);
        }
        let c = total_crossings(&segments, &pos);
        if c < best.0 {
            best = (c, layers.clone());
        }
    }
    let layers = best.1;
    for l in &layers {
        for (i, &v) in l.iter().enumerate() {
            pos[v] = i;
        }
    }
    // x: packed rows, centred on each other, then moved towards neighbours.
    let seps: Vec<Vec<f64>> = layers
        .iter()
        .map(|l| {
            l.windows(2)
                .map(|w| (width[w[0]] + width[w[1]]) / 2.0 + gap)
                .collect()
        })
        .collect();
    let mut x = vec![0.0f64; nv];
    let packed: Vec<f64> = seps.iter().map(|s| s.iter().sum()).collect();
    let widest = packed.iter().copied().fold(0.0f64, f64::max);
    for (l, row) in layers.iter().enumerate() {
        let mut at = (widest - packed[l]) / 2.0;
        for (i, &v) in row.iter().enumerate() {
            x[v] = at;
            at += seps[l].get(i).copied().unwrap_or(0.0);
        }
    }
    for round in 0..PLACE_ROUNDS {
        let last = round + 1 == PLACE_ROUNDS;
        let downward = round % 2 == 0;
        let order: Vec<usize> = if downward {
            (0..rows).collect()
        } else {
            (0..rows).rev().collect()
        };
        for l in order {
            let desired: Vec<f64> = layers[l]
                .iter()
                .map(|&v| {
                    let nb: Vec<usize> = if last {
                        up[v].iter().chain(&down[v]).copied().collect()
                    } else if downward {
                        up[v].clone()
                    } else {
                        down[v].clone()
                    };
                    if nb.is_empty() {
                        x[v]
                    } else {
                        nb.iter().map(|&u| x[u]).sum::<f64>() / nb.len() as f64
                    }
                })
                .collect();
            let placed = closest_spaced(&desired, &seps[l]);
            for (&v, px) in layers[l].iter().zip(placed) {
                x[v] = px;
            }
        }
    }
    let routes = chains
        .iter()
        .map(|c| c[1..c.len() - 1].iter().map(|&d| x[d]).collect())
        .collect();
    let xs = x[..n].to_vec();
    let orders = pos[..n].to_vec();
    Ok((xs, layer, orders, routes))
}

/// Where the ray from the node's centre towards `toward` leaves the node's outline.
fn boundary_point(node: &PlacedNode, toward: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (toward.0 - node.x, toward.1 - node.y);
    let (a, b) = (node.width / 2.0, node.height / 2.0);
    if dx == 0.0 && dy == 0.0 {
        return (node.x, node.y);
    }
    let t = match node.shape {
        Shape::Box => {
            let tx = if dx == 0.0 {
                f64::INFINITY
            } else {
                a / dx.abs()
            };
            let ty = if dy == 0.0 {
                f64::INFINITY
            } else {
                b / dy.abs()
            };
            tx.min(ty)
        }
        Shape::Ellipse => 1.0 / ((dx / a).powi(2) + (dy / b).powi(2)).sqrt(),
    };
    (node.x + t * dx, node.y + t * dy)
}

fn polyline_midpoint(points: &[(f64, f64)]) -> (f64, f64) {
    let len = |a: (f64, f64), b: (f64, f64)| ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let total: f64 = points.windows(2).map(|w| len(w[0], w[1])).sum();
    let mut left = total / 2.0;
    for w in points.windows(2) {
        let l = len(w[0], w[1]);
        if l >= left && l > 0.0 {
            let t = left / l;
            return (
                w[0].0 + t * (w[1].0 - w[0].0),
                w[0].1 + t * (w[1].1 - w[0].1),
            );
        }
        left -= l;
    }
    points.first().copied().unwrap_or((0.0, 0.0))
}

fn assemble(
    graph: &Graph,
    pairs: &[(usize, usize)],
    sizes: &[(f64, f64)],
    xs: Vec<f64>,
    layers: Vec<usize>,
    orders: Vec<usize>,
    routes: Vec<Vec<f64>>,
) -> Positioned {
    let rows = layers.iter().copied().max().map_or(0, |l| l + 1);
    let mut row_h = vec![0.0f64; rows];
    for (v, &l) in layers.iter().enumerate() {
        row_h[l] = row_h[l].max(sizes[v].1);
    }
    let title = graph.title.as_deref().filter(|t| !t.trim().is_empty());
    let top = MARGIN + if title.is_some() { TITLE_H } else { 0.0 };
    let mut row_top = Vec::with_capacity(rows);
    let mut at = top;
    for h in &row_h {
        row_top.push(at);
        at += h + V_GAP;
    }
    let bottom = if rows == 0 { top } else { at - V_GAP };
    let left = xs
        .iter()
        .zip(sizes)
        .map(|(x, s)| x - s.0 / 2.0)
        .chain(routes.iter().flatten().copied())
        .fold(f64::INFINITY, f64::min);
    let right = xs
        .iter()
        .zip(sizes)
        .map(|(x, s)| x + s.0 / 2.0)
        .chain(routes.iter().flatten().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let (left, right) = if left <= right {
        (left, right)
    } else {
        (0.0, 0.0)
    };
    let graph_w = right - left;
    let title_w = title.map_or(0.0, |t| cells(t) as f64 * TITLE_CHAR_W);
    let width = (graph_w.max(title_w) + 2.0 * MARGIN).ceil();
    let height = (bottom + MARGIN).ceil();
    // Whole-pixel shift that puts the drawing's left edge at the margin (centred under a wide
    // title).
    let shift = (MARGIN + (width - 2.0 * MARGIN - graph_w) / 2.0 - left).round();
    let nodes: Vec<PlacedNode> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(v, node)| PlacedNode {
            id: node.id.clone(),
            lines: node.lines.clone(),
            fill: node.fill,
            shape: node.shape,
            x: (xs[v] + shift).round(),
            y: row_top[layers[v]] + row_h[layers[v]] / 2.0,
            width: sizes[v].0,
            height: sizes[v].1,
            layer: layers[v],
            order: orders[v],
        })
        .collect();
    let edges = graph
        .edges
        .iter()
        .zip(pairs)
        .zip(routes)
        .map(|((edge, &(u, v)), bends)| {
            let (a, b) = (&nodes[u], &nodes[v]);
            let mut inner = Vec::with_capacity(2 * bends.len());
            for (k, bx) in bends.iter().enumerate() {
                let l = a.layer + 1 + k;
                let bx = bx + shift;
                inner.push((bx, row_top[l]));
                inner.push((bx, row_top[l] + row_h[l]));
            }
            let first_target = inner.first().copied().unwrap_or((b.x, b.y));
            let last_source = inner.last().copied().unwrap_or((a.x, a.y));
            let mut points = Vec::with_capacity(inner.len() + 2);
            points.push(boundary_point(a, first_target));
            points.extend(inner);
            points.push(boundary_point(b, last_source));
            PlacedEdge {
                from: u,
                to: v,
                label: edge.label.clone(),
                label_at: polyline_midpoint(&points),
                points,
            }
        })
        .collect();
    Positioned {
        width,
        height,
        title: title.map(str::to_owned),
        nodes,
        edges,
    }
}

/// Black or white, whichever reads better on the fill.
fn text_colour(fill: [u8; 3]) -> [u8; 3] {
    let l = 0.2126 * f64::from(fill[0]) + 0.7152 * f64::from(fill[1]) + 0.0722 * f64::from(fill[2]);
    if l < 110.0 { LIGHT_TEXT } else { DARK_TEXT }
}

fn hex(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

fn c(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// The arrowhead triangle (tip, left, right) for a segment ending at `tip`, and where the line
/// should stop so that it does not poke through the tip.
fn arrowhead(from: (f64, f64), tip: (f64, f64)) -> ([(f64, f64); 3], (f64, f64)) {
    let (dx, dy) = (tip.0 - from.0, tip.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt();
    let (ux, uy) = if len > 0.0 {
        (dx / len, dy / len)
    } else {
        (0.0, 1.0)
    };
    let base = (tip.0 - ux * ARROW_LEN, tip.1 - uy * ARROW_LEN);
    let (px, py) = (-uy * ARROW_HALF_W, ux * ARROW_HALF_W);
    (
        [tip, (base.0 + px, base.1 + py), (base.0 - px, base.1 - py)],
        (
            tip.0 - ux * (ARROW_LEN - 1.0),
            tip.1 - uy * (ARROW_LEN - 1.0),
        ),
    )
}

/// Top of the first text line and left edge of line `line` of a node.
fn text_origin(node: &PlacedNode, line: usize) -> (f64, f64) {
    let top = node.y - node.lines.len() as f64 * LINE_H / 2.0 + line as f64 * LINE_H;
    let w = cells(&node.lines[line]) as f64 * CHAR_W;
    (node.x - w / 2.0, top)
}

/// The drawing as a standalone SVG document (same fonts and colours as the charts of
/// [`crate::plot`]); all text is escaped.
pub fn to_svg(p: &Positioned) -> String {
    let mut out = String::new();
    let title = p.title.as_deref().unwrap_or("");
    let t = escape(if title.is_empty() { "graph" } else { title });
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" {FONT} font-size=\"12\">\
         <title>{t}</title>\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>",
        w = c(p.width),
        h = c(p.height),
    );
    if !title.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"15\" \
             font-weight=\"bold\">{t}</text>",
            c(p.width / 2.0),
            c(MARGIN + 18.0)
        );
    }
    let edge = hex(EDGE_COLOUR);
    for e in &p.edges {
        let n = e.points.len();
        if n < 2 {
            continue;
        }
        let (head, stop) = arrowhead(e.points[n - 2], e.points[n - 1]);
        let mut d = String::new();
        for (i, &(x, y)) in e.points[..n - 1].iter().chain([&stop]).enumerate() {
            let _ = write!(d, "{}{} {}", if i == 0 { "M" } else { " L" }, c(x), c(y));
        }
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{edge}\" stroke-width=\"1.3\"/>\
             <polygon points=\"{},{} {},{} {},{}\" fill=\"{edge}\"/>",
            c(head[0].0),
            c(head[0].1),
            c(head[1].0),
            c(head[1].1),
            c(head[2].0),
            c(head[2].1),
        );
    }
    let stroke = hex(STROKE);
    for node in &p.nodes {
        let fill = node.fill.unwrap_or(WHITE);
        let (l, t, _, _) = node.bounds();
        out.push_str("<g>");
        match node.shape {
            Shape::Box => {
                let _ = write!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"{}\" \
                     stroke=\"{stroke}\"/>",
                    c(l),
                    c(t),
                    c(node.width),
                    c(node.height),
                    hex(fill)
                );
            }
            Shape::Ellipse => {
                let _ = write!(
                    out,
                    "<ellipse cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\" fill=\"{}\" \
                     stroke=\"{stroke}\"/>",
                    c(node.x),
                    c(node.y),
                    c(node.width / 2.0),
                    c(node.height / 2.0),
                    hex(fill)
                );
            }
        }
        let colour = hex(text_colour(fill));
        for (i, line) in node.lines.iter().enumerate() {
            let (_, top) = text_origin(node, i);
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{colour}\">{}</text>",
                c(node.x),
                c(top + LINE_H / 2.0 + 4.0),
                escape(line)
            );
        }
        out.push_str("</g>");
    }
    for e in &p.edges {
        let Some(label) = e.label.as_deref().filter(|l| !l.is_empty()) else {
            continue;
        };
        let (x, y) = e.label_at;
        let w = label_width(label);
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" \
             fill-opacity=\"0.9\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" \
             fill=\"{stroke}\">{}</text>",
            c(x - w / 2.0),
            c(y - LINE_H / 2.0),
            c(w),
            c(LINE_H),
            c(x),
            c(y + 4.0),
            escape(label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Glyphs the 8x8 font lacks but decision trees need.
const LE: [u8; 8] = [0x60, 0x18, 0x06, 0x18, 0x60, 0x00, 0x7E, 0x00];
const GE: [u8; 8] = [0x06, 0x18, 0x60, 0x18, 0x06, 0x00, 0x7E, 0x00];
const RIGHT_ARROW: [u8; 8] = [0x00, 0x10, 0x30, 0x7F, 0x30, 0x10, 0x00, 0x00];

/// The 8x8 bitmap of a character: rows top to bottom, bit 0 the leftmost pixel.
///
/// Printable ASCII and Latin-1 come from the public-domain `font8x8` glyphs; ≤, ≥ and → are
/// drawn here, a few typographic characters map to their ASCII look-alikes, and anything else
/// is drawn as '?'.
pub fn glyph(ch: char) -> [u8; 8] {
    use font8x8::legacy::{BASIC_LEGACY, LATIN_LEGACY};
    let code = ch as u32;
    let ascii = |c: char| BASIC_LEGACY[c as usize];
    match ch {
        ' '..='~' => BASIC_LEGACY[code as usize],
        '\u{a0}'..='\u{ff}' => LATIN_LEGACY[(code - 0xa0) as usize],
        '≤' => LE,
        '≥' => GE,
        '→' => RIGHT_ARROW,
        '−' | '–' | '—' | '‐' => ascii('-'),
        '‘' | '’' => ascii('\''),
        '“' | '”' => ascii('"'),
        'μ' => LATIN_LEGACY[0xb5 - 0xa0],
        '\t' => ascii(' '),
        _ => ascii('?'),
    }
}

/// An RGB canvas with the few drawing operations graphs need.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas {
            w,
            h,
            px: vec![0xff; w * h * 3],
        }
    }

    fn blend(&mut self, x: i64, y: i64, c: [u8; 3], alpha: f64) {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 || alpha <= 0.0 {
            return;
        }
        let i = (y as usize * self.w + x as usize) * 3;
        let a = alpha.min(1.0);
        for (dst, &src) in self.px[i..i + 3].iter_mut().zip(&c) {
            let old = f64::from(*dst);
            *dst = (old + (f64::from(src) - old) * a).round() as u8;
        }
    }

    /// Fills the pixels [x0, x1) x [y0, y1).
    fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        let (x0, x1) = (x0.max(0), x1.min(self.w as i64));
        let (y0, y1) = (y0.max(0), y1.min(self.h as i64));
        for y in y0..y1 {
            for x in x0..x1 {
                let i = (y as usize * self.w + x as usize) * 3;
                self.px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// An anti-aliased segment of the given thickness (pixel centres at +0.5).
    fn line(&mut self, a: (f64, f64), b: (f64, f64), thickness: f64, c: [u8; 3]) {
        let r = thickness / 2.0;
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let reach = r + 1.0;
        let y0 = (a.1.min(b.1) - reach).floor() as i64;
        let y1 = (a.1.max(b.1) + reach).ceil() as i64;
        let bx0 = (a.0.min(b.0) - reach).floor() as i64;
        let bx1 = (a.0.max(b.0) + reach).ceil() as i64;
        for y in y0.max(0)..=y1.min(self.h as i64 - 1) {
            let py = y as f64 + 0.5;
            // Columns near the line at this row: all of them for a near-horizontal line.
            let (xs, xe) = if dy.abs() > 1e-9 {
                let xc = a.0 + (py - a.1) * dx / dy;
                let half = reach * len2.sqrt() / dy.abs() + 1.0;
                (
                    ((xc - half).floor() as i64).max(bx0),
                    ((xc + half).ceil() as i64).min(bx1),
                )
            } else {
                (bx0, bx1)
            };
            for x in xs.max(0)..=xe.min(self.w as i64 - 1) {
                let px = x as f64 + 0.5;
                let t = if len2 > 0.0 {
                    (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (qx, qy) = (a.0 + t * dx - px, a.1 + t * dy - py);
                let d = (qx * qx + qy * qy).sqrt();
                self.blend(x, y, c, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// An anti-aliased filled triangle.
    fn triangle(&mut self, p: [(f64, f64); 3], c: [u8; 3]) {
        let area = (p[1].0 - p[0].0) * (p[2].1 - p[0].1) - (p[2].0 - p[0].0) * (p[1].1 - p[0].1);
        if area.abs() < 1e-9 {
            return;
        }
        // Edges oriented so that the inside has positive signed distance.
        let sign = area.signum();
        let edges: Vec<(f64, f64, f64)> = (0..3)
            .map(|i| {
                let (a, b) = (p[i], p[(i + 1) % 3]);
                let (nx, ny) = (-(b.1 - a.1) * sign, (b.0 - a.0) * sign);
                let len = (nx * nx + ny * ny).sqrt();
                (nx / len, ny / len, -(nx * a.0 + ny * a.1) / len)
            })
            .collect();
        let xs = p.iter().map(|q| q.0);
        let ys = p.iter().map(|q| q.1);
        let x0 = xs.clone().fold(f64::INFINITY, f64::min).floor() as i64 - 1;
        let x1 = xs.fold(f64::NEG_INFINITY, f64::max).ceil() as i64 + 1;
        let y0 = ys.clone().fold(f64::INFINITY, f64::min).floor() as i64 - 1;
        let y1 = ys.fold(f64::NEG_INFINITY, f64::max).ceil() as i64 + 1;
        for y in y0.max(0)..=y1.min(self.h as i64 - 1) {
            for x in x0.max(0)..=x1.min(self.w as i64 - 1) {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let d = edges
                    .iter()
                    .map(|(nx, ny, k)| nx * px + ny * py + k)
                    .fold(f64::INFINITY, f64::min);
                self.blend(x, y, c, (d + 0.5).clamp(0.0, 1.0));
            }
        }
    }

    /// A filled ellipse with an outline `border` pixels wide, anti-aliased.
    fn ellipse(
        &mut self,
        centre: (f64, f64),
        (a, b): (f64, f64),
        border: f64,
        fill: [u8; 3],
        stroke: [u8; 3],
    ) {
        // Approximate signed distance to the ellipse: (f - 1) / |grad f| for
        // f = (x/a)^2 + (y/b)^2, negative inside.
        let dist = |px: f64, py: f64, a: f64, b: f64| {
            let (x, y) = (px - centre.0, py - centre.1);
            let f = (x / a).powi(2) + (y / b).powi(2);
            let g = ((2.0 * x / (a * a)).powi(2) + (2.0 * y / (b * b)).powi(2)).sqrt();
            if g > 0.0 { (f - 1.0) / g } else { -a.min(b) }
        };
        let x0 = (centre.0 - a - 1.0).floor() as i64;
        let x1 = (centre.0 + a + 1.0).ceil() as i64;
        let y0 = (centre.1 - b - 1.0).floor() as i64;
        let y1 = (centre.1 + b + 1.0).ceil() as i64;
        for y in y0.max(0)..=y1.min(self.h as i64 - 1) {
            for x in x0.max(0)..=x1.min(self.w as i64 - 1) {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let outer = dist(px, py, a, b);
                let cover = (0.5 - outer).clamp(0.0, 1.0);
                if cover <= 0.0 {
                    continue;
                }
                let inner = dist(px, py, a - border, b - border);
                let fill_share = (-inner - 0.5 + 1.0).clamp(0.0, 1.0);
                self.blend(x, y, stroke, cover);
                self.blend(x, y, fill, fill_share);
            }
        }
    }

    /// Text in the bitmap font, each font pixel a `s` x `s` block, top-left at (x, y).
    fn text(&mut self, x: i64, y: i64, s: i64, text: &str, c: [u8; 3]) {
        for (k, ch) in text.chars().enumerate() {
            let g = glyph(ch);
            let gx = x + k as i64 * 8 * s;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let (bx, by) = (gx + col * s, y + row as i64 * s);
                        self.fill_rect(bx, by, bx + s, by + s, c);
                    }
                }
            }
        }
    }
}

/// Rasterises the drawing at `scale` pixels per unit (1 to [`MAX_PNG_SCALE`]; 2 suits
/// screens and print) and encodes it as an 8-bit RGB PNG of
/// `width * scale` x `height * scale` pixels.
///
/// Text uses the embedded bitmap font (see [`glyph`]), scaled by whole pixels so it stays
/// crisp; outlines of boxes are one unit wide and pixel-aligned, edges and ellipses are
/// anti-aliased.
pub fn to_png(p: &Positioned, scale: u32) -> Result<Vec<u8>> {
    if !(1..=MAX_PNG_SCALE).contains(&scale) {
        return Err(ReportError::InvalidOption {
            name: "scale",
            value: scale.to_string(),
            reason: "must be 1 to 16 pixels per unit",
        });
    }
    let s = i64::from(scale);
    let sf = f64::from(scale);
    let valid = |v: f64| v.is_finite() && v >= 1.0;
    if !(valid(p.width) && valid(p.height)) {
        return Err(ReportError::InvalidOption {
            name: "size",
            value: format!("{}x{}", p.width, p.height),
            reason: "a drawing needs a finite size of at least 1x1",
        });
    }
    let (w, h) = (p.width.ceil() * sf, p.height.ceil() * sf);
    if w > MAX_SIDE_PX as f64 || h > MAX_SIDE_PX as f64 {
        return Err(ReportError::TooLarge {
            width: w as usize,
            height: h as usize,
            max: MAX_SIDE_PX,
        });
    }
    let mut cv = Canvas::new(w as usize, h as usize);
    let at = |v: f64| (v * sf).round() as i64;
    let pt = |q: (f64, f64)| (q.0 * sf, q.1 * sf);

    if let Some(title) = p.title.as_deref() {
        let tw = cells(title) as f64 * TITLE_CHAR_W;
        cv.text(
            at((p.width - tw) / 2.0),
            at(MARGIN + 4.0),
            2 * s,
            title,
            DARK_TEXT,
        );
    }
    for e in &p.edges {
        let n = e.points.len();
        if n < 2 {
            continue;
        }
        let (head, stop) = arrowhead(e.points[n - 2], e.points[n - 1]);
        let mut prev = pt(e.points[0]);
        for &q in e.points[1..n - 1].iter().chain([&stop]) {
            let q = pt(q);
            cv.line(prev, q, 1.3 * sf, EDGE_COLOUR);
            prev = q;
        }
        cv.triangle([pt(head[0]), pt(head[1]), pt(head[2])], EDGE_COLOUR);
    }
    for node in &p.nodes {
        let fill = node.fill.unwrap_or(WHITE);
        let (l, t, r, b) = node.bounds();
        match node.shape {
            Shape::Box => {
                cv.fill_rect(at(l), at(t), at(r), at(b), STROKE);
                cv.fill_rect(at(l) + s, at(t) + s, at(r) - s, at(b) - s, fill);
            }
            Shape::Ellipse => cv.ellipse(
                pt((node.x, node.y)),
                (node.width / 2.0 * sf, node.height / 2.0 * sf),
                sf,
                fill,
                STROKE,
            ),
        }
        let colour = text_colour(fill);
        for (i, line) in node.lines.iter().enumerate() {
            let (x, top) = text_origin(node, i);
            cv.text(at(x), at(top + (LINE_H - 8.0) / 2.0), s, line, colour);
        }
    }
    for e in &p.edges {
        let Some(label) = e.label.as_deref().filter(|l| !l.is_empty()) else {
            continue;
        };
        let (x, y) = e.label_at;
        let lw = label_width(label);
        let left = at(x - lw / 2.0);
        let top = at(y - LINE_H / 2.0);
        cv.fill_rect(left, top, left + at(lw), top + at(LINE_H), WHITE);
        let tw = cells(label) as f64 * CHAR_W;
        cv.text(
            at(x - tw / 2.0),
            at(y - LINE_H / 2.0 + (LINE_H - 8.0) / 2.0),
            s,
            label,
            STROKE,
        );
    }
    let image = RgbImage::from_pixels(cv.w, cv.h, cv.px)?;
    crate::overlay::to_png(&image)
}

/// DOT quoted string content: backslashes and quotes escaped, line breaks as `\n`, other
/// control characters dropped.
fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The graph as Graphviz DOT (`dot -Tpng graph.dot -o graph.png`): quoted ids and labels,
/// label lines joined by `\n`, fills as `fillcolor="#rrggbb" style=filled`, children kept in
/// edge order (`ordering=out`).
pub fn to_dot(graph: &Graph) -> String {
    let mut out = String::from("digraph {\n");
    out.push_str("  graph [ordering=out");
    if let Some(t) = graph.title.as_deref().filter(|t| !t.is_empty()) {
        let _ = write!(
            out,
            " label=\"{}\" labelloc=t fontname=\"Helvetica\" fontsize=15",
            dot_escape(t)
        );
    }
    out.push_str("]\n");
    out.push_str("  node [fontname=\"Helvetica\" fontsize=12]\n");
    out.push_str("  edge [fontname=\"Helvetica\" fontsize=11]\n");
    for n in &graph.nodes {
        let label = n
            .lines
            .iter()
            .map(|l| dot_escape(l))
            .collect::<Vec<_>>()
            .join("\\n");
        let shape = match n.shape {
            Shape::Box => "box",
            Shape::Ellipse => "ellipse",
        };
        let _ = write!(
            out,
            "  \"{}\" [label=\"{label}\" shape={shape}",
            dot_escape(&n.id)
        );
        if let Some(f) = n.fill {
            let _ = write!(out, " fillcolor=\"{}\" style=filled", hex(f));
            if text_colour(f) == LIGHT_TEXT {
                out.push_str(" fontcolor=\"#ffffff\"");
            }
        }
        out.push_str("]\n");
    }
    for e in &graph.edges {
        let _ = write!(
            out,
            "  \"{}\" -> \"{}\"",
            dot_escape(&e.from),
            dot_escape(&e.to)
        );
        if let Some(l) = e.label.as_deref() {
            let _ = write!(out, " [label=\"{}\"]", dot_escape(l));
        }
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(g: [u8; 8]) -> u32 {
        g.iter().map(|r| r.count_ones()).sum()
    }

    #[test]
    fn glyphs() {
        assert!(ink(glyph('A')) > 10);
        assert_eq!(ink(glyph(' ')), 0);
        assert_eq!(glyph('€'), glyph('?'));
        assert_ne!(glyph('ö'), glyph('?'));
        assert_ne!(glyph('≤'), glyph('?'));
        assert_eq!(glyph('−'), glyph('-'));
        // Bit 0 is the leftmost column: 'L' has its stem on the left.
        assert!(glyph('L')[1] & 1 != 0 || glyph('L')[1] & 2 != 0);
    }

    #[test]
    fn closest_spaced_keeps_order_and_spacing() {
        let x = closest_spaced(&[5.0, 5.0, 5.0, 100.0], &[10.0, 10.0, 10.0]);
        assert!((x[1] - x[0] - 10.0).abs() < 1e-9 && (x[2] - x[1] - 10.0).abs() < 1e-9);
        assert!((x[1] - 5.0).abs() < 1e-9, "{x:?}");
        assert!((x[3] - 100.0).abs() < 1e-9);
    }

    #[test]
    fn dot_escaping() {
        assert_eq!(dot_escape("a \"b\" \\ c\nd\u{1}"), "a \\\"b\\\" \\\\ c\\nd");
    }
}
