//! Draws a sample decision tree and a sample Bayesian network as SVG, PNG and DOT, to look at
//! the graph renderer's output: `cargo run -p oncolens-report --example graph_demo -- out-dir`
//! (default `/tmp`).

use std::path::PathBuf;

use oncolens_report::graph::{self, Edge, Graph, Layout, Node, Shape};

const BENIGN: [u8; 3] = [0xb8, 0xe0, 0xd2];
const MALIGNANT: [u8; 3] = [0xf4, 0xa5, 0x82];
const SPLIT: [u8; 3] = [0xe8, 0xee, 0xf7];

fn leaf(id: &str, class: &str, n: usize, p: f64) -> Node {
    let fill = if p >= 0.5 { MALIGNANT } else { BENIGN };
    Node::new(
        id,
        [
            class.to_owned(),
            format!("n = {n}"),
            format!("p(malignant) = {p:.2}"),
        ],
    )
    .with_fill(fill)
}

fn split(id: &str, test: &str, n: usize) -> Node {
    Node::new(id, [test.to_owned(), format!("n = {n}")]).with_fill(SPLIT)
}

fn decision_tree() -> Graph {
    Graph::new(Some("Decision tree: renal mass malignancy".into()))
        .node(split("root", "diameter_mm ≤ 40.5", 412))
        .node(split("l", "enhancement_HU ≤ 35", 201))
        .node(split("r", "original_glcm_Contrast ≤ 12.8", 211))
        .node(leaf("ll", "benign", 120, 0.08))
        .node(split("lr", "age ≤ 61", 81))
        .node(leaf("lrl", "benign", 44, 0.31))
        .node(leaf("lrr", "malignant", 37, 0.68))
        .node(leaf("rl", "malignant", 90, 0.74))
        .node(leaf("rr", "malignant", 121, 0.93))
        .edge(Edge::new("root", "l").with_label("yes"))
        .edge(Edge::new("root", "r").with_label("no"))
        .edge(Edge::new("l", "ll").with_label("yes"))
        .edge(Edge::new("l", "lr").with_label("no"))
        .edge(Edge::new("lr", "lrl").with_label("yes"))
        .edge(Edge::new("lr", "lrr").with_label("no"))
        .edge(Edge::new("r", "rl").with_label("yes"))
        .edge(Edge::new("r", "rr").with_label("no"))
}

fn bayes_net() -> Graph {
    let var = |id: &str, lines: &[&str], fill: [u8; 3]| {
        Node::new(id, lines.iter().copied())
            .with_fill(fill)
            .with_shape(Shape::Ellipse)
    };
    let obs = [0xdd, 0xea, 0xf6];
    let hidden = [0xf6, 0xe8, 0xc3];
    Graph::new(Some("Bayesian network: renal tumour".into()))
        .node(var("age", &["Age"], obs))
        .node(var("smoking", &["Smoking"], obs))
        .node(var("vhl", &["VHL mutation"], obs))
        .node(var("subtype", &["Subtype", "(ccRCC/pRCC/onco)"], hidden))
        .node(var("size", &["Tumour size"], obs))
        .node(var("grade", &["ISUP grade"], hidden))
        .node(var("texture", &["GLCM contrast"], obs))
        .node(var("necrosis", &["Necrosis"], obs))
        .node(var("malignant", &["Malignant"], [0x3b, 0x4c, 0xc0]))
        .edge(Edge::new("age", "subtype"))
        .edge(Edge::new("smoking", "subtype"))
        .edge(Edge::new("vhl", "subtype"))
        .edge(Edge::new("age", "size"))
        .edge(Edge::new("subtype", "grade"))
        .edge(Edge::new("subtype", "size"))
        .edge(Edge::new("grade", "texture"))
        .edge(Edge::new("grade", "necrosis"))
        .edge(Edge::new("size", "necrosis"))
        .edge(Edge::new("subtype", "malignant").with_label("P=0.7"))
        .edge(Edge::new("grade", "malignant"))
        .edge(Edge::new("smoking", "malignant"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp".into()));
    std::fs::create_dir_all(&out)?;
    for (name, g, kind) in [
        ("graph_demo_tree", decision_tree(), Layout::Tree),
        ("graph_demo_network", bayes_net(), Layout::Layered),
    ] {
        let p = graph::layout(&g, kind)?;
        std::fs::write(out.join(format!("{name}.svg")), graph::to_svg(&p))?;
        std::fs::write(out.join(format!("{name}.png")), graph::to_png(&p, 2)?)?;
        std::fs::write(out.join(format!("{name}_1x.png")), graph::to_png(&p, 1)?)?;
        std::fs::write(out.join(format!("{name}.dot")), graph::to_dot(&g))?;
        println!(
            "{name}: {} x {} px at scale 1, written to {}",
            p.width,
            p.height,
            out.display()
        );
    }
    // Every glyph of the bitmap font once, enlarged, to check the font itself.
    let ascii: String = (' '..='~').collect();
    let sheet = Graph::new(None).node(Node::new(
        "glyphs",
        [
            ascii[..32].to_owned(),
            ascii[32..64].to_owned(),
            ascii[64..].to_owned(),
            "≤ ≥ → − ± × ° µ ä ö ü ß é ç ñ € 漢".to_owned(),
        ],
    ));
    let p = graph::layout(&sheet, Layout::Tree)?;
    std::fs::write(out.join("graph_demo_glyphs.png"), graph::to_png(&p, 3)?)?;
    Ok(())
}
