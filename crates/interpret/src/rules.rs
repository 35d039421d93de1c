//! Frequent itemsets and association rules over a one-hot transaction table.
//!
//! Rules such as `{worst_concave_points=[0.14,0.29]} => {diagnosis=malignant}` are a
//! readable global summary of which findings co-occur; clinicians can check them against
//! domain knowledge. Supports and metrics use the exact formulas (and operation order)
//! of mlxtend's `fpgrowth` + `association_rules`, so tables can be cross-checked.
//!
//! Mining is a depth-first search over vertical bitsets (one bit per transaction, one
//! bitset per item; Eclat-style): each candidate's support is a popcount of an AND, so
//! there is no candidate-generation pass as in Apriori and no tree as in FP-growth, yet
//! the result (all itemsets with `count >= ceil(min_support * n)`) is the same set.

use std::collections::HashMap;
use std::io::Write;

use crate::error::{InterpretError, Result, invalid};
use crate::py_float;

/// Transactions as one bitset per item.
#[derive(Debug, Clone)]
pub struct Transactions {
    items: Vec<String>,
    bits: Vec<Vec<u64>>,
    n: usize,
}

fn to_bits(col: &[bool]) -> Vec<u64> {
    let mut b = vec![0u64; col.len().div_ceil(64)];
    for (i, &v) in col.iter().enumerate() {
        if v {
            b[i / 64] |= 1 << (i % 64);
        }
    }
    b
}

fn popcount(b: &[u64]) -> usize {
    b.iter().map(|w| w.count_ones() as usize).sum()
}

impl Transactions {
    /// From one-hot boolean columns (one per item).
    pub fn from_onehot(items: Vec<String>, columns: &[Vec<bool>]) -> Result<Self> {
        if columns.is_empty() || items.is_empty() {
            return Err(InterpretError::EmptyTable("no item columns".into()));
        }
        if items.len() != columns.len() {
            return Err(invalid(
                "items",
                items.len(),
                &format!("need one name per column ({})", columns.len()),
            ));
        }
        let n = columns[0].len();
        if n == 0 {
            return Err(InterpretError::EmptyTable("no transactions".into()));
        }
        for (name, c) in items.iter().zip(columns) {
            if c.len() != n {
                return Err(InterpretError::RaggedColumn {
                    column: name.clone(),
                    got: c.len(),
                    expected: n,
                });
            }
        }
        Ok(Self {
            bits: columns.iter().map(|c| to_bits(c)).collect(),
            items,
            n,
        })
    }

    /// One-hot encode categorical columns: item `"{column}={value}"` for every value seen
    /// (sorted, like `pandas.get_dummies(prefix_sep="=")` followed by sorting the columns).
    pub fn from_categorical(names: &[String], columns: &[Vec<String>]) -> Result<Self> {
        let mut items = Vec::new();
        let mut cols = Vec::new();
        for (name, col) in names.iter().zip(columns) {
            let mut values: Vec<&String> = col.iter().collect();
            values.sort();
            values.dedup();
            for v in values {
                items.push(format!("{name}={v}"));
                cols.push(col.iter().map(|x| x == v).collect::<Vec<bool>>());
            }
        }
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| items[a].cmp(&items[b]));
        let items_sorted = order.iter().map(|&i| items[i].clone()).collect();
        let cols_sorted: Vec<Vec<bool>> = order.iter().map(|&i| cols[i].clone()).collect();
        Self::from_onehot(items_sorted, &cols_sorted)
    }

    /// Item names.
    pub fn items(&self) -> &[String] {
        &self.items
    }
    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.n
    }
    /// True when there are no transactions (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// A frequent itemset (item indices ascending).
#[derive(Debug, Clone, PartialEq)]
pub struct Itemset {
    pub items: Vec<usize>,
    pub count: usize,
    pub support: f64,
}

/// All itemsets with `count >= ceil(min_support * n)` (mlxtend's rule), up to `max_len`.
pub fn frequent_itemsets(
    t: &Transactions,
    min_support: f64,
    max_len: Option<usize>,
) -> Result<Vec<Itemset>> {
    if !(min_support > 0.0 && min_support <= 1.0) {
        return Err(invalid("min_support", min_support, "must be in (0, 1]"));
    }
    let min_count = (min_support * t.n as f64).ceil() as usize;
    let max_len = max_len.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let singles: Vec<usize> = (0..t.items.len())
        .filter(|&i| popcount(&t.bits[i]) >= min_count)
        .collect();
    fn dfs(
        t: &Transactions,
        prefix: &mut Vec<usize>,
        bits: &[u64],
        candidates: &[usize],
        min_count: usize,
        max_len: usize,
        out: &mut Vec<Itemset>,
    ) {
        for (k, &i) in candidates.iter().enumerate() {
            let inter: Vec<u64> = if prefix.is_empty() {
                t.bits[i].clone()
            } else {
                bits.iter().zip(&t.bits[i]).map(|(a, b)| a & b).collect()
            };
            let c = popcount(&inter);
            if c < min_count {
                continue;
            }
            prefix.push(i);
            out.push(Itemset {
                items: prefix.clone(),
                count: c,
                support: c as f64 / t.n as f64,
            });
            if prefix.len() < max_len {
                dfs(
                    t,
                    prefix,
                    &inter,
                    &candidates[k + 1..],
                    min_count,
                    max_len,
                    out,
                );
            }
            prefix.pop();
        }
    }
    dfs(
        t,
        &mut Vec::new(),
        &[],
        &singles,
        min_count,
        max_len,
        &mut out,
    );
    Ok(out)
}

/// Metric used to filter rules (`metric >= min_threshold`), as mlxtend's `metric=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleMetric {
    Support,
    Confidence,
    Lift,
    Leverage,
    Conviction,
}

/// An association rule `antecedent => consequent` with mlxtend's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub antecedent: Vec<usize>,
    pub consequent: Vec<usize>,
    pub antecedent_support: f64,
    pub consequent_support: f64,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub representativity: f64,
    pub leverage: f64,
    /// `inf` when confidence is 1.
    pub conviction: f64,
    pub zhangs_metric: f64,
    pub jaccard: f64,
    pub certainty: f64,
    pub kulczynski: f64,
}

impl Rule {
    fn metric(&self, m: RuleMetric) -> f64 {
        match m {
            RuleMetric::Support => self.support,
            RuleMetric::Confidence => self.confidence,
            RuleMetric::Lift => self.lift,
            RuleMetric::Leverage => self.leverage,
            RuleMetric::Conviction => self.conviction,
        }
    }
}

/// Metrics of a rule from its three supports; the arithmetic follows mlxtend
/// (`association_rules` without null handling) operation by operation.
/// Returns `[antecedent support, consequent support, support, confidence, lift,
/// representativity, leverage, conviction, zhangs_metric, jaccard, certainty, kulczynski]`.
pub fn rule_metrics(s_ac: f64, s_a: f64, s_c: f64, n: usize) -> [f64; 12] {
    let nf = n as f64;
    let conf = (s_ac * nf) / (s_a * nf);
    let conf_ca = (s_ac * nf) / (s_c * nf);
    let lift = conf / s_c;
    let leverage = s_ac - s_a * s_c;
    let conviction = if conf < 1.0 {
        (1.0 - s_c) / (1.0 - conf)
    } else {
        f64::INFINITY
    };
    let zden = (s_ac * (1.0 - s_a)).max(s_a * (s_c - s_ac));
    let zhang = if zden == 0.0 { 0.0 } else { leverage / zden };
    let jaccard = s_ac / (s_a + s_c - s_ac);
    let cden = 1.0 - s_c;
    let certainty = if cden == 0.0 {
        0.0
    } else {
        (conf - s_c) / cden
    };
    let kulczynski = (conf + conf_ca) / 2.0;
    [
        s_a, s_c, s_ac, conf, lift, 1.0, leverage, conviction, zhang, jaccard, certainty,
        kulczynski,
    ]
}

/// Rules from frequent itemsets, keeping those with `metric >= min_threshold`.
/// `n` is the number of transactions (mlxtend's `num_itemsets`).
pub fn association_rules(
    itemsets: &[Itemset],
    n: usize,
    metric: RuleMetric,
    min_threshold: f64,
) -> Result<Vec<Rule>> {
    if n == 0 {
        return Err(InterpretError::EmptyTable("no transactions".into()));
    }
    let support: HashMap<&[usize], f64> = itemsets
        .iter()
        .map(|s| (s.items.as_slice(), s.support))
        .collect();
    let mut rules = Vec::new();
    for set in itemsets.iter().filter(|s| s.items.len() >= 2) {
        let k = set.items.len();
        // every non-empty proper subset as antecedent (bitmask over the itemset)
        for mask in 1..(1u64 << k) - 1 {
            let (mut a, mut c) = (Vec::new(), Vec::new());
            for (b, &it) in set.items.iter().enumerate() {
                if mask >> b & 1 == 1 {
                    a.push(it);
                } else {
                    c.push(it);
                }
            }
            let (Some(&s_a), Some(&s_c)) = (support.get(a.as_slice()), support.get(c.as_slice()))
            else {
                continue; // subsets of frequent sets are frequent; defensive
            };
            let m = rule_metrics(set.support, s_a, s_c, n);
            let rule = Rule {
                antecedent: a,
                consequent: c,
                antecedent_support: m[0],
                consequent_support: m[1],
                support: m[2],
                confidence: m[3],
                lift: m[4],
                representativity: m[5],
                leverage: m[6],
                conviction: m[7],
                zhangs_metric: m[8],
                jaccard: m[9],
                certainty: m[10],
                kulczynski: m[11],
            };
            if rule.metric(metric) >= min_threshold {
                rules.push(rule);
            }
        }
    }
    Ok(rules)
}

/// Write rules as CSV: antecedent, consequent (items joined by `" & "`), support,
/// confidence, lift, then the other metrics.
pub fn write_rules_csv<W: Write>(rules: &[Rule], items: &[String], out: W) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "antecedent",
        "consequent",
        "support",
        "confidence",
        "lift",
        "antecedent_support",
        "consequent_support",
        "leverage",
        "conviction",
        "zhangs_metric",
        "jaccard",
        "certainty",
        "kulczynski",
    ])?;
    let names = |v: &[usize]| {
        v.iter()
            .map(|&i| items[i].as_str())
            .collect::<Vec<_>>()
            .join(" & ")
    };
    for r in rules {
        w.write_record([
            names(&r.antecedent),
            names(&r.consequent),
            py_float(r.support),
            py_float(r.confidence),
            py_float(r.lift),
            py_float(r.antecedent_support),
            py_float(r.consequent_support),
            py_float(r.leverage),
            py_float(r.conviction),
            py_float(r.zhangs_metric),
            py_float(r.jaccard),
            py_float(r.certainty),
            py_float(r.kulczynski),
        ])?;
    }
    w.flush().map_err(|e| InterpretError::Csv(e.to_string()))?;
    Ok(())
}

/// Quantile bin edges `q = i/k`, `i = 0..=k`, with numpy's default ("linear") method,
/// bit for bit, so labels match a pandas/numpy pipeline.
pub fn quantile_edges(column: &str, values: &[f64], k: usize) -> Result<Vec<f64>> {
    if k == 0 {
        return Err(invalid("bins", k, "must be >= 1"));
    }
    check_values(column, values)?;
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v[0] == v[v.len() - 1] {
        return Err(InterpretError::ConstantColumn {
            column: column.into(),
            value: v[0],
        });
    }
    let n = v.len();
    let edges = (0..=k)
        .map(|i| {
            let q = i as f64 / k as f64;
            let virt = (n as f64 - 1.0) * q;
            let prev = virt.floor();
            let lo = prev as usize;
            let hi = (lo + 1).min(n - 1);
            let g = virt - prev;
            let (a, b) = (v[lo], v[hi]);
            let d = b - a;
            if g >= 0.5 {
                b - d * (1.0 - g)
            } else {
                a + d * g
            }
        })
        .collect();
    Ok(edges)
}

fn check_values(column: &str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(InterpretError::EmptyTable(format!(
            "column `{column}` has no rows"
        )));
    }
    if let Some((row, &v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(InterpretError::NonFinite {
            column: column.into(),
            row,
            value: v,
        });
    }
    Ok(())
}

/// Labels of the bins `[e0,e1)`, `[e1,e2)`, ..., `[e_{k-1},e_k]` (last closed), as
/// `"[a,b)"` with Python float formatting.
pub fn bin_labels(edges: &[f64]) -> Vec<String> {
    (0..edges.len().saturating_sub(1))
        .map(|b| {
            let close = if b + 2 == edges.len() { "]" } else { ")" };
            format!("[{},{}{close}", py_float(edges[b]), py_float(edges[b + 1]))
        })
        .collect()
}

/// Bin index of every value: `searchsorted(inner_edges, v, side="right")`, so values
/// below the first edge fall in bin 0 and above the last in the last bin.
pub fn bin_codes(column: &str, values: &[f64], edges: &[f64]) -> Result<Vec<usize>> {
    check_values(column, values)?;
    if edges.len() < 2
        || edges
            .windows(2)
            .any(|w| w[0].is_nan() || w[1].is_nan() || w[0] >= w[1])
    {
        return Err(invalid(
            "edges",
            format!("{edges:?}"),
            &format!("column `{column}`: need >= 2 strictly increasing edges"),
        ));
    }
    let inner = &edges[1..edges.len() - 1];
    Ok(values
        .iter()
        .map(|&v| inner.partition_point(|&e| e <= v))
        .collect())
}

/// Discretise a numeric column into labelled bins `"{column}=[a,b)"`. `edges = None`
/// uses `k` quantile bins.
pub fn discretise(
    column: &str,
    values: &[f64],
    edges: Option<&[f64]>,
    k: usize,
) -> Result<Vec<String>> {
    let e = match edges {
        Some(e) => e.to_vec(),
        None => quantile_edges(column, values, k)?,
    };
    let labels = bin_labels(&e);
    Ok(bin_codes(column, values, &e)?
        .into_iter()
        .map(|c| format!("{column}={}", labels[c]))
        .collect())
}
