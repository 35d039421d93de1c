//! CART classification tree with minimal cost-complexity pruning.
//!
//! The algorithm mirrors scikit-learn's `DecisionTreeClassifier` (best splitter,
//! `max_features=None`) step by step, because a surrogate model is only auditable if a
//! reviewer can reproduce it with the reference tool:
//!
//! * features are rounded to `f32` first (scikit-learn fits trees on `float32`), so the
//!   thresholds — midpoints `a/2 + b/2` of consecutive distinct sorted values — are the
//!   same bits;
//! * two values closer than `1e-7` are treated as equal (scikit-learn's `FEATURE_THRESHOLD`);
//! * split quality is the weighted child impurity proxy and the first strictly better
//!   split wins. scikit-learn visits features in a random order even with
//!   `max_features=None`, so equally good features (common in small nodes) are chosen by
//!   its RNG; with [`TreeParams::sklearn_rand_r_state`] set, the same xorshift draw and
//!   feature-permutation bookkeeping are replayed and ties break as in scikit-learn.
//!   Without it features are visited in column order (ties go to the lowest column);
//! * nodes are stored in pre-order (left subtree first), as scikit-learn stores them, so
//!   node ids, the pruning path and pruned trees are comparable index by index;
//! * the rows of a node are sorted in place with a port of scikit-learn's introsort and
//!   partitioned with its `partition_samples_final`, so weighted class sums are added in
//!   the same order. With fractional weights (`class_weight`) a pure node's impurity is a
//!   float residue of either sign and scikit-learn splits it (at zero gain) when the
//!   residue exceeds `eps`; reproducing the order reproduces those splits too.
//!
//! The sort, partition and `rand_r` routines below follow scikit-learn's algorithms
//! (`sklearn/tree/_partitioner.pyx`, `sklearn/utils/_random.pyx`; BSD-3-Clause, copyright the
//! scikit-learn developers) so that the visiting order, and with it tie-breaking, is the same.
//!
//! Categorical features (binary targets only) are split by Breiman's ordering trick: the
//! categories present in a node are sorted by their weighted rate of class 1 and the best
//! "first k categories go left" split is searched like a numeric one. For two classes this
//! finds the optimal subset split without enumerating 2^(k-1) subsets. scikit-learn has
//! no native categorical splits, so this part has no reference comparison.

use crate::error::{InterpretError, Result, invalid};
use crate::{py_float, py_round};

/// scikit-learn's `FEATURE_THRESHOLD`: values closer than this are not split apart.
const FEATURE_THRESHOLD: f64 = 1e-7;
/// `np.finfo(np.double).eps`: nodes purer than this become leaves.
const EPSILON: f64 = f64::EPSILON;

/// Kind of a feature column.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureKind {
    /// Real-valued, split by `x <= threshold`.
    Numeric,
    /// Integer codes `0..levels.len()` stored as `f64`, split by a set of categories.
    Categorical { levels: Vec<String> },
}

/// A column-major feature table. Kept deliberately simple (plain vectors) so callers can
/// build it from any source without pulling in a dataframe library.
#[derive(Debug, Clone)]
pub struct Dataset {
    names: Vec<String>,
    kinds: Vec<FeatureKind>,
    columns: Vec<Vec<f64>>,
    n_rows: usize,
}

impl Dataset {
    /// Build a table of numeric columns. Fails on ragged columns, no columns, no rows,
    /// or non-finite values (named by column and row).
    pub fn numeric(names: Vec<String>, columns: Vec<Vec<f64>>) -> Result<Self> {
        let kinds = vec![FeatureKind::Numeric; columns.len()];
        Self::new(names, kinds, columns)
    }

    /// Build a table with explicit feature kinds.
    pub fn new(
        names: Vec<String>,
        kinds: Vec<FeatureKind>,
        columns: Vec<Vec<f64>>,
    ) -> Result<Self> {
        if columns.is_empty() {
            return Err(InterpretError::EmptyTable("no feature columns".into()));
        }
        if names.len() != columns.len() || kinds.len() != columns.len() {
            return Err(invalid(
                "names/kinds",
                format!("{}/{}", names.len(), kinds.len()),
                &format!("need one per column ({})", columns.len()),
            ));
        }
        let n_rows = columns[0].len();
        if n_rows == 0 {
            return Err(InterpretError::EmptyTable("no rows".into()));
        }
        for (j, col) in columns.iter().enumerate() {
            if col.len() != n_rows {
                return Err(InterpretError::RaggedColumn {
                    column: names[j].clone(),
                    got: col.len(),
                    expected: n_rows,
                });
            }
            for (row, &v) in col.iter().enumerate() {
                if !v.is_finite() {
                    return Err(InterpretError::NonFinite {
                        column: names[j].clone(),
                        row,
                        value: v,
                    });
                }
                if let FeatureKind::Categorical { levels } = &kinds[j]
                    && (v < 0.0 || v.fract() != 0.0 || v >= levels.len() as f64)
                {
                    return Err(InterpretError::BadCategory {
                        column: names[j].clone(),
                        row,
                        code: v,
                        levels: levels.len(),
                    });
                }
            }
        }
        // Round to f32 like scikit-learn; categorical codes are small integers, unchanged.
        let columns = columns
            .into_iter()
            .map(|c| c.into_iter().map(|v| v as f32 as f64).collect())
            .collect();
        Ok(Self {
            names,
            kinds,
            columns,
            n_rows,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    /// Feature names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Column `j` (after the f32 rounding).
    pub fn column(&self, j: usize) -> &[f64] {
        &self.columns[j]
    }
}

/// A class-label target: codes into `classes`.
#[derive(Debug, Clone)]
pub struct Target {
    name: String,
    classes: Vec<String>,
    codes: Vec<usize>,
}

impl Target {
    /// From string labels; classes are the sorted unique labels (scikit-learn's `classes_`).
    pub fn from_labels<S: AsRef<str>>(name: &str, labels: &[S]) -> Result<Self> {
        if labels.is_empty() {
            return Err(InterpretError::EmptyTable(format!(
                "target `{name}` has no rows"
            )));
        }
        let mut classes: Vec<String> = labels.iter().map(|s| s.as_ref().to_string()).collect();
        classes.sort();
        classes.dedup();
        let codes = labels
            .iter()
            .map(|s| {
                classes
                    .binary_search_by(|c| c.as_str().cmp(s.as_ref()))
                    .unwrap_or(0)
            })
            .collect();
        Ok(Self {
            name: name.into(),
            classes,
            codes,
        })
    }

    /// From integer codes with given class names (code `k` means `classes[k]`).
    pub fn from_codes(name: &str, codes: Vec<usize>, classes: Vec<String>) -> Result<Self> {
        if codes.is_empty() {
            return Err(InterpretError::EmptyTable(format!(
                "target `{name}` has no rows"
            )));
        }
        if let Some((row, &c)) = codes.iter().enumerate().find(|(_, c)| **c >= classes.len()) {
            return Err(InterpretError::BadCategory {
                column: name.into(),
                row,
                code: c as f64,
                levels: classes.len(),
            });
        }
        Ok(Self {
            name: name.into(),
            classes,
            codes,
        })
    }

    /// Class names in code order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
    /// Class code of each row.
    pub fn codes(&self) -> &[usize] {
        &self.codes
    }
}

/// Impurity criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Gini impurity `1 - sum p_k^2`.
    Gini,
    /// Shannon entropy in bits (scikit-learn's `"entropy"` / `"log_loss"`).
    Entropy,
}

/// Per-class sample weighting.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeight {
    /// All rows weigh 1 (times any sample weight).
    None,
    /// `n_samples / (n_classes * count(class))`, scikit-learn's `"balanced"`.
    Balanced,
    /// Explicit weight per class code.
    Explicit(Vec<f64>),
}

/// Hyper-parameters, with scikit-learn's defaults.
#[derive(Debug, Clone)]
pub struct TreeParams {
    pub criterion: Criterion,
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub min_impurity_decrease: f64,
    pub class_weight: ClassWeight,
    /// Minimal cost-complexity pruning strength; `0` keeps the full tree.
    pub ccp_alpha: f64,
    /// Order in which features are tried at each node. `None`: column order (the first
    /// of equally good splits wins, so ties go to the lowest column). `Some(state)`:
    /// scikit-learn's own draw — `state` is the splitter's `rand_r_state`, i.e.
    /// `numpy.random.RandomState(random_state).randint(0, 2**31 - 1)` — which
    /// reproduces scikit-learn's tie-breaking between equally good features exactly.
    pub sklearn_rand_r_state: Option<u32>,
}

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            class_weight: ClassWeight::None,
            ccp_alpha: 0.0,
            sklearn_rand_r_state: None,
        }
    }
}

/// How an internal node routes a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Split {
    /// `x[feature] <= threshold` goes left.
    Threshold { feature: usize, threshold: f64 },
    /// `x[feature]` in `left` (category codes) goes left.
    Categories { feature: usize, left: Vec<usize> },
}

impl Split {
    /// Feature index used by the split.
    pub fn feature(&self) -> usize {
        match self {
            Split::Threshold { feature, .. } | Split::Categories { feature, .. } => *feature,
        }
    }
}

/// One node of the fitted tree (pre-order storage).
#[derive(Debug, Clone)]
pub struct Node {
    /// `None` for leaves.
    pub split: Option<Split>,
    pub left: usize,
    pub right: usize,
    pub impurity: f64,
    pub n_samples: usize,
    pub weighted_n_samples: f64,
    /// Weighted class counts in the node.
    pub value: Vec<f64>,
    pub depth: usize,
}

impl Node {
    /// True when the node has no children.
    pub fn is_leaf(&self) -> bool {
        self.split.is_none()
    }
    /// Class proportions (scikit-learn's `tree_.value` for classifiers since 1.4).
    pub fn proba(&self) -> Vec<f64> {
        // divided by the separately accumulated node weight, as scikit-learn's node_value
        self.value
            .iter()
            .map(|v| v / self.weighted_n_samples)
            .collect()
    }
}

/// The effective alphas and total leaf impurities of the pruning sequence, as
/// scikit-learn's `cost_complexity_pruning_path`.
#[derive(Debug, Clone, PartialEq)]
pub struct PruningPath {
    pub ccp_alphas: Vec<f64>,
    pub impurities: Vec<f64>,
}

/// A fitted decision tree.
#[derive(Debug, Clone)]
pub struct DecisionTree {
    nodes: Vec<Node>,
    feature_names: Vec<String>,
    kinds: Vec<FeatureKind>,
    classes: Vec<String>,
    criterion: Criterion,
}

struct Builder<'a> {
    x: &'a Dataset,
    y: &'a [usize],
    w: &'a [f64],
    n_classes: usize,
    params: &'a TreeParams,
    total_weight: f64,
    nodes: Vec<Node>,
    /// scikit-learn's splitter state: feature permutation, known constants, rng.
    features: Vec<usize>,
    constant_features: Vec<usize>,
    rng: Option<u32>,
}

/// scikit-learn's `our_rand_r` xorshift (`sklearn/utils/_random.pxd`).
fn our_rand_r(seed: &mut u32) -> u32 {
    if *seed == 0 {
        *seed = 1;
    }
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    *seed % (2_147_483_647u32 + 1)
}

fn rand_int(low: usize, high: usize, seed: &mut u32) -> usize {
    low + (our_rand_r(seed) as usize) % (high - low)
}

/// Running class sums for one node, updated the way scikit-learn's
/// `ClassificationCriterion.update` does (forward from the left, or backward from the
/// right when that is shorter) so weighted sums round identically.
struct Scan<'s> {
    sum_total: &'s [f64],
    w_node: f64,
    sum_left: Vec<f64>,
    w_left: f64,
    pos: usize,
}

impl<'s> Scan<'s> {
    fn new(sum_total: &'s [f64], w_node: f64) -> Self {
        Self {
            sum_total,
            w_node,
            sum_left: vec![0.0; sum_total.len()],
            w_left: 0.0,
            pos: 0,
        }
    }
    /// `order[i]` = (row) in the node's current order; moves the boundary to `new_pos`.
    fn update(&mut self, order: &[usize], y: &[usize], w: &[f64], new_pos: usize) {
        let end = order.len();
        if new_pos - self.pos <= end - new_pos {
            for &i in &order[self.pos..new_pos] {
                self.sum_left[y[i]] += w[i];
                self.w_left += w[i];
            }
        } else {
            self.sum_left.copy_from_slice(self.sum_total);
            self.w_left = self.w_node;
            for &i in order[new_pos..end].iter().rev() {
                self.sum_left[y[i]] -= w[i];
                self.w_left -= w[i];
            }
        }
        self.pos = new_pos;
    }
    fn children(&self, crit: Criterion) -> (f64, f64, f64, f64) {
        let w_right = self.w_node - self.w_left;
        let right: Vec<f64> = self
            .sum_total
            .iter()
            .zip(&self.sum_left)
            .map(|(t, l)| t - l)
            .collect();
        (
            impurity(crit, &self.sum_left, self.w_left),
            impurity(crit, &right, w_right),
            self.w_left,
            w_right,
        )
    }
}

/// scikit-learn's `simultaneous_sort(..., use_three_way_partition=True)`
/// (`sklearn/utils/_sorting.pyx`): introsort, median-of-3 pivot, 3-way partition,
/// heapsort fallback, insertion sort below 16 elements. Not stable; ported so that the
/// order of tied values is the same.
fn simultaneous_sort(values: &mut [f64], idx: &mut [usize]) {
    let n = values.len();
    if n == 0 {
        return;
    }
    let maxd = 2 * ((n as f64).log2() as isize);
    introsort_3way(values, idx, maxd);
}

fn introsort_3way(mut values: &mut [f64], mut idx: &mut [usize], mut maxd: isize) {
    while values.len() > 15 {
        let n = values.len();
        if maxd <= 0 {
            heapsort(values, idx);
            return;
        }
        maxd -= 1;
        let pivot = median3(values);
        let (mut i, mut l, mut r) = (0, 0, n);
        while i < r {
            if values[i] < pivot {
                values.swap(i, l);
                idx.swap(i, l);
                i += 1;
                l += 1;
            } else if values[i] > pivot {
                r -= 1;
                values.swap(i, r);
                idx.swap(i, r);
            } else {
                i += 1;
            }
        }
        let (lv, rest_v) = values.split_at_mut(r);
        let (li, rest_i) = idx.split_at_mut(r);
        introsort_3way(&mut lv[..l], &mut li[..l], maxd);
        values = rest_v;
        idx = rest_i;
    }
    insertion_sort(values, idx);
}

fn median3(v: &[f64]) -> f64 {
    let n = v.len();
    let (a, b, c) = (v[0], v[n / 2], v[n - 1]);
    if a < b {
        if b < c {
            b
        } else if a < c {
            c
        } else {
            a
        }
    } else if b < c {
        if a < c { a } else { c }
    } else {
        b
    }
}

fn heapsort(values: &mut [f64], idx: &mut [usize]) {
    let n = values.len();
    if n < 2 {
        return;
    }
    let mut start = (n - 2) / 2;
    loop {
        sift_down(values, idx, start, n);
        if start == 0 {
            break;
        }
        start -= 1;
    }
    let mut end = n - 1;
    while end > 0 {
        values.swap(0, end);
        idx.swap(0, end);
        sift_down(values, idx, 0, end);
        end -= 1;
    }
}

fn sift_down(values: &mut [f64], idx: &mut [usize], start: usize, end: usize) {
    let mut root = start;
    loop {
        let child = root * 2 + 1;
        let mut maxind = root;
        if child < end && values[maxind] < values[child] {
            maxind = child;
        }
        if child + 1 < end && values[maxind] < values[child + 1] {
            maxind = child + 1;
        }
        if maxind == root {
            break;
        }
        values.swap(root, maxind);
        idx.swap(root, maxind);
        root = maxind;
    }
}

fn insertion_sort(values: &mut [f64], idx: &mut [usize]) {
    for i in 1..values.len() {
        let (tv, ti) = (values[i], idx[i]);
        let mut j = i;
        while j > 0 && values[j - 1] > tv {
            values[j] = values[j - 1];
            idx[j] = idx[j - 1];
            j -= 1;
        }
        values[j] = tv;
        idx[j] = ti;
    }
}

fn impurity(crit: Criterion, counts: &[f64], w: f64) -> f64 {
    match crit {
        Criterion::Gini => {
            let sq: f64 = counts.iter().fold(0.0, |acc, c| acc + c * c);
            1.0 - sq / (w * w)
        }
        Criterion::Entropy => {
            let mut e = 0.0;
            for &c in counts {
                if c > 0.0 {
                    let p = c / w;
                    e -= p * (p.ln() / 2f64.ln());
                }
            }
            e
        }
    }
}

struct BestSplit {
    feature: usize,
    pos: usize,
    threshold: f64,
    /// Rows in left-then-right order.
    order: Vec<usize>,
    /// For categorical splits: the categories sent left.
    left_cats: Option<Vec<usize>>,
}

impl Builder<'_> {
    fn class_sums(&self, rows: &[usize]) -> (Vec<f64>, f64) {
        let mut s = vec![0.0; self.n_classes];
        let mut w = 0.0;
        for &i in rows {
            s[self.y[i]] += self.w[i];
            w += self.w[i];
        }
        (s, w)
    }

    /// Returns the sort key of each row for feature `j` (value, or category rank).
    fn keys(&self, j: usize, rows: &[usize]) -> (Vec<f64>, Option<Vec<usize>>) {
        let col = &self.x.columns[j];
        match &self.x.kinds[j] {
            FeatureKind::Numeric => (rows.iter().map(|&i| col[i]).collect(), None),
            FeatureKind::Categorical { levels } => {
                let mut pos = vec![0.0; levels.len()];
                let mut tot = vec![0.0; levels.len()];
                for &i in rows {
                    let c = col[i] as usize;
                    tot[c] += self.w[i];
                    if self.y[i] == 1 {
                        pos[c] += self.w[i];
                    }
                }
                let mut present: Vec<usize> = (0..levels.len()).filter(|&c| tot[c] > 0.0).collect();
                present.sort_by(|&a, &b| {
                    (pos[a] / tot[a])
                        .total_cmp(&(pos[b] / tot[b]))
                        .then(a.cmp(&b))
                });
                let mut rank = vec![0.0; levels.len()];
                for (r, &c) in present.iter().enumerate() {
                    rank[c] = r as f64;
                }
                (
                    rows.iter().map(|&i| rank[col[i] as usize]).collect(),
                    Some(present),
                )
            }
        }
    }

    fn find_split(
        &mut self,
        rows: &[usize],
        sum_total: &[f64],
        w_node: f64,
        n_constant: &mut usize,
    ) -> Option<BestSplit> {
        let crit = self.params.criterion;
        let msl = self.params.min_samples_leaf;
        let end = rows.len();
        let mut cur: Vec<usize> = rows.to_vec();
        let mut best_proxy = f64::NEG_INFINITY;
        let mut best: Option<BestSplit> = None;
        let nf = self.x.columns.len();
        // Feature draw as scikit-learn's `node_split_best` (with max_features = n_features).
        let mut f_i = nf;
        let (mut n_visited, mut n_found, mut n_drawn) = (0usize, 0usize, 0usize);
        let n_known = *n_constant;
        let mut n_total = n_known;
        let mut next_plain = 0usize;
        loop {
            let j;
            let mut f_j = 0;
            match self.rng.as_mut() {
                None => {
                    if next_plain >= nf {
                        break;
                    }
                    j = next_plain;
                    next_plain += 1;
                }
                Some(state) => {
                    if !(f_i > n_total && (n_visited < nf || n_visited <= n_found + n_drawn)) {
                        break;
                    }
                    n_visited += 1;
                    let f = rand_int(n_drawn, f_i - n_found, state);
                    if f < n_known {
                        self.features.swap(n_drawn, f);
                        n_drawn += 1;
                        continue;
                    }
                    f_j = f + n_found;
                    j = self.features[f_j];
                }
            }
            // Sort the node's rows in place with scikit-learn's introsort: the resulting
            // order (ties included) fixes the order of the weighted sums below and of
            // the final partition, so float residues match scikit-learn's.
            let (mut fv, cat_order) = self.keys(j, &cur);
            simultaneous_sort(&mut fv, &mut cur);
            let order: Vec<usize> = cur.clone();
            if fv[end - 1] <= fv[0] + FEATURE_THRESHOLD {
                // constant in this node
                if self.rng.is_some() {
                    self.features.swap(f_j, n_total);
                    n_found += 1;
                    n_total += 1;
                }
                continue;
            }
            if self.rng.is_some() {
                f_i -= 1;
                self.features.swap(f_i, f_j);
            }
            let mut scan = Scan::new(sum_total, w_node);
            let mut p = 0usize;
            while p < end {
                while p + 1 < end && fv[p + 1] <= fv[p] + FEATURE_THRESHOLD {
                    p += 1;
                }
                let p_prev = p;
                p += 1;
                if p >= end {
                    continue;
                }
                if p < msl || end - p < msl {
                    continue;
                }
                scan.update(&order, self.y, self.w, p);
                let (il, ir, wl, wr) = scan.children(crit);
                let proxy = -wr * ir - wl * il;
                if proxy > best_proxy {
                    best_proxy = proxy;
                    let thr = fv[p_prev] / 2.0 + fv[p] / 2.0;
                    let left_cats = cat_order.as_ref().map(|o| {
                        let mut l: Vec<usize> = o[..=(fv[p_prev] as usize)].to_vec();
                        l.sort_unstable();
                        l
                    });
                    best = Some(BestSplit {
                        feature: j,
                        pos: p,
                        threshold: thr,
                        order: Vec::new(),
                        left_cats,
                    });
                }
            }
        }
        if self.rng.is_some() {
            self.features[..n_known].copy_from_slice(&self.constant_features[..n_known]);
            let found: Vec<usize> = self.features[n_known..n_known + n_found].to_vec();
            self.constant_features[n_known..n_known + n_found].copy_from_slice(&found);
            *n_constant = n_total;
        }
        // scikit-learn's `partition_samples_final`, applied to the order left by the last
        // feature sorted (not the best one).
        if let Some(b) = best.as_mut() {
            let col = &self.x.columns[b.feature];
            let goes_left = |row: usize| match &b.left_cats {
                Some(l) => l.contains(&(col[row] as usize)),
                None => col[row] <= b.threshold,
            };
            let (mut s, mut e) = (0, cur.len());
            while s < e {
                if goes_left(cur[s]) {
                    s += 1;
                } else {
                    e -= 1;
                    cur.swap(s, e);
                }
            }
            b.order = cur;
        }
        best
    }

    fn build(
        &mut self,
        rows: &[usize],
        depth: usize,
        impurity_in: Option<f64>,
        n_constant_in: usize,
    ) -> usize {
        let p = self.params;
        let (sum_total, w_node) = self.class_sums(rows);
        let n = rows.len();
        let node_impurity =
            impurity_in.unwrap_or_else(|| impurity(p.criterion, &sum_total, w_node));
        let id = self.nodes.len();
        self.nodes.push(Node {
            split: None,
            left: usize::MAX,
            right: usize::MAX,
            impurity: node_impurity,
            n_samples: n,
            weighted_n_samples: w_node,
            value: sum_total.clone(),
            depth,
        });
        let mut is_leaf = p.max_depth.is_some_and(|d| depth >= d)
            || n < p.min_samples_split
            || n < 2 * p.min_samples_leaf
            // As scikit-learn: with fractional weights a pure node's impurity is a float
            // residue of either sign, so a pure node may still be split (at zero gain).
            || node_impurity <= EPSILON;
        let mut chosen = None;
        let mut n_constant = n_constant_in;
        if !is_leaf {
            match self.find_split(rows, &sum_total, w_node, &mut n_constant) {
                None => is_leaf = true,
                Some(b) => {
                    let mut scan = Scan::new(&sum_total, w_node);
                    scan.update(&b.order, self.y, self.w, b.pos);
                    let (il, ir, wl, wr) = scan.children(p.criterion);
                    let improvement = (w_node / self.total_weight)
                        * (node_impurity - (wr / w_node * ir) - (wl / w_node * il));
                    if improvement + EPSILON < p.min_impurity_decrease {
                        is_leaf = true;
                    } else {
                        chosen = Some((b, il, ir));
                    }
                }
            }
        }
        if let (false, Some((b, il, ir))) = (is_leaf, chosen) {
            let (l_rows, r_rows) = b.order.split_at(b.pos);
            let split = match b.left_cats {
                Some(left) => Split::Categories {
                    feature: b.feature,
                    left,
                },
                None => Split::Threshold {
                    feature: b.feature,
                    threshold: b.threshold,
                },
            };
            let (l_rows, r_rows) = (l_rows.to_vec(), r_rows.to_vec());
            let l = self.build(&l_rows, depth + 1, Some(il), n_constant);
            let r = self.build(&r_rows, depth + 1, Some(ir), n_constant);
            let node = &mut self.nodes[id];
            node.split = Some(split);
            node.left = l;
            node.right = r;
        }
        id
    }
}

fn sample_weights(y: &Target, cw: &ClassWeight, sample_weight: Option<&[f64]>) -> Result<Vec<f64>> {
    let n = y.codes.len();
    let k = y.classes.len();
    let per_class = match cw {
        ClassWeight::None => vec![1.0; k],
        ClassWeight::Balanced => {
            let mut cnt = vec![0usize; k];
            for &c in &y.codes {
                cnt[c] += 1;
            }
            // scikit-learn: n_samples / (n_classes_present * bincount); absent classes get 1.
            let present = cnt.iter().filter(|&&c| c > 0).count() as f64;
            cnt.iter()
                .map(|&c| {
                    if c > 0 {
                        n as f64 / (present * c as f64)
                    } else {
                        1.0
                    }
                })
                .collect()
        }
        ClassWeight::Explicit(v) => {
            if v.len() != k {
                return Err(invalid(
                    "class_weight",
                    v.len(),
                    &format!("need {k} weights"),
                ));
            }
            v.clone()
        }
    };
    let mut w: Vec<f64> = y.codes.iter().map(|&c| per_class[c]).collect();
    if let Some(sw) = sample_weight {
        if sw.len() != n {
            return Err(invalid(
                "sample_weight",
                sw.len(),
                &format!("need {n} weights"),
            ));
        }
        for (row, (wi, &s)) in w.iter_mut().zip(sw).enumerate() {
            if !s.is_finite() || s < 0.0 {
                return Err(InterpretError::NonFinite {
                    column: "sample_weight".into(),
                    row,
                    value: s,
                });
            }
            *wi *= s;
        }
    }
    Ok(w)
}

impl DecisionTree {
    /// Fit a tree. `sample_weight` multiplies the class weights, as in scikit-learn.
    pub fn fit(
        x: &Dataset,
        y: &Target,
        params: &TreeParams,
        sample_weight: Option<&[f64]>,
    ) -> Result<Self> {
        let full = Self::fit_unpruned(x, y, params, sample_weight)?;
        if params.ccp_alpha > 0.0 {
            Ok(full.pruned(params.ccp_alpha))
        } else {
            Ok(full)
        }
    }

    fn fit_unpruned(
        x: &Dataset,
        y: &Target,
        params: &TreeParams,
        sample_weight: Option<&[f64]>,
    ) -> Result<Self> {
        if y.codes.len() != x.n_rows {
            return Err(InterpretError::RaggedColumn {
                column: y.name.clone(),
                got: y.codes.len(),
                expected: x.n_rows,
            });
        }
        if params.min_samples_split < 2 {
            return Err(invalid(
                "min_samples_split",
                params.min_samples_split,
                "must be >= 2",
            ));
        }
        if params.min_samples_leaf < 1 {
            return Err(invalid(
                "min_samples_leaf",
                params.min_samples_leaf,
                "must be >= 1",
            ));
        }
        if params.max_depth == Some(0) {
            return Err(invalid("max_depth", 0, "must be >= 1"));
        }
        if !params.ccp_alpha.is_finite() || params.ccp_alpha < 0.0 {
            return Err(invalid(
                "ccp_alpha",
                params.ccp_alpha,
                "must be finite and >= 0",
            ));
        }
        if x.kinds
            .iter()
            .any(|k| matches!(k, FeatureKind::Categorical { .. }))
            && y.classes.len() != 2
        {
            return Err(InterpretError::NonBinaryTarget {
                column: y.name.clone(),
                classes: y.classes.len(),
                what: "categorical splits ordered by target rate".into(),
            });
        }
        let w = sample_weights(y, &params.class_weight, sample_weight)?;
        let total_weight: f64 = w.iter().sum();
        if total_weight <= 0.0 {
            return Err(invalid(
                "sample_weight",
                total_weight,
                "total weight must be > 0",
            ));
        }
        let mut b = Builder {
            x,
            y: &y.codes,
            w: &w,
            n_classes: y.classes.len(),
            params,
            total_weight,
            nodes: Vec::new(),
            features: (0..x.columns.len()).collect(),
            constant_features: vec![0; x.columns.len()],
            rng: params.sklearn_rand_r_state,
        };
        // scikit-learn drops rows of zero weight before growing the tree.
        let rows: Vec<usize> = (0..x.n_rows).filter(|&i| w[i] != 0.0).collect();
        b.build(&rows, 0, None, 0);
        Ok(Self {
            nodes: b.nodes,
            feature_names: x.names.clone(),
            kinds: x.kinds.clone(),
            classes: y.classes.clone(),
            criterion: params.criterion,
        })
    }

    /// The pruning sequence of the full tree grown with `params` (its `ccp_alpha` is
    /// ignored), as scikit-learn's `cost_complexity_pruning_path`.
    pub fn cost_complexity_pruning_path(
        x: &Dataset,
        y: &Target,
        params: &TreeParams,
        sample_weight: Option<&[f64]>,
    ) -> Result<PruningPath> {
        let full = Self::fit_unpruned(x, y, params, sample_weight)?;
        Ok(full.prune_sequence(None).0)
    }

    /// Nodes in pre-order; node 0 is the root.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    /// Class names.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf()).count()
    }
    /// Depth of the deepest leaf.
    pub fn depth(&self) -> usize {
        self.nodes.iter().map(|n| n.depth).max().unwrap_or(0)
    }

    fn parents(&self) -> Vec<Option<usize>> {
        let mut parent = vec![None; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_leaf() {
                parent[n.left] = Some(i);
                parent[n.right] = Some(i);
            }
        }
        parent
    }

    /// Weakest-link pruning, as scikit-learn's `_cost_complexity_prune`. With
    /// `alpha = Some(a)` stops before the first subtree whose effective alpha exceeds `a`
    /// and returns the kept-leaf mask; with `None` records the whole path.
    fn prune_sequence(&self, alpha: Option<f64>) -> (PruningPath, Vec<bool>) {
        let n = self.nodes.len();
        let total = self.nodes[0].weighted_n_samples;
        let r_node: Vec<f64> = self
            .nodes
            .iter()
            .map(|nd| nd.weighted_n_samples * nd.impurity / total)
            .collect();
        let parent = self.parents();
        let mut leaves_in_subtree: Vec<bool> = self.nodes.iter().map(|nd| nd.is_leaf()).collect();
        let mut in_subtree = vec![true; n];
        let mut r_branch = vec![0.0; n];
        let mut n_leaves = vec![0usize; n];
        // As scikit-learn: leaves in index order, each bubbles its r_node up to the root.
        for leaf in 0..n {
            if !leaves_in_subtree[leaf] {
                continue;
            }
            r_branch[leaf] = r_node[leaf];
            let cur = r_node[leaf];
            let mut k = leaf;
            while let Some(p) = parent[k] {
                r_branch[p] += cur;
                n_leaves[p] += 1;
                k = p;
            }
        }
        let mut candidate: Vec<bool> = leaves_in_subtree.iter().map(|l| !l).collect();
        let mut path = PruningPath {
            ccp_alphas: vec![0.0],
            impurities: vec![r_branch[0]],
        };
        while candidate[0] {
            let mut eff = f64::MAX;
            let mut best = 0;
            for i in 0..n {
                if !candidate[i] {
                    continue;
                }
                let a = (r_node[i] - r_branch[i]) / (n_leaves[i] as f64 - 1.0);
                if a < eff {
                    eff = a;
                    best = i;
                }
            }
            if alpha.is_some_and(|a| a < eff) {
                break;
            }
            let mut st = vec![best];
            while let Some(k) = st.pop() {
                if !in_subtree[k] {
                    continue;
                }
                candidate[k] = false;
                leaves_in_subtree[k] = false;
                in_subtree[k] = false;
                if !self.nodes[k].is_leaf() {
                    st.push(self.nodes[k].left);
                    st.push(self.nodes[k].right);
                }
            }
            leaves_in_subtree[best] = true;
            in_subtree[best] = true;
            let pruned_leaves = n_leaves[best] - 1;
            n_leaves[best] = 0;
            let r_diff = r_node[best] - r_branch[best];
            r_branch[best] = r_node[best];
            let mut k = parent[best];
            while let Some(a) = k {
                n_leaves[a] -= pruned_leaves;
                r_branch[a] += r_diff;
                k = parent[a];
            }
            path.ccp_alphas.push(eff);
            path.impurities.push(r_branch[0]);
        }
        (path, leaves_in_subtree)
    }

    /// The tree pruned at `alpha` (pre-order renumbering, as scikit-learn).
    pub fn pruned(&self, alpha: f64) -> Self {
        let (_, leaf_mask) = self.prune_sequence(Some(alpha));
        let mut nodes = Vec::new();
        fn copy(t: &DecisionTree, mask: &[bool], i: usize, out: &mut Vec<Node>) -> usize {
            let id = out.len();
            let mut nd = t.nodes[i].clone();
            if mask[i] {
                nd.split = None;
                nd.left = usize::MAX;
                nd.right = usize::MAX;
                out.push(nd);
                return id;
            }
            out.push(nd);
            let l = copy(t, mask, t.nodes[i].left, out);
            let r = copy(t, mask, t.nodes[i].right, out);
            out[id].left = l;
            out[id].right = r;
            id
        }
        copy(self, &leaf_mask, 0, &mut nodes);
        Self {
            nodes,
            feature_names: self.feature_names.clone(),
            kinds: self.kinds.clone(),
            classes: self.classes.clone(),
            criterion: self.criterion,
        }
    }

    fn check_row(&self, row: &[f64]) -> Result<()> {
        if row.len() != self.feature_names.len() {
            return Err(invalid(
                "row",
                row.len(),
                &format!("need {} features", self.feature_names.len()),
            ));
        }
        for (j, &v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Err(InterpretError::NonFinite {
                    column: self.feature_names[j].clone(),
                    row: 0,
                    value: v,
                });
            }
        }
        Ok(())
    }

    /// Index of the leaf a row lands in (scikit-learn's `apply`).
    pub fn apply(&self, row: &[f64]) -> Result<usize> {
        self.check_row(row)?;
        let mut i = 0;
        while let Some(split) = &self.nodes[i].split {
            let go_left = match split {
                Split::Threshold { feature, threshold } => {
                    (row[*feature] as f32 as f64) <= *threshold
                }
                Split::Categories { feature, left } => left.contains(&(row[*feature] as usize)),
            };
            i = if go_left {
                self.nodes[i].left
            } else {
                self.nodes[i].right
            };
        }
        Ok(i)
    }

    /// Class probabilities of one row (leaf class proportions).
    pub fn predict_proba(&self, row: &[f64]) -> Result<Vec<f64>> {
        Ok(self.nodes[self.apply(row)?].proba())
    }

    /// Most probable class code (first maximum, as `numpy.argmax`).
    pub fn predict(&self, row: &[f64]) -> Result<usize> {
        Ok(argmax(&self.predict_proba(row)?))
    }

    /// Normalised total impurity decrease per feature (scikit-learn's `feature_importances_`).
    pub fn feature_importances(&self) -> Vec<f64> {
        let mut imp = vec![0.0; self.feature_names.len()];
        for nd in &self.nodes {
            if let Some(s) = &nd.split {
                let (l, r) = (&self.nodes[nd.left], &self.nodes[nd.right]);
                imp[s.feature()] += nd.weighted_n_samples * nd.impurity
                    - l.weighted_n_samples * l.impurity
                    - r.weighted_n_samples * r.impurity;
            }
        }
        let root = self.nodes[0].weighted_n_samples;
        for v in &mut imp {
            *v /= root;
        }
        // `np.sum` (pairwise) as scikit-learn normalises with it
        let s: f64 = crate::numpy_pairwise_sum(&imp);
        if s > 0.0 {
            for v in &mut imp {
                *v /= s;
            }
        }
        imp
    }

    /// The condition that sends a row left at `s`, readable (`size <= 0.52`,
    /// `margin in {irregular}`), with thresholds rounded to `digits`.
    pub fn split_label(&self, s: &Split, digits: usize) -> String {
        self.split_text(s, true, digits, false)
    }

    fn split_text(&self, s: &Split, op_left: bool, digits: usize, dot: bool) -> String {
        let name = &self.feature_names[s.feature()];
        match s {
            Split::Threshold { threshold, .. } => {
                let t = if dot {
                    py_float(py_round(*threshold, digits))
                } else {
                    format!("{threshold:.digits$}")
                };
                if op_left {
                    format!("{name} <= {t}")
                } else {
                    format!("{name} >  {t}")
                }
            }
            Split::Categories { feature, left } => {
                let levels = match &self.kinds[*feature] {
                    FeatureKind::Categorical { levels } => levels,
                    FeatureKind::Numeric => unreachable_levels(),
                };
                let names: Vec<&str> = left.iter().map(|&c| levels[c].as_str()).collect();
                let set = names.join(", ");
                if op_left {
                    format!("{name} in {{{set}}}")
                } else {
                    format!("{name} not in {{{set}}}")
                }
            }
        }
    }

    /// Graphviz DOT text, byte-identical to scikit-learn's
    /// `export_graphviz(tree, feature_names=..., class_names=...)` with default options
    /// for numeric trees.
    pub fn to_dot(&self) -> String {
        let crit = match self.criterion {
            Criterion::Gini => "gini",
            Criterion::Entropy => "entropy",
        };
        let mut out = String::from(
            "digraph Tree {\nnode [shape=box, fontname=\"helvetica\"] ;\nedge [fontname=\"helvetica\"] ;\n",
        );
        let parents = self.parents();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            let nd = &self.nodes[i];
            let mut label = String::new();
            if let Some(s) = &nd.split {
                label.push_str(&self.split_text(s, true, 3, true));
                label.push_str("\\n");
            }
            label.push_str(&format!(
                "{crit} = {}\\n",
                py_float(py_round(nd.impurity, 3))
            ));
            label.push_str(&format!("samples = {}\\n", nd.n_samples));
            let ints = nd.value.iter().all(|v| v.fract() == 0.0);
            let vals: Vec<String> = nd
                .value
                .iter()
                .map(|&v| {
                    if ints {
                        format!("{}", v as i64)
                    } else {
                        py_float(py_round(v, 3))
                    }
                })
                .collect();
            label.push_str(&format!("value = [{}]\\n", vals.join(", ")));
            label.push_str(&format!("class = {}", self.classes[argmax(&nd.value)]));
            out.push_str(&format!("{i} [label=\"{label}\"] ;\n"));
            if let Some(p) = parents[i] {
                out.push_str(&format!("{p} -> {i}"));
                if p == 0 {
                    if i == 1 {
                        out.push_str(" [labeldistance=2.5, labelangle=45, headlabel=\"True\"]");
                    } else {
                        out.push_str(" [labeldistance=2.5, labelangle=-45, headlabel=\"False\"]");
                    }
                }
                out.push_str(" ;\n");
            }
            if !nd.is_leaf() {
                stack.push(nd.right);
                stack.push(nd.left);
            }
        }
        out.push('}');
        out
    }

    /// Plain-text rules, identical to scikit-learn's `export_text(tree, feature_names=...,
    /// class_names=...)` (2 decimals) for numeric trees.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.text_rec(0, 1, &mut out);
        out
    }

    fn text_rec(&self, i: usize, depth: usize, out: &mut String) {
        let mut indent = "|   ".repeat(depth);
        indent.truncate(indent.len() - 3);
        indent.push_str("---");
        let nd = &self.nodes[i];
        match &nd.split {
            Some(s) => {
                out.push_str(&format!(
                    "{indent} {}\n",
                    self.split_text(s, true, 2, false)
                ));
                self.text_rec(nd.left, depth + 1, out);
                out.push_str(&format!(
                    "{indent} {}\n",
                    self.split_text(s, false, 2, false)
                ));
                self.text_rec(nd.right, depth + 1, out);
            }
            None => out.push_str(&format!(
                "{indent} class: {}\n",
                self.classes[argmax(&nd.value)]
            )),
        }
    }

    /// One `IF ... THEN class` rule per leaf, with its support and class proportions.
    pub fn to_rules(&self) -> Vec<String> {
        let mut rules = Vec::new();
        let mut stack: Vec<(usize, Vec<String>)> = vec![(0, Vec::new())];
        while let Some((i, conds)) = stack.pop() {
            let nd = &self.nodes[i];
            match &nd.split {
                Some(s) => {
                    let mut r = conds.clone();
                    r.push(self.split_text(s, false, 4, false).replace(">  ", "> "));
                    stack.push((nd.right, r));
                    let mut l = conds;
                    l.push(self.split_text(s, true, 4, false));
                    stack.push((nd.left, l));
                }
                None => {
                    let p = nd.proba();
                    let k = argmax(&p);
                    let cond = if conds.is_empty() {
                        "TRUE".to_string()
                    } else {
                        conds.join(" AND ")
                    };
                    rules.push(format!(
                        "IF {cond} THEN {} (p = {:.4}, samples = {})",
                        self.classes[k], p[k], nd.n_samples
                    ));
                }
            }
        }
        rules
    }
}

fn unreachable_levels() -> &'static Vec<String> {
    static EMPTY: Vec<String> = Vec::new();
    &EMPTY
}

pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
