//! `oncolens explain-global`: a pruned decision tree, association rules and a Bayesian network
//! for one target over a patient table, written as DOT, PNG, CSV, JSON and an HTML page.
//!
//! The table is a CSV (`--table`, e.g. what `oncolens radiomics --cohort` writes: clinical
//! columns, outcomes, features) or is built from a cohort folder. With `--model` the model's
//! predicted class of every case becomes a column and, by default, the target: the three views
//! are then a global surrogate of the model, and their cross-validated accuracy is their
//! fidelity to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oncolens_interpret::global::{
    Column, GlobalExplanation, GlobalOptions, Table, explain_global, network_edges,
};
use oncolens_interpret::tree::DecisionTree;
use oncolens_report::graph::{Edge, Graph, Layout, Node, Shape, layout, to_png, to_svg};
use serde_json::json;

use crate::progress;

#[derive(clap::Args)]
pub struct ExplainGlobalArgs {
    /// Output folder: tree.dot/.png/.txt, rules.csv, bayes_net.dot/.png, global.json,
    /// explain_global.html.
    #[arg(long)]
    pub out: PathBuf,
    /// A model folder: its predicted class of every case is added as column `prediction`
    /// (and is the default target).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A cohort folder (needed with --model; without --table the table is built from its
    /// clinical records and labels).
    #[arg(long)]
    pub cohort: Option<PathBuf>,
    /// A CSV table with a `case_id` column (e.g. from `oncolens radiomics --cohort`).
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Column to explain (default: `prediction` with --model, else `label`).
    #[arg(long)]
    pub target: Option<String>,
    /// Feature columns to use, comma-separated (default: every column except identifiers,
    /// labels, outcomes and predictions).
    #[arg(long)]
    pub features: Option<String>,
    /// More columns to leave out, comma-separated.
    #[arg(long)]
    pub exclude: Option<String>,
    /// Deepest tree before pruning (pruning strength is chosen by cross-validation).
    #[arg(long, default_value_t = 4)]
    pub max_depth: usize,
    /// Quantile bins of numeric features for rules and the network.
    #[arg(long, default_value_t = 3)]
    pub bins: usize,
    /// Minimum support of a rule.
    #[arg(long, default_value_t = 0.03)]
    pub min_support: f64,
    /// Variables of the Bayesian network besides the target.
    #[arg(long, default_value_t = 6)]
    pub network_size: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

fn split_list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn read_table(path: &Path) -> Result<Table> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Table::from_csv(f).with_context(|| format!("reading {}", path.display()))
}

/// Clinical columns and labels of a cohort's cases.
fn cohort_table(root: &Path) -> Result<Table> {
    let cohort = oncolens_io::scan_cohort(root)
        .with_context(|| format!("reading cohort {}", root.display()))?;
    let mut rows: Vec<BTreeMap<String, String>> = Vec::new();
    for entry in &cohort.entries {
        let mut r = BTreeMap::new();
        r.insert("case_id".to_owned(), entry.id.clone());
        r.insert("site".to_owned(), entry.site.0.clone());
        if let Some(l) = entry.label {
            r.insert("label".to_owned(), l.0.to_string());
        }
        if let Some(p) = &entry.fhir {
            let record = oncolens_records::fhir::read_bundle(p)
                .with_context(|| format!("reading {}", p.display()))?
                .record;
            r.extend(crate::radiomics::clinical_columns(Some(&record)));
        }
        rows.push(r);
    }
    let mut names: Vec<String> = rows.iter().flat_map(|r| r.keys().cloned()).collect();
    names.sort();
    names.dedup();
    let mut csv_text = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut csv_text);
        w.write_record(&names)?;
        for r in &rows {
            w.write_record(names.iter().map(|n| r.get(n).cloned().unwrap_or_default()))?;
        }
        w.flush()?;
    }
    Ok(Table::from_csv(csv_text.as_slice())?)
}

/// Adds `prediction` (the model's class at its threshold) and `predicted_probability`.
fn add_predictions(table: &mut Table, model_dir: &Path, cohort: &Path) -> Result<()> {
    let device = oncolens_nn::default_device();
    let model = oncolens_train::model_dir::load_model(model_dir, &device)
        .with_context(|| format!("loading model {}", model_dir.display()))?;
    let scanned = oncolens_io::scan_cohort(cohort)
        .with_context(|| format!("reading cohort {}", cohort.display()))?;
    let bar = progress::bar(scanned.entries.len() as u64, "reading cases");
    let cases =
        oncolens_train::prepare_cohort(&scanned, &model.preprocessor.image_input, &|d, _| {
            bar.set_position(d as u64)
        })?;
    bar.finish_and_clear();
    let refs: Vec<&oncolens_train::PreparedCase> = cases.iter().collect();
    let probs = model.probabilities(&refs, &device)?;
    let by_id: BTreeMap<&str, f64> = cases
        .iter()
        .map(|c| c.id.as_str())
        .zip(probs.iter().copied())
        .collect();
    let Ok(Column::Categorical(ids)) = table.column("case_id").cloned() else {
        bail!("the table has no case_id column to join the predictions on");
    };
    let p: Vec<Option<f64>> = ids
        .iter()
        .map(|id| id.as_deref().and_then(|i| by_id.get(i).copied()))
        .collect();
    if p.iter().all(Option::is_none) {
        bail!("no case_id of the table is a case of {}", cohort.display());
    }
    let class: Vec<Option<String>> = p
        .iter()
        .map(|v| {
            v.map(|v| {
                if v >= model.threshold {
                    "malignant"
                } else {
                    "benign"
                }
                .to_owned()
            })
        })
        .collect();
    table.set("predicted_probability", Column::Numeric(p));
    table.set("prediction", Column::Categorical(class));
    Ok(())
}

/// Blend from white towards a class colour by the node's purity.
fn class_fill(proba: &[f64]) -> [u8; 3] {
    const COLOURS: [[u8; 3]; 6] = [
        [78, 121, 167],
        [225, 87, 89],
        [89, 161, 79],
        [242, 142, 43],
        [176, 122, 161],
        [118, 183, 178],
    ];
    let (k, p) = proba
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 1.0));
    let n = proba.len().max(2) as f64;
    let strength = ((p - 1.0 / n) / (1.0 - 1.0 / n)).clamp(0.0, 1.0);
    let c = COLOURS[k % COLOURS.len()];
    c.map(|v| (255.0 - (255.0 - f64::from(v)) * (0.15 + 0.6 * strength)).round() as u8)
}

fn tree_graph(tree: &DecisionTree, target: &str) -> Graph {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let classes = tree.classes();
    for (i, n) in tree.nodes().iter().enumerate() {
        let proba = n.proba();
        let (k, p) = proba
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        let mut lines = Vec::new();
        if let Some(s) = &n.split {
            lines.push(tree.split_label(s, 2));
        }
        lines.push(format!("n = {}", n.n_samples));
        lines.push(format!(
            "{target}: {} {:.0}%",
            classes.get(k).map_or("?", String::as_str),
            100.0 * p
        ));
        nodes.push(Node {
            id: format!("n{i}"),
            lines,
            fill: Some(class_fill(&proba)),
            shape: Shape::Box,
        });
        if n.split.is_some() {
            edges.push(Edge {
                from: format!("n{i}"),
                to: format!("n{}", n.left),
                label: Some("yes".into()),
            });
            edges.push(Edge {
                from: format!("n{i}"),
                to: format!("n{}", n.right),
                label: Some("no".into()),
            });
        }
    }
    Graph {
        nodes,
        edges,
        title: Some(format!("Decision tree for {target}")),
    }
}

fn network_graph(e: &GlobalExplanation) -> Graph {
    let edges = network_edges(e);
    let mut names: Vec<String> = vec![e.target.clone()];
    for n in e.network.names().iter().skip(1) {
        names.push(n.clone());
    }
    Graph {
        nodes: names
            .iter()
            .map(|n| Node {
                id: n.clone(),
                lines: vec![n.clone()],
                fill: Some(if *n == e.target {
                    [255, 214, 165]
                } else {
                    [220, 232, 245]
                }),
                shape: Shape::Ellipse,
            })
            .collect(),
        edges: edges
            .into_iter()
            .map(|(from, to)| Edge {
                from,
                to,
                label: None,
            })
            .collect(),
        title: Some(format!(
            "Bayesian network (BIC hill climbing) around {}",
            e.target
        )),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    oncolens_core::fs::write_atomic(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn run(args: &ExplainGlobalArgs) -> Result<()> {
    let mut table = match (&args.table, &args.cohort) {
        (Some(t), _) => read_table(t)?,
        (None, Some(c)) => cohort_table(c)?,
        (None, None) => bail!("give --table CSV or --cohort DIR"),
    };
    if let Some(m) = &args.model {
        let Some(c) = &args.cohort else {
            bail!("--model needs --cohort to predict the cases");
        };
        add_predictions(&mut table, m, c)?;
    }
    let target = args.target.clone().unwrap_or_else(|| {
        if args.model.is_some() {
            "prediction".into()
        } else {
            "label".into()
        }
    });
    let mut exclude: Vec<String> = table
        .names
        .iter()
        .filter(|n| {
            matches!(
                n.as_str(),
                "case_id" | "site" | "label" | "prediction" | "predicted_probability" | "split"
            ) || n.starts_with("outcome_")
        })
        .filter(|n| **n != target)
        .cloned()
        .collect();
    exclude.extend(split_list(&args.exclude));
    let opts = GlobalOptions {
        target: target.clone(),
        features: split_list(&args.features),
        exclude,
        max_depth: args.max_depth,
        bins: args.bins.max(2),
        min_support: args.min_support,
        network_size: args.network_size.max(1),
        seed: args.seed,
        ..GlobalOptions::default()
    };
    eprintln!(
        "explaining `{target}` over {} rows (cross-validated tree, rules, network)",
        table.n_rows()
    );
    let e = explain_global(&table, &opts).with_context(|| format!("explaining `{target}`"))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = &args.out;

    write(&out.join("tree.dot"), e.tree.to_dot().as_bytes())?;
    write(&out.join("tree.txt"), e.tree.to_text().as_bytes())?;
    let tg = tree_graph(&e.tree, &target);
    let tree_layout = layout(&tg, Layout::Tree)?;
    write(&out.join("tree.png"), &to_png(&tree_layout, 2)?)?;
    let tree_svg = to_svg(&tree_layout);

    let mut rules_csv = Vec::new();
    oncolens_interpret::rules::write_rules_csv(&e.rules, &e.rule_items, &mut rules_csv)?;
    write(&out.join("rules.csv"), &rules_csv)?;

    write(
        &out.join("bayes_net.dot"),
        oncolens_interpret::global::network_dot(&e).as_bytes(),
    )?;
    let ng = network_graph(&e);
    let net_layout = layout(&ng, Layout::Layered)?;
    write(&out.join("bayes_net.png"), &to_png(&net_layout, 2)?)?;
    let net_svg = to_svg(&net_layout);

    let rule_json: Vec<serde_json::Value> = e
        .rules
        .iter()
        .map(|r| {
            let names = |v: &[usize]| -> Vec<&str> {
                v.iter().map(|&i| e.rule_items[i].as_str()).collect()
            };
            json!({
                "antecedent": names(&r.antecedent),
                "consequent": names(&r.consequent),
                "support": r.support, "confidence": r.confidence, "lift": r.lift,
            })
        })
        .collect();
    let importances: BTreeMap<&str, f64> = e
        .tree_features
        .iter()
        .map(String::as_str)
        .zip(e.tree.feature_importances())
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let summary = json!({
        "target": target,
        "classes": e.classes,
        "rows": e.tree_cv.rows,
        "features": e.features.len(),
        "tree": {
            "cv": e.tree_cv, "ccp_alpha": e.tree_alpha, "leaves": e.tree.n_leaves(),
            "depth": e.tree.depth(), "importances": importances,
            "rules": e.tree.to_rules(),
        },
        "rules": rule_json,
        "bayes_net": {
            "cv": e.network_cv,
            "edges": network_edges(&e),
            "queries": e.network_queries,
        },
        "surrogate_of_model": args.model.is_some() && target == "prediction",
    });
    write(
        &out.join("global.json"),
        &serde_json::to_vec_pretty(&summary)?,
    )?;

    let cv_line = |name: &str, cv: &oncolens_interpret::global::CvScore| {
        format!(
            "<tr><td>{name}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            cv.accuracy, cv.balanced_accuracy, cv.majority_accuracy, cv.folds
        )
    };
    let mut rules_rows = String::new();
    for r in rule_json.iter().take(30) {
        let join = |k: &str| {
            r[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" & ")
                })
                .unwrap_or_default()
        };
        rules_rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2}</td></tr>",
            html_escape(&join("antecedent")),
            html_escape(&join("consequent")),
            r["support"].as_f64().unwrap_or(0.0),
            r["confidence"].as_f64().unwrap_or(0.0),
            r["lift"].as_f64().unwrap_or(0.0),
        ));
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Global explanation: {t}</title>\
         <style>body{{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}\
         svg{{max-width:100%;height:auto}}</style></head><body>\
         <h1>Global explanation of <code>{t}</code></h1>\
         <p>{rows} patients, {nf} candidate features. Scores are stratified {folds}-fold \
         cross-validated; the tree's pruning strength is chosen by an inner cross-validation \
         in each training part.{surrogate}</p>\
         <table><tr><th>model</th><th>accuracy</th><th>balanced accuracy</th>\
         <th>majority class</th><th>folds</th></tr>{tcv}{ncv}</table>\
         <h2>Pruned decision tree</h2>{tree_svg}\
         <h2>Association rules (by lift)</h2><table><tr><th>if</th><th>then</th>\
         <th>support</th><th>confidence</th><th>lift</th></tr>{rules_rows}</table>\
         <h2>Bayesian network</h2>{net_svg}</body></html>",
        t = html_escape(&target),
        rows = e.tree_cv.rows,
        nf = e.features.len(),
        folds = e.tree_cv.folds,
        surrogate = if args.model.is_some() && target == "prediction" {
            " The target is the model's own decision: accuracy here is the surrogate's \
             fidelity to the model."
        } else {
            ""
        },
        tcv = cv_line("decision tree", &e.tree_cv),
        ncv = cv_line("Bayesian network", &e.network_cv),
    );
    write(&out.join("explain_global.html"), html.as_bytes())?;
    println!(
        "{target}: tree {} leaves, CV accuracy {:.3} (balanced {:.3}, majority {:.3}); \
         network CV balanced accuracy {:.3}; {} rules; wrote {}",
        e.tree.n_leaves(),
        e.tree_cv.accuracy,
        e.tree_cv.balanced_accuracy,
        e.tree_cv.majority_accuracy,
        e.network_cv.balanced_accuracy,
        e.rules.len(),
        out.display()
    );
    Ok(())
}
