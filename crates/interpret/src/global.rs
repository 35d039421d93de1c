//! Global explanation of one target column of a patient table: a pruned decision tree, the
//! strongest association rules and a Bayesian network, each with a cross-validated score.
//!
//! This is what `oncolens explain-global` runs. The target can be the truth (what do the
//! features say about malignancy?) or a model's prediction (a surrogate: what does the model
//! respond to?). The three views answer differently: the tree gives a short decision path,
//! rules give high-lift combinations of binned findings, the network gives the dependency
//! structure and `P(target | findings)` for any findings.
//!
//! Missing values: numeric cells are imputed with the training rows' median for the tree and
//! become their own bin (`missing`) for rules and the network; categorical cells become the
//! level `missing`. Every preprocessing statistic is fitted on the training folds only.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::bayes::{BayesNet, DiscreteData, Estimator, HillClimbOptions, hill_climb};
use crate::rules::{
    Rule, RuleMetric, Transactions, association_rules, bin_labels, frequent_itemsets,
    quantile_edges,
};
use crate::tree::{ClassWeight, Dataset, DecisionTree, FeatureKind, Target, TreeParams};
use crate::{InterpretError, Result};

/// One column of a patient table.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Numeric(Vec<Option<f64>>),
    Categorical(Vec<Option<String>>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }
}

/// A table of patients (rows) by named columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub names: Vec<String>,
    pub columns: Vec<Column>,
}

const MISSING: &str = "missing";

impl Table {
    /// Reads a CSV with a header. A column is numeric when every non-empty cell parses as a
    /// number; empty cells, `NA`, `NaN` and `null` are missing.
    pub fn from_csv<R: std::io::Read>(reader: R) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| InterpretError::InvalidParameter {
                name: "csv header".into(),
                value: String::new(),
                why: e.to_string(),
            })?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut cells: Vec<Vec<Option<String>>> = vec![Vec::new(); headers.len()];
        for (row, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| InterpretError::InvalidParameter {
                name: format!("csv row {}", row + 2),
                value: String::new(),
                why: e.to_string(),
            })?;
            for (j, c) in rec.iter().enumerate() {
                let t = c.trim();
                let missing = t.is_empty()
                    || t.eq_ignore_ascii_case("na")
                    || t.eq_ignore_ascii_case("nan")
                    || t.eq_ignore_ascii_case("null");
                cells[j].push((!missing).then(|| t.to_owned()));
            }
        }
        let columns = cells
            .into_iter()
            .map(|col| {
                let numeric = col
                    .iter()
                    .flatten()
                    .all(|s| s.parse::<f64>().is_ok_and(f64::is_finite))
                    && col.iter().any(Option::is_some);
                if numeric {
                    Column::Numeric(
                        col.iter()
                            .map(|c| c.as_ref().and_then(|s| s.parse().ok()))
                            .collect(),
                    )
                } else {
                    Column::Categorical(col)
                }
            })
            .collect();
        Ok(Self {
            names: headers,
            columns,
        })
    }

    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn column(&self, name: &str) -> Result<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|j| &self.columns[j])
            .ok_or_else(|| InterpretError::Unknown {
                kind: "column".into(),
                name: name.into(),
            })
    }

    /// Adds or replaces a column.
    pub fn set(&mut self, name: &str, column: Column) {
        match self.names.iter().position(|n| n == name) {
            Some(j) => self.columns[j] = column,
            None => {
                self.names.push(name.to_owned());
                self.columns.push(column);
            }
        }
    }
}

/// Settings of a global explanation.
#[derive(Debug, Clone, Serialize)]
pub struct GlobalOptions {
    pub target: String,
    /// Feature columns (empty: every column except the target and `exclude`).
    pub features: Vec<String>,
    pub exclude: Vec<String>,
    /// Deepest tree considered before pruning.
    pub max_depth: usize,
    /// Folds of the (outer) cross-validation that scores each model; pruning strength is
    /// chosen by an inner cross-validation within each outer training part.
    pub cv_folds: usize,
    pub seed: u64,
    /// Quantile bins of numeric features for rules and the network.
    pub bins: usize,
    pub min_support: f64,
    pub min_confidence: f64,
    pub max_rule_len: usize,
    /// Rules kept per target class (by lift).
    pub rules_per_class: usize,
    /// Features the rules are mined over: the most important ones of an unpruned tree (the
    /// itemset search is exponential in the number of items).
    pub rule_features: usize,
    /// Network variables besides the target (the tree's most important features when empty).
    pub network_features: Vec<String>,
    pub network_size: usize,
    pub max_parents: usize,
    /// Classes of a multi-class target with fewer rows than this are merged into `other`:
    /// a class seen a handful of times cannot be learned, and class weighting would let it
    /// dominate the tree.
    pub min_class_rows: usize,
}

impl Default for GlobalOptions {
    fn default() -> Self {
        Self {
            target: String::new(),
            features: Vec::new(),
            exclude: Vec::new(),
            max_depth: 4,
            cv_folds: 5,
            seed: 7,
            bins: 3,
            min_support: 0.03,
            min_confidence: 0.5,
            max_rule_len: 3,
            rules_per_class: 10,
            rule_features: 8,
            network_features: Vec::new(),
            network_size: 6,
            max_parents: 2,
            min_class_rows: 5,
        }
    }
}

/// Cross-validated performance of one model.
#[derive(Debug, Clone, Serialize)]
pub struct CvScore {
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    /// The share of the most frequent class: what always guessing it scores.
    pub majority_accuracy: f64,
    pub folds: usize,
    pub rows: usize,
}

/// `P(target = class | finding)` for one finding of the network.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkQuery {
    pub evidence: Vec<(String, String)>,
    pub probabilities: Vec<(String, f64)>,
}

/// Everything `explain-global` reports.
#[derive(Debug, Clone)]
pub struct GlobalExplanation {
    pub target: String,
    pub classes: Vec<String>,
    pub features: Vec<String>,
    /// The tree's input columns (the features, with categorical ones as `name=level`
    /// indicators for multi-class targets).
    pub tree_features: Vec<String>,
    pub tree: DecisionTree,
    pub tree_alpha: f64,
    pub tree_cv: CvScore,
    pub rules: Vec<Rule>,
    pub rule_items: Vec<String>,
    pub network: BayesNet,
    pub network_cv: CvScore,
    pub network_queries: Vec<NetworkQuery>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The tree's view of the features, with statistics fitted on `fit_rows`.
struct TreeEncoding {
    medians: Vec<Option<f64>>,
    levels: Vec<Option<Vec<String>>>,
    /// Categorical features as 0/1 indicator columns (multi-class targets: the tree orders
    /// categories by target rate only for two classes).
    onehot: bool,
}

impl TreeEncoding {
    /// For each column of the tree's dataset, the feature it comes from.
    fn origins(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (j, l) in self.levels.iter().enumerate() {
            match l {
                Some(levels) if self.onehot => {
                    let k = if levels.len() == 2 { 1 } else { levels.len() };
                    out.extend(std::iter::repeat_n(j, k));
                }
                _ => out.push(j),
            }
        }
        out
    }

    fn fit(cols: &[&Column], fit_rows: &[usize], onehot: bool) -> Self {
        let mut medians = Vec::new();
        let mut levels = Vec::new();
        for c in cols {
            match c {
                Column::Numeric(v) => {
                    medians.push(Some(median(
                        fit_rows.iter().filter_map(|&i| v[i]).collect(),
                    )));
                    levels.push(None);
                }
                Column::Categorical(v) => {
                    let mut l: Vec<String> = v
                        .iter()
                        .map(|c| c.clone().unwrap_or_else(|| MISSING.into()))
                        .collect();
                    l.sort();
                    l.dedup();
                    medians.push(None);
                    levels.push(Some(l));
                }
            }
        }
        Self {
            medians,
            levels,
            onehot,
        }
    }

    fn dataset(&self, names: &[String], cols: &[&Column], rows: &[usize]) -> Result<Dataset> {
        let mut kinds = Vec::new();
        let mut out = Vec::new();
        let mut out_names = Vec::new();
        for (j, c) in cols.iter().enumerate() {
            match c {
                Column::Numeric(v) => {
                    let m = self.medians[j].unwrap_or(0.0);
                    kinds.push(FeatureKind::Numeric);
                    out.push(rows.iter().map(|&i| v[i].unwrap_or(m)).collect());
                    out_names.push(names[j].clone());
                }
                Column::Categorical(v) if self.onehot => {
                    let levels = self.levels[j].clone().unwrap_or_default();
                    let skip = usize::from(levels.len() == 2);
                    for level in levels.iter().skip(skip) {
                        kinds.push(FeatureKind::Numeric);
                        out.push(
                            rows.iter()
                                .map(|&i| {
                                    f64::from(u8::from(v[i].as_deref().unwrap_or(MISSING) == level))
                                })
                                .collect(),
                        );
                        out_names.push(format!("{}={level}", names[j]));
                    }
                }
                Column::Categorical(v) => {
                    let levels = self.levels[j].clone().unwrap_or_default();
                    let codes = rows
                        .iter()
                        .map(|&i| {
                            let s = v[i].as_deref().unwrap_or(MISSING);
                            levels.iter().position(|l| l == s).unwrap_or(0) as f64
                        })
                        .collect();
                    kinds.push(FeatureKind::Categorical { levels });
                    out.push(codes);
                    out_names.push(names[j].clone());
                }
            }
        }
        Dataset::new(out_names, kinds, out)
    }
}

/// Quantile bin labels of every feature, edges fitted on `fit_rows`.
struct Binning {
    edges: Vec<Option<Vec<f64>>>,
}

impl Binning {
    fn fit(names: &[String], cols: &[&Column], fit_rows: &[usize], bins: usize) -> Self {
        let edges = cols
            .iter()
            .zip(names)
            .map(|(c, name)| match c {
                Column::Numeric(v) => {
                    let vals: Vec<f64> = fit_rows.iter().filter_map(|&i| v[i]).collect();
                    quantile_edges(name, &vals, bins).ok()
                }
                Column::Categorical(_) => None,
            })
            .collect();
        Self { edges }
    }

    fn label(&self, j: usize, c: &Column, row: usize) -> String {
        match c {
            Column::Numeric(v) => match (v[row], &self.edges[j]) {
                (None, _) => MISSING.into(),
                (Some(x), Some(e)) => {
                    let labels = bin_labels(e);
                    let inner = &e[1..e.len().saturating_sub(1)];
                    let code = inner.partition_point(|&b| b <= x).min(labels.len() - 1);
                    labels[code].clone()
                }
                (Some(_), None) => "all".into(),
            },
            Column::Categorical(v) => v[row].clone().unwrap_or_else(|| MISSING.into()),
        }
    }
}

fn folds(labels: &[usize], rows: &[usize], k: usize, seed: u64) -> Vec<Vec<usize>> {
    let k = k.max(2).min(rows.len().max(2));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![Vec::new(); k];
    let mut classes: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    classes.sort_unstable();
    classes.dedup();
    let mut next = 0;
    for c in classes {
        let mut members: Vec<usize> = rows.iter().copied().filter(|&i| labels[i] == c).collect();
        members.shuffle(&mut rng);
        for i in members {
            out[next % k].push(i);
            next += 1;
        }
    }
    out.retain(|f| !f.is_empty());
    out
}

fn score(pred: &[usize], truth: &[usize], n_classes: usize) -> (f64, f64) {
    let n = truth.len().max(1) as f64;
    let acc = pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / n;
    let mut recalls = Vec::new();
    for c in 0..n_classes {
        let total = truth.iter().filter(|&&t| t == c).count();
        if total > 0 {
            let hit = pred
                .iter()
                .zip(truth)
                .filter(|&(&p, &t)| t == c && p == c)
                .count();
            recalls.push(hit as f64 / total as f64);
        }
    }
    let bal = recalls.iter().sum::<f64>() / recalls.len().max(1) as f64;
    (acc, bal)
}

fn tree_params(opts: &GlobalOptions, alpha: f64) -> TreeParams {
    TreeParams {
        max_depth: Some(opts.max_depth.max(1)),
        min_samples_leaf: 3,
        class_weight: ClassWeight::Balanced,
        ccp_alpha: alpha,
        ..TreeParams::default()
    }
}

struct Problem<'a> {
    names: Vec<String>,
    cols: Vec<&'a Column>,
    y: Vec<usize>,
    classes: Vec<String>,
}

impl Problem<'_> {
    fn target(&self, rows: &[usize], name: &str) -> Result<Target> {
        Target::from_codes(
            name,
            rows.iter().map(|&i| self.y[i]).collect(),
            self.classes.clone(),
        )
    }

    fn fit_tree(
        &self,
        rows: &[usize],
        opts: &GlobalOptions,
        alpha: f64,
    ) -> Result<(DecisionTree, TreeEncoding)> {
        let enc = TreeEncoding::fit(&self.cols, rows, self.classes.len() > 2);
        let x = enc.dataset(&self.names, &self.cols, rows)?;
        let y = self.target(rows, &opts.target)?;
        Ok((
            DecisionTree::fit(&x, &y, &tree_params(opts, alpha), None)?,
            enc,
        ))
    }

    fn predict_tree(
        &self,
        tree: &DecisionTree,
        enc: &TreeEncoding,
        rows: &[usize],
    ) -> Result<Vec<usize>> {
        let x = enc.dataset(&self.names, &self.cols, rows)?;
        let width = x.names().len();
        (0..rows.len())
            .map(|r| {
                let row: Vec<f64> = (0..width).map(|j| x.column(j)[r]).collect();
                tree.predict(&row)
            })
            .collect()
    }

    /// The pruning strength with the best inner-CV balanced accuracy on `rows`.
    fn choose_alpha(&self, rows: &[usize], opts: &GlobalOptions) -> Result<f64> {
        let enc = TreeEncoding::fit(&self.cols, rows, self.classes.len() > 2);
        let x = enc.dataset(&self.names, &self.cols, rows)?;
        let y = self.target(rows, &opts.target)?;
        let path =
            DecisionTree::cost_complexity_pruning_path(&x, &y, &tree_params(opts, 0.0), None)?;
        let mut candidates: Vec<f64> = path.ccp_alphas.clone();
        candidates.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
        // The last alpha prunes to the root; keep it (a stump may be the honest answer).
        let inner = folds(&self.y, rows, opts.cv_folds.clamp(2, 5), opts.seed ^ 0x5eed);
        let mut best = (f64::NEG_INFINITY, 0.0);
        for &alpha in &candidates {
            let mut pred = Vec::new();
            let mut truth = Vec::new();
            for (f, held) in inner.iter().enumerate() {
                let fit_rows: Vec<usize> = inner
                    .iter()
                    .enumerate()
                    .filter(|(g, _)| *g != f)
                    .flat_map(|(_, r)| r.iter().copied())
                    .collect();
                let (t, e) = self.fit_tree(&fit_rows, opts, alpha)?;
                pred.extend(self.predict_tree(&t, &e, held)?);
                truth.extend(held.iter().map(|&i| self.y[i]));
            }
            let (_, bal) = score(&pred, &truth, self.classes.len());
            // Ties go to the larger alpha: the smaller tree.
            if bal >= best.0 - 1e-12 {
                best = (bal, alpha);
            }
        }
        Ok(best.1)
    }

    fn discrete(&self, vars: &[usize], rows: &[usize], bins: &Binning) -> Result<DiscreteData> {
        let mut names = vec![String::new(); vars.len() + 1];
        let mut columns = vec![Vec::new(); vars.len() + 1];
        names[0].clone_from(&self.target_name());
        columns[0] = rows
            .iter()
            .map(|&i| self.classes[self.y[i]].clone())
            .collect();
        for (k, &j) in vars.iter().enumerate() {
            names[k + 1].clone_from(&self.names[j]);
            columns[k + 1] = rows
                .iter()
                .map(|&i| bins.label(j, self.cols[j], i))
                .collect();
        }
        DiscreteData::from_columns(&names, &columns)
    }

    fn target_name(&self) -> String {
        TARGET_VAR.to_owned()
    }
}

/// Name of the target variable inside the network (the real name goes in the report).
const TARGET_VAR: &str = "target";

fn fit_network(data: &DiscreteData, max_parents: usize) -> Result<BayesNet> {
    let dag = hill_climb(
        data,
        &HillClimbOptions {
            max_indegree: Some(max_parents.max(1)),
            ..HillClimbOptions::default()
        },
    )?;
    BayesNet::fit(
        data,
        &dag,
        Estimator::BDeu {
            equivalent_sample_size: 5.0,
        },
    )
}

fn predict_network(net: &BayesNet, data: &DiscreteData, row: usize) -> Result<usize> {
    let names = net.names().to_vec();
    let ev: Vec<(String, String)> = (1..names.len())
        .map(|v| (names[v].clone(), data.states(v)[data.code(v, row)].clone()))
        .collect();
    // States unseen when the network was fitted cannot be evidence.
    let ev: Vec<(&str, &str)> = ev
        .iter()
        .filter(|(n, s)| {
            net.names()
                .iter()
                .position(|x| x == n)
                .is_some_and(|v| net.states(v).iter().any(|x| x == s))
        })
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let p = net.query(TARGET_VAR, &ev)?;
    let best = p
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
        .map_or(0, |(i, _)| i);
    Ok(best)
}

/// Fits the three global views of `opts.target` on `table` and scores the tree and the network
/// by stratified cross-validation.
pub fn explain_global(table: &Table, opts: &GlobalOptions) -> Result<GlobalExplanation> {
    let target_col = table.column(&opts.target)?;
    let target_labels: Vec<Option<String>> = match target_col {
        Column::Categorical(v) => v.clone(),
        Column::Numeric(v) => v
            .iter()
            .map(|x| {
                x.map(|x| {
                    if x.fract() == 0.0 {
                        format!("{}", x as i64)
                    } else {
                        format!("{x}")
                    }
                })
            })
            .collect(),
    };
    let mut target_labels = target_labels;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for l in target_labels.iter().flatten() {
        *counts.entry(l.clone()).or_default() += 1;
    }
    let rare: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n < opts.min_class_rows)
        .map(|(c, _)| c.clone())
        .collect();
    if counts.len() > 2 && !rare.is_empty() {
        for l in target_labels.iter_mut().flatten() {
            if rare.contains(l) {
                *l = "other".into();
            }
        }
    }
    let rows: Vec<usize> = (0..table.n_rows())
        .filter(|&i| target_labels[i].is_some())
        .collect();
    let mut classes: Vec<String> = rows
        .iter()
        .filter_map(|&i| target_labels[i].clone())
        .collect();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(InterpretError::InvalidParameter {
            name: format!("target `{}`", opts.target),
            value: format!("{} classes", classes.len()),
            why: "needs at least two classes among the rows where it is known".into(),
        });
    }
    let mut y = vec![0usize; table.n_rows()];
    for &i in &rows {
        if let Some(l) = &target_labels[i] {
            y[i] = classes.iter().position(|c| c == l).unwrap_or(0);
        }
    }
    let feature_names: Vec<String> = if opts.features.is_empty() {
        table
            .names
            .iter()
            .filter(|n| **n != opts.target && !opts.exclude.contains(n))
            .cloned()
            .collect()
    } else {
        opts.features.clone()
    };
    let mut names = Vec::new();
    let mut cols = Vec::new();
    for n in &feature_names {
        let c = table.column(n)?;
        // A column with one value (or none) cannot explain anything.
        let distinct = match c {
            Column::Numeric(v) => {
                let mut x: Vec<f64> = rows.iter().filter_map(|&i| v[i]).collect();
                x.sort_by(f64::total_cmp);
                x.dedup();
                x.len()
            }
            Column::Categorical(v) => {
                let mut x: Vec<&Option<String>> = rows.iter().map(|&i| &v[i]).collect();
                x.sort();
                x.dedup();
                x.len()
            }
        };
        if distinct > 1 {
            names.push(n.clone());
            cols.push(c);
        }
    }
    if names.is_empty() {
        return Err(InterpretError::EmptyTable(
            "no feature column varies across the rows".into(),
        ));
    }
    let p = Problem {
        names,
        cols,
        y,
        classes,
    };
    let n_classes = p.classes.len();
    let majority = (0..n_classes)
        .map(|c| rows.iter().filter(|&&i| p.y[i] == c).count())
        .max()
        .unwrap_or(0) as f64
        / rows.len().max(1) as f64;

    // Tree: nested CV score, then the final tree on every row with alpha chosen on every row.
    let outer = folds(&p.y, &rows, opts.cv_folds, opts.seed);
    let mut pred = Vec::new();
    let mut truth = Vec::new();
    let mut net_pred = Vec::new();
    for (f, held) in outer.iter().enumerate() {
        let fit_rows: Vec<usize> = outer
            .iter()
            .enumerate()
            .filter(|(g, _)| *g != f)
            .flat_map(|(_, r)| r.iter().copied())
            .collect();
        let alpha = p.choose_alpha(&fit_rows, opts)?;
        let (t, e) = p.fit_tree(&fit_rows, opts, alpha)?;
        pred.extend(p.predict_tree(&t, &e, held)?);
        truth.extend(held.iter().map(|&i| p.y[i]));
        // Network variables chosen on the training part too.
        let (full, full_enc) = p.fit_tree(&fit_rows, opts, 0.0)?;
        let vars = network_vars(&p, &full, &full_enc, opts);
        let bins = Binning::fit(&p.names, &p.cols, &fit_rows, opts.bins);
        let train_data = p.discrete(&vars, &fit_rows, &bins)?;
        let net = fit_network(&train_data, opts.max_parents)?;
        let held_data = p.discrete(&vars, held, &bins)?;
        for r in 0..held.len() {
            let k = predict_network(&net, &held_data, r)?;
            // Map the network's state index back to the class code.
            let state = &net.states(0)[k];
            net_pred.push(p.classes.iter().position(|c| c == state).unwrap_or(0));
        }
    }
    let (acc, bal) = score(&pred, &truth, n_classes);
    let (nacc, nbal) = score(&net_pred, &truth, n_classes);
    let alpha = p.choose_alpha(&rows, opts)?;
    let (tree, tree_enc) = p.fit_tree(&rows, opts, alpha)?;
    let tree_features = tree_enc.dataset(&p.names, &p.cols, &rows)?.names().to_vec();
    let (full_tree, full_enc) = p.fit_tree(&rows, opts, 0.0)?;
    let ranking = importance_order(&full_tree, &full_enc, p.names.len());

    // Rules over binned findings, consequent = one target class.
    let bins = Binning::fit(&p.names, &p.cols, &rows, opts.bins);
    let rule_vars: Vec<usize> = ranking
        .iter()
        .copied()
        .take(opts.rule_features.max(1))
        .collect();
    let mut cat_names: Vec<String> = rule_vars.iter().map(|&j| p.names[j].clone()).collect();
    let mut cat_cols: Vec<Vec<String>> = rule_vars
        .iter()
        .map(|&j| rows.iter().map(|&i| bins.label(j, p.cols[j], i)).collect())
        .collect();
    cat_names.push(opts.target.clone());
    cat_cols.push(rows.iter().map(|&i| p.classes[p.y[i]].clone()).collect());
    let tx = Transactions::from_categorical(&cat_names, &cat_cols)?;
    let items = tx.items().to_vec();
    let sets = frequent_itemsets(&tx, opts.min_support, Some(opts.max_rule_len.max(2)))?;
    let all = association_rules(&sets, tx.len(), RuleMetric::Confidence, opts.min_confidence)?;
    let prefix = format!("{}=", opts.target);
    let mut by_class: BTreeMap<usize, Vec<Rule>> = BTreeMap::new();
    for r in all {
        if r.consequent.len() == 1
            && items[r.consequent[0]].starts_with(&prefix)
            && !r.antecedent.iter().any(|&a| items[a].starts_with(&prefix))
            && r.lift > 1.0
        {
            by_class.entry(r.consequent[0]).or_default().push(r);
        }
    }
    let mut rules = Vec::new();
    for (_, mut rs) in by_class {
        rs.sort_by(|a, b| {
            b.lift
                .total_cmp(&a.lift)
                .then(b.support.total_cmp(&a.support))
                .then(a.antecedent.len().cmp(&b.antecedent.len()))
        });
        rules.extend(rs.into_iter().take(opts.rules_per_class));
    }

    // The network on every row.
    let vars = network_vars(&p, &full_tree, &full_enc, opts);
    let data = p.discrete(&vars, &rows, &bins)?;
    let network = fit_network(&data, opts.max_parents)?;
    let mut network_queries = vec![NetworkQuery {
        evidence: Vec::new(),
        probabilities: network.query(TARGET_VAR, &[])?,
    }];
    for v in 1..data.names().len() {
        for s in data.states(v) {
            let ev = [(data.names()[v].as_str(), s.as_str())];
            network_queries.push(NetworkQuery {
                evidence: vec![(data.names()[v].clone(), s.clone())],
                probabilities: network.query(TARGET_VAR, &ev)?,
            });
        }
    }
    let cv = |accuracy, balanced_accuracy| CvScore {
        accuracy,
        balanced_accuracy,
        majority_accuracy: majority,
        folds: outer.len(),
        rows: rows.len(),
    };
    Ok(GlobalExplanation {
        target: opts.target.clone(),
        classes: p.classes.clone(),
        features: p.names.clone(),
        tree_features,
        tree,
        tree_alpha: alpha,
        tree_cv: cv(acc, bal),
        rules,
        rule_items: items,
        network,
        network_cv: cv(nacc, nbal),
        network_queries,
    })
}

/// The network's variables: the requested ones, else the most important features of an
/// unpruned tree (then the remaining columns in table order) up to `network_size`.
fn network_vars(
    p: &Problem<'_>,
    tree: &DecisionTree,
    enc: &TreeEncoding,
    opts: &GlobalOptions,
) -> Vec<usize> {
    if !opts.network_features.is_empty() {
        return opts
            .network_features
            .iter()
            .filter_map(|n| p.names.iter().position(|x| x == n))
            .collect();
    }
    let mut order = importance_order(tree, enc, p.names.len());
    order.truncate(opts.network_size.max(1));
    order
}

/// Feature indices by decreasing importance (indicator columns of one feature summed; ties in
/// column order).
fn importance_order(tree: &DecisionTree, enc: &TreeEncoding, n_features: usize) -> Vec<usize> {
    let mut imp = vec![0.0; n_features];
    for (v, j) in tree.feature_importances().into_iter().zip(enc.origins()) {
        imp[j] += v;
    }
    let mut order: Vec<usize> = (0..n_features).collect();
    order.sort_by(|&a, &b| imp[b].total_cmp(&imp[a]).then(a.cmp(&b)));
    order
}

/// The network with the target variable under its real name (for DOT export and reports).
pub fn network_dot(e: &GlobalExplanation) -> String {
    rename_target(&e.network.dag().to_dot(e.network.names()), &e.target)
}

fn rename_target(dot: &str, target: &str) -> String {
    dot.replace(&format!("\"{TARGET_VAR}\""), &format!("\"{target}\""))
}

/// Edges of the network as (parent, child) names, the target under its real name.
pub fn network_edges(e: &GlobalExplanation) -> Vec<(String, String)> {
    let names: Vec<String> = e
        .network
        .names()
        .iter()
        .map(|n| {
            if n == TARGET_VAR {
                e.target.clone()
            } else {
                n.clone()
            }
        })
        .collect();
    e.network
        .dag()
        .edges()
        .into_iter()
        .map(|(a, b)| (names[a].clone(), names[b].clone()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::Rng;

    /// 300 rows: `y` = 1 when `size > 0.5` or (`margin` = irregular and `age > 0.7`), with 5%
    /// label noise; `noise` and `colour` carry nothing.
    fn table(seed: u64) -> Table {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 300;
        let mut size = Vec::new();
        let mut age = Vec::new();
        let mut margin = Vec::new();
        let mut noise = Vec::new();
        let mut colour = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let s: f64 = rng.random();
            let a: f64 = rng.random();
            let irregular = rng.random::<f64>() < 0.4;
            let mut label = s > 0.5 || (irregular && a > 0.7);
            if rng.random::<f64>() < 0.05 {
                label = !label;
            }
            size.push(if i % 17 == 0 { None } else { Some(s) });
            age.push(Some(a));
            margin.push(Some(
                if irregular { "irregular" } else { "smooth" }.to_owned(),
            ));
            noise.push(Some(rng.random::<f64>()));
            colour.push(Some(["red", "blue"][rng.random_range(0..2)].to_owned()));
            y.push(Some(if label { "malignant" } else { "benign" }.to_owned()));
        }
        Table {
            names: ["size", "age", "margin", "noise", "colour", "y"]
                .map(String::from)
                .to_vec(),
            columns: vec![
                Column::Numeric(size),
                Column::Numeric(age),
                Column::Categorical(margin),
                Column::Numeric(noise),
                Column::Categorical(colour),
                Column::Categorical(y),
            ],
        }
    }

    #[test]
    fn recovers_the_generating_structure() {
        let t = table(1);
        let e = explain_global(
            &t,
            &GlobalOptions {
                target: "y".into(),
                ..GlobalOptions::default()
            },
        )
        .unwrap();
        assert_eq!(e.classes, vec!["benign", "malignant"]);
        // Cross-validated accuracy well above guessing the majority class.
        assert!(e.tree_cv.accuracy > 0.8, "{:?}", e.tree_cv);
        assert!(e.tree_cv.accuracy > e.tree_cv.majority_accuracy + 0.2);
        assert!(e.network_cv.balanced_accuracy > 0.7, "{:?}", e.network_cv);
        // The root splits on size, the strongest cause.
        let root = e.tree.nodes()[0].split.clone().unwrap();
        assert_eq!(e.features[root.feature()], "size");
        let imp = e.tree.feature_importances();
        let by = |n: &str| imp[e.features.iter().position(|f| f == n).unwrap()];
        assert!(by("size") > by("noise") && by("size") > by("colour"));
        // Size is a parent or child of the target in the network; colour is not connected.
        let edges = network_edges(&e);
        let touches = |n: &str| {
            edges
                .iter()
                .any(|(a, b)| (a == n && b == "y") || (a == "y" && b == n))
        };
        assert!(touches("size"), "{edges:?}");
        assert!(!touches("colour"), "{edges:?}");
        // The best malignant rule involves high size and has lift > 1.
        let top = e
            .rules
            .iter()
            .find(|r| e.rule_items[r.consequent[0]] == "y=malignant")
            .unwrap();
        assert!(top.lift > 1.3);
        assert!(
            top.antecedent
                .iter()
                .any(|&a| e.rule_items[a].starts_with("size=")),
            "{:?}",
            top.antecedent
                .iter()
                .map(|&a| &e.rule_items[a])
                .collect::<Vec<_>>()
        );
        // P(malignant | size in the top tertile) is higher than the prior.
        let prior = e.network_queries[0].probabilities[1].1;
        let high = e
            .network_queries
            .iter()
            .filter(|q| q.evidence.first().is_some_and(|(n, _)| n == "size"))
            .map(|q| q.probabilities[1].1)
            .fold(0.0, f64::max);
        assert!(high > prior + 0.15, "{high} vs prior {prior}");
        assert!(network_dot(&e).contains("\"y\""));
    }

    #[test]
    fn multi_class_targets_with_categorical_features() {
        let mut t = table(3);
        // Three classes: benign, malignant-small, malignant-large.
        let Column::Numeric(size) = t.column("size").unwrap().clone() else {
            panic!()
        };
        let Column::Categorical(y) = t.column("y").unwrap().clone() else {
            panic!()
        };
        let y3: Vec<Option<String>> = y
            .iter()
            .zip(&size)
            .map(|(l, s)| match (l.as_deref(), s) {
                (Some("malignant"), Some(s)) if *s > 0.75 => Some("large".into()),
                (Some(l), _) => Some(l.to_owned()),
                _ => None,
            })
            .collect();
        t.set("y", Column::Categorical(y3));
        let e = explain_global(
            &t,
            &GlobalOptions {
                target: "y".into(),
                ..GlobalOptions::default()
            },
        )
        .unwrap();
        assert_eq!(e.classes.len(), 3);
        assert!(e.tree_cv.balanced_accuracy > 0.5, "{:?}", e.tree_cv);
        assert!(e.tree.classes().len() == 3);
    }

    #[test]
    fn bad_tables_are_errors() {
        let t = table(2);
        let err = explain_global(
            &t,
            &GlobalOptions {
                target: "nope".into(),
                ..GlobalOptions::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let mut one = t.clone();
        one.set("y", Column::Categorical(vec![Some("a".into()); 300]));
        let err = explain_global(
            &one,
            &GlobalOptions {
                target: "y".into(),
                ..GlobalOptions::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("two classes"), "{err}");
    }

    #[test]
    fn csv_columns_are_typed_and_missing_cells_kept() {
        let csv = "id,age,sex,grade\nc1,50,male,2\nc2,,female,NA\nc3,61.5,male,3\n";
        let t = Table::from_csv(csv.as_bytes()).unwrap();
        assert_eq!(t.n_rows(), 3);
        assert_eq!(
            t.column("age").unwrap(),
            &Column::Numeric(vec![Some(50.0), None, Some(61.5)])
        );
        assert!(matches!(t.column("sex").unwrap(), Column::Categorical(_)));
        assert_eq!(
            t.column("grade").unwrap(),
            &Column::Numeric(vec![Some(2.0), None, Some(3.0)])
        );
        assert!(Table::from_csv("a,b\n1\n".as_bytes()).is_err());
    }
}
