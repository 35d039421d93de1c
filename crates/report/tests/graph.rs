//! Graph layout and rendering: geometry invariants on random trees and DAGs, errors, and the
//! SVG, PNG and DOT outputs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oncolens_report::ReportError;
use oncolens_report::graph::{
    self, Edge, Graph, Layout, Node, PlacedNode, Positioned, Shape, glyph, to_dot, to_png, to_svg,
};

/// xorshift64*: reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_label(rng: &mut Rng) -> Vec<String> {
    let words = [
        "age",
        "size ≤ 4.2",
        "benign",
        "malignant",
        "p = 0.93",
        "n = 12",
        "x",
        "GLCM contrast",
    ];
    (0..1 + rng.below(3))
        .map(|_| words[rng.below(words.len())].to_owned())
        .collect()
}

/// A random tree of exactly `depth` levels below the root, 0 to 3 children per node (at least
/// one on the spine), some edges labelled, some ellipses.
fn random_tree(rng: &mut Rng, depth: usize) -> Graph {
    let mut g = Graph::new(Some(format!("tree of depth {depth}")));
    g.nodes.push(Node::new("n0", random_label(rng)));
    let mut frontier = vec![(0usize, 0usize, true)];
    while let Some((id, d, spine)) = frontier.pop() {
        if d == depth {
            continue;
        }
        let k = rng.below(4).max(usize::from(spine));
        let spine_child = rng.below(k.max(1));
        for c in 0..k {
            let child = g.nodes.len();
            let mut node = Node::new(format!("n{child}"), random_label(rng));
            if rng.below(3) == 0 {
                node = node.with_shape(Shape::Ellipse);
            }
            g.nodes.push(node);
            let mut e = Edge::new(format!("n{id}"), format!("n{child}"));
            if rng.below(2) == 0 {
                e = e.with_label(if c == 0 { "yes" } else { "no" });
            }
            g.edges.push(e);
            frontier.push((child, d + 1, spine && c == spine_child));
        }
    }
    g
}

/// A random DAG on `n` nodes whose node order is shuffled (so input order is not a
/// topological order).
fn random_dag(rng: &mut Rng, n: usize, edges: usize) -> Graph {
    let mut ids: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        ids.swap(i, rng.below(i + 1));
    }
    let mut g = Graph::new(None);
    for &i in &ids {
        let shape = if i % 2 == 0 {
            Shape::Ellipse
        } else {
            Shape::Box
        };
        g.nodes
            .push(Node::new(format!("v{i}"), random_label(rng)).with_shape(shape));
    }
    for _ in 0..edges {
        let a = rng.below(n);
        let b = rng.below(n);
        if a == b {
            continue;
        }
        let (a, b) = (a.min(b), a.max(b));
        let mut e = Edge::new(format!("v{a}"), format!("v{b}"));
        if rng.below(4) == 0 {
            e = e.with_label("0.8");
        }
        g.edges.push(e);
    }
    g
}

fn assert_no_overlap(p: &Positioned) {
    for (i, a) in p.nodes.iter().enumerate() {
        let (al, at, ar, ab) = a.bounds();
        assert!(
            al >= 0.0 && at >= 0.0 && ar <= p.width && ab <= p.height,
            "{a:?} outside"
        );
        for b in &p.nodes[i + 1..] {
            let (bl, bt, br, bb) = b.bounds();
            let apart = ar <= bl || br <= al || ab <= bt || bb <= at;
            assert!(apart, "{} and {} overlap: {a:?} {b:?}", a.id, b.id);
        }
    }
}

fn on_outline(n: &PlacedNode, q: (f64, f64)) -> bool {
    let (dx, dy) = (
        (q.0 - n.x) / (n.width / 2.0),
        (q.1 - n.y) / (n.height / 2.0),
    );
    let r = match n.shape {
        Shape::Box => dx.abs().max(dy.abs()),
        Shape::Ellipse => (dx * dx + dy * dy).sqrt(),
    };
    (r - 1.0).abs() < 1e-6
}

fn assert_edges_touch_nodes(p: &Positioned) {
    for e in &p.edges {
        let (a, b) = (&p.nodes[e.from], &p.nodes[e.to]);
        assert!(e.points.len() >= 2);
        assert!(on_outline(a, e.points[0]), "{e:?} does not start on {a:?}");
        assert!(
            on_outline(b, e.points[e.points.len() - 1]),
            "{e:?} does not end on {b:?}"
        );
        // Downward throughout: never back up through a layer.
        for w in e.points.windows(2) {
            assert!(w[1].1 >= w[0].1 - 1e-9, "{e:?} goes up");
        }
    }
}

#[test]
fn random_trees_have_ordered_children_centred_parents_and_no_overlap() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for depth in 1..=6 {
        for _ in 0..8 {
            let g = random_tree(&mut rng, depth);
            let p = graph::layout(&g, Layout::Tree).unwrap();
            assert_eq!(p.nodes.len(), g.nodes.len());
            assert_eq!(p.nodes.iter().map(|n| n.layer).max(), Some(depth));
            assert_no_overlap(&p);
            assert_edges_touch_nodes(&p);
            let index = |id: &str| p.nodes.iter().position(|n| n.id == id).unwrap();
            for (v, parent) in p.nodes.iter().enumerate() {
                let kids: Vec<&PlacedNode> = g
                    .edges
                    .iter()
                    .filter(|e| index(&e.from) == v)
                    .map(|e| &p.nodes[index(&e.to)])
                    .collect();
                for w in kids.windows(2) {
                    assert!(w[0].x < w[1].x, "children of {} out of order", parent.id);
                    assert!(w[0].order < w[1].order);
                }
                for k in &kids {
                    assert_eq!(k.layer, parent.layer + 1);
                    assert!(k.y > parent.y);
                }
                if let (Some(first), Some(last)) = (kids.first(), kids.last()) {
                    assert!(
                        first.x <= parent.x + 0.5 && parent.x <= last.x + 0.5,
                        "parent {} at {} not between its children {} and {}",
                        parent.id,
                        parent.x,
                        first.x,
                        last.x
                    );
                }
            }
        }
    }
}

#[test]
fn a_single_node_and_a_forest_lay_out() {
    let one = Graph::new(None).node(Node::new("a", ["only"]));
    let p = graph::layout(&one, Layout::Tree).unwrap();
    assert_eq!(p.nodes[0].layer, 0);
    let forest = Graph::new(None)
        .node(Node::new("r1", ["root 1"]))
        .node(Node::new("r2", ["root 2"]))
        .node(Node::new("c1", ["child"]))
        .node(Node::new("c2", ["child"]))
        .edge(Edge::new("r1", "c1"))
        .edge(Edge::new("r2", "c2"));
    let p = graph::layout(&forest, Layout::Tree).unwrap();
    assert_no_overlap(&p);
    assert!(p.nodes[0].x < p.nodes[1].x && p.nodes[2].x < p.nodes[3].x);
}

#[test]
fn a_deep_chain_does_not_overflow_the_stack() {
    let mut g = Graph::new(None);
    for i in 0..3000 {
        g.nodes.push(Node::new(i.to_string(), ["x"]));
        if i > 0 {
            g.edges.push(Edge::new((i - 1).to_string(), i.to_string()));
        }
    }
    let p = graph::layout(&g, Layout::Tree).unwrap();
    assert_eq!(p.nodes[2999].layer, 2999);
    let p = graph::layout(&g, Layout::Layered).unwrap();
    assert_eq!(p.nodes[2999].layer, 2999);
}

#[test]
fn random_dags_layer_by_longest_path_without_overlap() {
    let mut rng = Rng(42);
    for round in 0..40 {
        let n = 2 + rng.below(30);
        let m = rng.below(3 * n);
        let g = random_dag(&mut rng, n, m);
        let p = graph::layout(&g, Layout::Layered).unwrap();
        assert_no_overlap(&p);
        assert_edges_touch_nodes(&p);
        for e in &p.edges {
            let (a, b) = (&p.nodes[e.from], &p.nodes[e.to]);
            assert!(
                b.layer > a.layer,
                "round {round}: edge {} -> {} goes up",
                a.id,
                b.id
            );
            assert!(b.y > a.y);
            // Long edges bend once per layer they cross (two points each).
            assert_eq!(e.points.len(), 2 + 2 * (b.layer - a.layer - 1));
        }
        // Longest path: sources on layer 0, every other node one below its lowest parent.
        for (v, node) in p.nodes.iter().enumerate() {
            let want = p
                .edges
                .iter()
                .filter(|e| e.to == v)
                .map(|e| p.nodes[e.from].layer + 1)
                .max()
                .unwrap_or(0);
            assert_eq!(node.layer, want, "round {round}: {}", node.id);
        }
        // Orders within a layer are a permutation, left to right.
        let layers = p.nodes.iter().map(|n| n.layer).max().unwrap_or(0) + 1;
        for l in 0..layers {
            let mut row: Vec<&PlacedNode> = p.nodes.iter().filter(|n| n.layer == l).collect();
            row.sort_by(|a, b| a.x.total_cmp(&b.x));
            for w in row.windows(2) {
                assert!(w[0].order < w[1].order);
            }
        }
    }
}

#[test]
fn barycentre_sweeps_remove_an_avoidable_crossing() {
    // a -> d and b -> c cross in input order; reordering one layer removes the crossing.
    let g = Graph::new(None)
        .node(Node::new("a", ["a"]))
        .node(Node::new("b", ["b"]))
        .node(Node::new("c", ["c"]))
        .node(Node::new("d", ["d"]))
        .node(Node::new("e", ["e"]))
        .edge(Edge::new("a", "d"))
        .edge(Edge::new("b", "c"))
        .edge(Edge::new("a", "e"));
    let p = graph::layout(&g, Layout::Layered).unwrap();
    let x = |i: usize| p.nodes[i].x;
    assert_eq!(x(0) < x(1), x(3) < x(2), "{:?}", p.nodes);
    assert_eq!(x(0) < x(1), x(4) < x(2));
}

#[test]
fn cycles_are_errors_naming_a_node_on_the_cycle() {
    let g = Graph::new(None)
        .node(Node::new("start", ["s"]))
        .node(Node::new("a", ["a"]))
        .node(Node::new("b", ["b"]))
        .node(Node::new("c", ["c"]))
        .edge(Edge::new("start", "a"))
        .edge(Edge::new("a", "b"))
        .edge(Edge::new("b", "c"))
        .edge(Edge::new("c", "a"));
    for kind in [Layout::Layered, Layout::Tree] {
        match graph::layout(&g, kind) {
            Err(ReportError::GraphCycle { node }) => {
                assert!(["a", "b", "c"].contains(&node.as_str()), "{node}")
            }
            other => panic!("{kind:?}: expected a cycle error, got {other:?}"),
        }
    }
    // A cycle with no way in: the tree layout finds no root for it.
    let ring = Graph::new(None)
        .node(Node::new("x", ["x"]))
        .node(Node::new("y", ["y"]))
        .edge(Edge::new("x", "y"))
        .edge(Edge::new("y", "x"));
    for kind in [Layout::Layered, Layout::Tree] {
        let err = graph::layout(&ring, kind).unwrap_err();
        assert!(matches!(err, ReportError::GraphCycle { .. }), "{err}");
    }
    let self_loop = Graph::new(None)
        .node(Node::new("me", ["me"]))
        .edge(Edge::new("me", "me"));
    let err = graph::layout(&self_loop, Layout::Layered).unwrap_err();
    assert!(err.to_string().contains("\"me\""), "{err}");
}

#[test]
fn malformed_graphs_are_errors() {
    let two_parents = Graph::new(None)
        .node(Node::new("a", ["a"]))
        .node(Node::new("b", ["b"]))
        .node(Node::new("c", ["c"]))
        .edge(Edge::new("a", "c"))
        .edge(Edge::new("b", "c"));
    let err = graph::layout(&two_parents, Layout::Tree).unwrap_err();
    assert!(matches!(err, ReportError::InvalidGraph(_)) && err.to_string().contains("\"c\""));
    // ... which is a fine DAG.
    let p = graph::layout(&two_parents, Layout::Layered).unwrap();
    assert_eq!(p.nodes[2].layer, 1);

    let dangling = Graph::new(None)
        .node(Node::new("a", ["a"]))
        .edge(Edge::new("a", "ghost"));
    let err = graph::layout(&dangling, Layout::Layered).unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");

    let duplicate = Graph::new(None)
        .node(Node::new("a", ["a"]))
        .node(Node::new("a", ["again"]));
    let err = graph::layout(&duplicate, Layout::Tree).unwrap_err();
    assert!(matches!(err, ReportError::InvalidGraph(_)), "{err}");
}

fn sample_tree() -> Graph {
    Graph::new(Some("Tree <&> \"quoted\"".into()))
        .node(Node::new("root", ["size ≤ 40.5 mm", "n = 412"]).with_fill([0xe8, 0xee, 0xf7]))
        .node(Node::new("l", ["benign", "<b>&amp;</b>"]).with_fill([0xb8, 0xe0, 0xd2]))
        .node(
            Node::new("r", ["malignant"])
                .with_fill([0x3b, 0x4c, 0xc0])
                .with_shape(Shape::Ellipse),
        )
        .node(Node::new("e", Vec::<String>::new()))
        .edge(Edge::new("root", "l").with_label("yes"))
        .edge(Edge::new("root", "r").with_label("no \"really\""))
        .edge(Edge::new("r", "e"))
}

#[test]
fn svg_parses_and_contains_every_label() {
    for kind in [Layout::Tree, Layout::Layered] {
        let g = sample_tree();
        let p = graph::layout(&g, kind).unwrap();
        let svg = to_svg(&p);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("width"), Some(p.width.to_string().as_str()));
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for node in &g.nodes {
            for line in &node.lines {
                assert!(texts.contains(&line.as_str()), "{line} missing");
            }
        }
        for e in &g.edges {
            if let Some(l) = &e.label {
                assert!(texts.contains(&l.as_str()), "{l} missing");
            }
        }
        assert!(texts.contains(&"Tree <&> \"quoted\""));
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("ellipse"))
                .count(),
            1
        );
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("polygon"))
                .count(),
            3
        );
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
fn png_has_the_expected_size_and_draws_every_node_and_its_text() {
    let g = sample_tree();
    let p = graph::layout(&g, Layout::Tree).unwrap();
    for scale in [1u32, 2, 3] {
        let (w, h, px) = decode(&to_png(&p, scale).unwrap());
        assert_eq!(
            (w, h),
            ((p.width as u32) * scale, (p.height as u32) * scale)
        );
        let at = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            [px[i], px[i + 1], px[i + 2]]
        };
        assert_eq!(at(0, 0), [255, 255, 255], "background is white");
        for (node, src) in p.nodes.iter().zip(&g.nodes) {
            let (l, t, r, b) = node.bounds();
            let s = f64::from(scale);
            let (x0, y0) = (((l + 3.0) * s) as u32, ((t + 3.0) * s) as u32);
            let (x1, y1) = (((r - 3.0) * s) as u32, ((b - 3.0) * s) as u32);
            let inside: Vec<[u8; 3]> = (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .map(|(x, y)| at(x, y))
                .collect();
            let fill = src.fill.unwrap_or([255, 255, 255]);
            // The centre of the box is the fill (or text); the outline is drawn.
            assert!(inside.contains(&fill), "{}: no fill", node.id);
            let outline = at(((l * s) as u32) + scale / 2, (node.y * s) as u32);
            // (Ellipse outlines are anti-aliased, so only nearly the outline colour.)
            assert!(
                outline.iter().all(|&v| (0x30..0x40).contains(&v)),
                "{}: no outline {outline:?}",
                node.id
            );
            // Text: pixels of the text block that are far from the fill colour.
            let cols = src
                .lines
                .iter()
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(0) as f64;
            let (tw, th) = (cols * graph::CHAR_W, src.lines.len() as f64 * graph::LINE_H);
            let (tx0, ty0) = (
                ((node.x - tw / 2.0) * s) as u32,
                ((node.y - th / 2.0) * s) as u32,
            );
            let (tx1, ty1) = (
                ((node.x + tw / 2.0) * s) as u32,
                ((node.y + th / 2.0) * s) as u32,
            );
            let block: Vec<[u8; 3]> = (ty0..ty1)
                .flat_map(|y| (tx0..tx1).map(move |x| (x, y)))
                .map(|(x, y)| at(x, y))
                .collect();
            let text = block
                .iter()
                .filter(|c| {
                    c.iter()
                        .zip(fill)
                        .map(|(&a, b)| (i32::from(a) - i32::from(b)).abs())
                        .sum::<i32>()
                        > 200
                })
                .count();
            let glyph_pixels: u32 = src
                .lines
                .iter()
                .flat_map(|l| l.chars())
                .map(|c| glyph(c).iter().map(|r| r.count_ones()).sum::<u32>())
                .sum();
            assert_eq!(
                text as u32,
                glyph_pixels * scale * scale,
                "{}: text pixels",
                node.id
            );
        }
    }
}

#[test]
fn png_rejects_bad_scales() {
    let p = graph::layout(&sample_tree(), Layout::Tree).unwrap();
    assert!(matches!(
        to_png(&p, 0),
        Err(ReportError::InvalidOption { name: "scale", .. })
    ));
    assert!(to_png(&p, 17).is_err());
    let mut huge = p.clone();
    huge.width = 5000.0;
    assert!(matches!(
        to_png(&huge, 2),
        Err(ReportError::TooLarge { .. })
    ));
}

#[test]
fn empty_graph_renders() {
    let g = Graph::new(None);
    for kind in [Layout::Tree, Layout::Layered] {
        let p = graph::layout(&g, kind).unwrap();
        assert!(p.nodes.is_empty() && p.width >= 1.0 && p.height >= 1.0);
        roxmltree::Document::parse(&to_svg(&p)).unwrap();
        let (w, h, _) = decode(&to_png(&p, 1).unwrap());
        assert_eq!((w, h), (p.width as u32, p.height as u32));
    }
}

#[test]
fn dot_quotes_escapes_and_fills() {
    let dot = to_dot(&sample_tree());
    assert!(dot.starts_with("digraph {") && dot.trim_end().ends_with('}'));
    assert!(dot.contains("label=\"Tree <&> \\\"quoted\\\"\""), "{dot}");
    assert!(dot.contains("\"root\" [label=\"size ≤ 40.5 mm\\nn = 412\" shape=box fillcolor=\"#e8eef7\" style=filled]"), "{dot}");
    assert!(
        dot.contains("shape=ellipse fillcolor=\"#3b4cc0\" style=filled"),
        "{dot}"
    );
    assert!(
        dot.contains("\"root\" -> \"r\" [label=\"no \\\"really\\\"\"]"),
        "{dot}"
    );
    assert!(dot.contains("\"r\" -> \"e\"\n"), "{dot}");
    let tricky = Graph::new(None).node(Node::new("a\"b\\", ["x\ny"]));
    let dot = to_dot(&tricky);
    assert!(dot.contains("\"a\\\"b\\\\\" [label=\"x\\ny\""), "{dot}");
}

#[test]
fn bitmap_glyphs() {
    let ink = |c: char| glyph(c).iter().map(|r| r.count_ones()).sum::<u32>();
    assert!(ink('A') > 10);
    assert_eq!(ink(' '), 0);
    assert_eq!(glyph('漢'), glyph('?'));
    assert!(ink('≤') > 5 && glyph('≤') != glyph('≥'));
    // 'A' is left-right symmetric in this font, 'F' is not: its bar points right of the stem.
    let f = glyph('F');
    assert!(f[0].trailing_zeros() < 2, "stem on the left: {f:?}");
}
