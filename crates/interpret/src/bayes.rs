//! Discrete Bayesian networks: BIC hill climbing, ML / BDeu parameters, exact inference.
//!
//! A small network over discretised findings answers questions such as
//! `P(diagnosis = malignant | concave_points = high, texture = mid)` with every number
//! traceable to counts in the training table, which is why it is offered as a global
//! surrogate. The score, search and estimators follow pgmpy (`BIC`, `HillClimbSearch`,
//! `MaximumLikelihoodEstimator` / `BayesianEstimator(prior_type="BDeu")`,
//! `VariableElimination`) so results can be checked against it:
//!
//! * BIC (natural log): `sum_{j,k} N_jk ln(N_jk / N_j) - 0.5 ln(N) q (r - 1)`, with `q` the
//!   number of parent configurations (all state combinations, observed or not);
//! * hill climbing from a start graph: at each step the best of all legal single-edge
//!   additions, removals and reversals (acyclic, not tabu, within `max_indegree`, not
//!   forbidden, required edges kept) is applied while it improves the score by at least
//!   `epsilon`; the last `tabu_length` reverse moves are tabu. Candidates are tried as
//!   additions in (from, to) index order, then removals, then reversals, the first best
//!   wins (pgmpy iterates additions in Python `set` order, so exact ties — e.g. `A -> B`
//!   versus `B -> A` from an empty graph, which BIC scores equally — may be oriented
//!   differently; the two results are then Markov equivalent with the same score).
//!
//! States of a variable are sorted by name, as pgmpy does.

use std::collections::{HashMap, VecDeque};

use crate::error::{InterpretError, Result, invalid};
use crate::numpy_pairwise_sum;

/// A table of discrete variables (codes into sorted state names).
#[derive(Debug, Clone)]
pub struct DiscreteData {
    names: Vec<String>,
    states: Vec<Vec<String>>,
    codes: Vec<Vec<usize>>,
    n: usize,
}

impl DiscreteData {
    /// From string columns. Empty strings are rejected as missing values.
    pub fn from_columns(names: &[String], columns: &[Vec<String>]) -> Result<Self> {
        if columns.is_empty() {
            return Err(InterpretError::EmptyTable("no variables".into()));
        }
        if names.len() != columns.len() {
            return Err(invalid(
                "names",
                names.len(),
                &format!("need one per column ({})", columns.len()),
            ));
        }
        let n = columns[0].len();
        if n == 0 {
            return Err(InterpretError::EmptyTable("no rows".into()));
        }
        let mut states = Vec::new();
        let mut codes = Vec::new();
        for (name, col) in names.iter().zip(columns) {
            if col.len() != n {
                return Err(InterpretError::RaggedColumn {
                    column: name.clone(),
                    got: col.len(),
                    expected: n,
                });
            }
            if let Some(row) = col
                .iter()
                .position(|v| v.is_empty() || v.eq_ignore_ascii_case("nan"))
            {
                return Err(InterpretError::NonFinite {
                    column: name.clone(),
                    row,
                    value: f64::NAN,
                });
            }
            let mut s: Vec<String> = col.clone();
            s.sort();
            s.dedup();
            codes.push(
                col.iter()
                    .map(|v| s.binary_search(v).unwrap_or(0))
                    .collect(),
            );
            states.push(s);
        }
        Ok(Self {
            names: names.to_vec(),
            states,
            codes,
            n,
        })
    }

    /// Variable names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Sorted state names of variable `v`.
    pub fn states(&self, v: usize) -> &[String] {
        &self.states[v]
    }
    /// State code of variable `v` in row `row`.
    pub fn code(&self, v: usize, row: usize) -> usize {
        self.codes[v][row]
    }
    /// Index of a variable by name.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| InterpretError::Unknown {
                kind: "variable".into(),
                name: name.into(),
            })
    }

    /// Counts `N[cfg][state]` of `var` given `parents` (first parent most significant).
    fn counts(&self, var: usize, parents: &[usize]) -> (Vec<f64>, usize, usize) {
        let r = self.states[var].len();
        let q: usize = parents.iter().map(|&p| self.states[p].len()).product();
        let mut c = vec![0.0; q * r];
        for row in 0..self.n {
            let mut cfg = 0;
            for &p in parents {
                cfg = cfg * self.states[p].len() + self.codes[p][row];
            }
            c[cfg * r + self.codes[var][row]] += 1.0;
        }
        (c, q, r)
    }

    /// pgmpy's local BIC score of `var` with `parents`.
    ///
    /// The log-likelihood terms are summed in pgmpy's memory order (state-major over the
    /// observed parent configurations) with numpy's pairwise summation, so the score is
    /// the same double: hill climbing compares near-equal deltas (e.g. `A -> B` against
    /// `B -> A`), and the last bit decides which one pgmpy takes.
    pub fn local_bic(&self, var: usize, parents: &[usize]) -> f64 {
        let (c, q, r) = self.counts(var, parents);
        let observed: Vec<usize> = (0..q)
            .filter(|&j| c[j * r..(j + 1) * r].iter().any(|&x| x > 0.0))
            .collect();
        let lnj: Vec<f64> = observed
            .iter()
            .map(|&j| c[j * r..(j + 1) * r].iter().sum::<f64>().ln())
            .collect();
        let mut terms = Vec::with_capacity(r * observed.len());
        for k in 0..r {
            for (o, &j) in observed.iter().enumerate() {
                let x = c[j * r + k];
                terms.push(if x > 0.0 { (x.ln() - lnj[o]) * x } else { 0.0 });
            }
        }
        let ll = 0.0 + numpy_pairwise_sum(&terms);
        ll - 0.5 * (self.n as f64).ln() * q as f64 * (r as f64 - 1.0)
    }

    /// Total BIC score of a DAG.
    pub fn bic(&self, dag: &Dag) -> f64 {
        (0..self.names.len())
            .map(|v| self.local_bic(v, &dag.parents[v]))
            .sum()
    }
}

/// A directed graph over variable indices, kept acyclic by its mutators.
#[derive(Debug, Clone, PartialEq)]
pub struct Dag {
    parents: Vec<Vec<usize>>,
}

impl Dag {
    /// `n` nodes, no edges.
    pub fn empty(n: usize) -> Self {
        Self {
            parents: vec![Vec::new(); n],
        }
    }

    /// From (parent, child) edges; fails on a cycle or an out-of-range node.
    pub fn from_edges(n: usize, edges: &[(usize, usize)]) -> Result<Self> {
        let mut d = Self::empty(n);
        for &(a, b) in edges {
            if a >= n || b >= n || a == b {
                return Err(invalid(
                    "edge",
                    format!("({a}, {b})"),
                    &format!("nodes must differ and be < {n}"),
                ));
            }
            if d.has_path(b, a) {
                return Err(InterpretError::Cycle(format!("{a} -> {b}")));
            }
            if !d.parents[b].contains(&a) {
                d.parents[b].push(a);
            }
        }
        Ok(d)
    }

    /// From named edges.
    pub fn from_named_edges(data: &DiscreteData, edges: &[(&str, &str)]) -> Result<Self> {
        let e: Result<Vec<(usize, usize)>> = edges
            .iter()
            .map(|(a, b)| Ok((data.index(a)?, data.index(b)?)))
            .collect();
        Self::from_edges(data.names.len(), &e?)
    }

    /// Parents of node `v` (insertion order).
    pub fn parents(&self, v: usize) -> &[usize] {
        &self.parents[v]
    }

    /// All edges (parent, child), sorted.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let mut e: Vec<(usize, usize)> = self
            .parents
            .iter()
            .enumerate()
            .flat_map(|(c, ps)| ps.iter().map(move |&p| (p, c)))
            .collect();
        e.sort_unstable();
        e
    }

    fn has_edge(&self, a: usize, b: usize) -> bool {
        self.parents[b].contains(&a)
    }

    /// Is there a directed path `from -> ... -> to` (length >= 0)?
    pub fn has_path(&self, from: usize, to: usize) -> bool {
        self.has_path_skipping(from, to, None)
    }

    fn has_path_skipping(&self, from: usize, to: usize, skip: Option<(usize, usize)>) -> bool {
        // children lists on the fly
        let n = self.parents.len();
        let mut seen = vec![false; n];
        let mut stack = vec![from];
        while let Some(u) = stack.pop() {
            if u == to {
                return true;
            }
            if seen[u] {
                continue;
            }
            seen[u] = true;
            for (c, ps) in self.parents.iter().enumerate() {
                if ps.contains(&u) && Some((u, c)) != skip && !seen[c] {
                    stack.push(c);
                }
            }
        }
        false
    }

    /// Graphviz DOT with variable names.
    pub fn to_dot(&self, names: &[String]) -> String {
        let mut s = String::from("digraph BN {\n");
        for name in names {
            s.push_str(&format!("  \"{name}\";\n"));
        }
        for (a, b) in self.edges() {
            s.push_str(&format!("  \"{}\" -> \"{}\";\n", names[a], names[b]));
        }
        s.push('}');
        s
    }
}

/// Hill-climbing options (pgmpy's defaults).
#[derive(Debug, Clone)]
pub struct HillClimbOptions {
    pub start: Option<Dag>,
    pub tabu_length: usize,
    pub max_indegree: Option<usize>,
    /// Edges that may never be added (pgmpy's forbidden edges / black list).
    pub forbidden: Vec<(usize, usize)>,
    /// Edges added to the start graph and never removed or reversed.
    pub required: Vec<(usize, usize)>,
    pub epsilon: f64,
    pub max_iter: usize,
}

impl Default for HillClimbOptions {
    fn default() -> Self {
        Self {
            start: None,
            tabu_length: 100,
            max_indegree: None,
            forbidden: Vec::new(),
            required: Vec::new(),
            epsilon: 1e-4,
            max_iter: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add(usize, usize),
    Remove(usize, usize),
    Flip(usize, usize),
}

/// Greedy BIC structure search; see the module docs for the move set and tie rule.
pub fn hill_climb(data: &DiscreteData, opts: &HillClimbOptions) -> Result<Dag> {
    let n = data.names.len();
    let mut dag = opts.start.clone().unwrap_or_else(|| Dag::empty(n));
    if dag.parents.len() != n {
        return Err(invalid(
            "start",
            dag.parents.len(),
            &format!("start DAG needs {n} nodes"),
        ));
    }
    for &(a, b) in &opts.required {
        if a >= n || b >= n || a == b {
            return Err(invalid("required", format!("({a}, {b})"), "bad edge"));
        }
        if !dag.has_edge(a, b) {
            if dag.has_path(b, a) {
                return Err(InterpretError::Cycle(format!("required edge {a} -> {b}")));
            }
            dag.parents[b].push(a);
        }
    }
    for &(a, b) in &opts.forbidden {
        if b < n {
            dag.parents[b].retain(|&p| p != a);
        }
    }
    let max_in = opts.max_indegree.unwrap_or(usize::MAX);
    let mut cache: HashMap<(usize, Vec<usize>), f64> = HashMap::new();
    let mut score = |v: usize, ps: &[usize]| -> f64 {
        let mut key = ps.to_vec();
        key.sort_unstable();
        *cache
            .entry((v, key))
            .or_insert_with(|| data.local_bic(v, ps))
    };
    let mut tabu: VecDeque<Op> = VecDeque::new();
    for _ in 0..opts.max_iter {
        let mut best: Option<(Op, f64)> = None;
        let mut consider = |op: Op, d: f64| {
            if best.is_none_or(|(_, b)| d > b) {
                best = Some((op, d));
            }
        };
        for x in 0..n {
            for y in 0..n {
                if x == y || dag.has_edge(x, y) || dag.has_edge(y, x) || dag.has_path(y, x) {
                    continue;
                }
                let op = Op::Add(x, y);
                if tabu.contains(&op) || opts.forbidden.contains(&(x, y)) {
                    continue;
                }
                let old = dag.parents[y].clone();
                let mut new = old.clone();
                new.push(x);
                if new.len() <= max_in {
                    let d = score(y, &new) - score(y, &old);
                    consider(op, d);
                }
            }
        }
        for (x, y) in dag.edges() {
            let op = Op::Remove(x, y);
            if tabu.contains(&op) || opts.required.contains(&(x, y)) {
                continue;
            }
            let old = dag.parents[y].clone();
            let new: Vec<usize> = old.iter().copied().filter(|&p| p != x).collect();
            let d = score(y, &new) - score(y, &old);
            consider(op, d);
        }
        for (x, y) in dag.edges() {
            if dag.has_path_skipping(x, y, Some((x, y))) {
                continue;
            }
            let op = Op::Flip(x, y);
            if tabu.contains(&op)
                || tabu.contains(&Op::Flip(y, x))
                || opts.required.contains(&(x, y))
                || opts.forbidden.contains(&(y, x))
            {
                continue;
            }
            let old_x = dag.parents[x].clone();
            let old_y = dag.parents[y].clone();
            let mut new_x = old_x.clone();
            new_x.push(y);
            let new_y: Vec<usize> = old_y.iter().copied().filter(|&p| p != x).collect();
            if new_x.len() <= max_in {
                let d = score(x, &new_x) + score(y, &new_y) - score(x, &old_x) - score(y, &old_y);
                consider(op, d);
            }
        }
        let Some((op, delta)) = best else { break };
        if delta < opts.epsilon {
            break;
        }
        let reverse = match op {
            Op::Add(x, y) => {
                dag.parents[y].push(x);
                Op::Remove(x, y)
            }
            Op::Remove(x, y) => {
                dag.parents[y].retain(|&p| p != x);
                Op::Add(x, y)
            }
            Op::Flip(x, y) => {
                dag.parents[y].retain(|&p| p != x);
                dag.parents[x].push(y);
                op
            }
        };
        if opts.tabu_length > 0 {
            if tabu.len() == opts.tabu_length {
                tabu.pop_front();
            }
            tabu.push_back(reverse);
        }
    }
    Ok(dag)
}

/// How conditional probability tables are estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Estimator {
    /// Relative frequencies; parent configurations never observed get a uniform row.
    MaximumLikelihood,
    /// BDeu prior: pseudo-count `ess / (r q)` in every cell.
    BDeu { equivalent_sample_size: f64 },
    /// The same pseudo-count in every cell.
    Dirichlet { pseudo_count: f64 },
}

/// `P(var | parents)`: `table[cfg * r + state]`, configurations in mixed radix with the
/// first parent most significant.
#[derive(Debug, Clone)]
pub struct Cpd {
    pub var: usize,
    pub parents: Vec<usize>,
    pub table: Vec<f64>,
}

/// A DAG with fitted CPDs.
#[derive(Debug, Clone)]
pub struct BayesNet {
    names: Vec<String>,
    states: Vec<Vec<String>>,
    dag: Dag,
    cpds: Vec<Cpd>,
}

impl BayesNet {
    /// Estimate CPDs of `dag` from `data`.
    pub fn fit(data: &DiscreteData, dag: &Dag, est: Estimator) -> Result<Self> {
        if dag.parents.len() != data.names.len() {
            return Err(invalid(
                "dag",
                dag.parents.len(),
                &format!("need {} nodes", data.names.len()),
            ));
        }
        let mut cpds = Vec::new();
        for v in 0..data.names.len() {
            let ps = dag.parents[v].clone();
            let (c, q, r) = data.counts(v, &ps);
            let pseudo = match est {
                Estimator::MaximumLikelihood => 0.0,
                Estimator::BDeu {
                    equivalent_sample_size: e,
                } => {
                    if e.is_nan() || e <= 0.0 {
                        return Err(invalid("equivalent_sample_size", e, "must be > 0"));
                    }
                    e / (r * q) as f64
                }
                Estimator::Dirichlet { pseudo_count: a } => {
                    if a.is_nan() || a < 0.0 {
                        return Err(invalid("pseudo_count", a, "must be >= 0"));
                    }
                    a
                }
            };
            let mut table = vec![0.0; q * r];
            for j in 0..q {
                let row: Vec<f64> = c[j * r..(j + 1) * r].iter().map(|x| x + pseudo).collect();
                let s: f64 = row.iter().sum();
                for k in 0..r {
                    table[j * r + k] = if s > 0.0 { row[k] / s } else { 1.0 / r as f64 };
                }
            }
            cpds.push(Cpd {
                var: v,
                parents: ps,
                table,
            });
        }
        Ok(Self {
            names: data.names.clone(),
            states: data.states.clone(),
            dag: dag.clone(),
            cpds,
        })
    }

    /// CPD of variable `v`.
    pub fn cpd(&self, v: usize) -> &Cpd {
        &self.cpds[v]
    }
    /// The structure.
    pub fn dag(&self) -> &Dag {
        &self.dag
    }
    /// Variable names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// State names of variable `v`.
    pub fn states(&self, v: usize) -> &[String] {
        &self.states[v]
    }

    fn var(&self, name: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| InterpretError::Unknown {
                kind: "variable".into(),
                name: name.into(),
            })
    }

    /// `P(var | evidence)` by variable elimination (greedy min-size order). Returns
    /// `(state, probability)` pairs in state order.
    pub fn query(&self, var: &str, evidence: &[(&str, &str)]) -> Result<Vec<(String, f64)>> {
        let q = self.var(var)?;
        let mut ev: Vec<Option<usize>> = vec![None; self.names.len()];
        for (name, state) in evidence {
            let v = self.var(name)?;
            let s = self.states[v]
                .iter()
                .position(|x| x == state)
                .ok_or_else(|| InterpretError::Unknown {
                    kind: format!("state of `{name}`"),
                    name: (*state).into(),
                })?;
            ev[v] = Some(s);
        }
        if let Some(s) = ev[q] {
            // the query variable is observed
            return Ok(self.states[q]
                .iter()
                .enumerate()
                .map(|(k, n)| (n.clone(), if k == s { 1.0 } else { 0.0 }))
                .collect());
        }
        let cards: Vec<usize> = self.states.iter().map(|s| s.len()).collect();
        let mut factors: Vec<Factor> = self
            .cpds
            .iter()
            .map(|c| {
                let mut vars = c.parents.clone();
                vars.push(c.var);
                Factor::new(vars, &cards, c.table.clone()).reduce(&ev, &cards)
            })
            .collect();
        let mut to_eliminate: Vec<usize> = (0..self.names.len())
            .filter(|&v| v != q && ev[v].is_none())
            .collect();
        while !to_eliminate.is_empty() {
            // pick the variable whose elimination creates the smallest factor
            let (pos, _) = to_eliminate
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let mut scope: Vec<usize> = factors
                        .iter()
                        .filter(|f| f.vars.contains(&v))
                        .flat_map(|f| f.vars.clone())
                        .collect();
                    scope.sort_unstable();
                    scope.dedup();
                    (i, scope.iter().map(|&u| cards[u]).product::<usize>())
                })
                .min_by_key(|&(i, size)| (size, i))
                .unwrap_or((0, 0));
            let v = to_eliminate.remove(pos);
            let (with, without): (Vec<Factor>, Vec<Factor>) =
                factors.into_iter().partition(|f| f.vars.contains(&v));
            factors = without;
            let prod = with
                .into_iter()
                .fold(Factor::unit(), |a, b| a.product(&b, &cards));
            factors.push(prod.sum_out(v, &cards));
        }
        let joint = factors
            .into_iter()
            .fold(Factor::unit(), |a, b| a.product(&b, &cards));
        // joint is over [q] (or a scalar if q was disconnected from everything: impossible,
        // q's own CPD always contains q)
        let total: f64 = joint.values.iter().sum();
        if total.is_nan() || total <= 0.0 {
            let ev_text: Vec<String> = evidence.iter().map(|(a, b)| format!("{a}={b}")).collect();
            return Err(InterpretError::ImpossibleEvidence(ev_text.join(", ")));
        }
        Ok(self.states[q]
            .iter()
            .cloned()
            .zip(joint.values.iter().map(|x| x / total))
            .collect())
    }

    /// DOT export of the structure.
    pub fn to_dot(&self) -> String {
        self.dag.to_dot(&self.names)
    }
}

/// A table over `vars` (first most significant).
#[derive(Debug, Clone)]
struct Factor {
    vars: Vec<usize>,
    values: Vec<f64>,
}

impl Factor {
    fn new(vars: Vec<usize>, _cards: &[usize], values: Vec<f64>) -> Self {
        Self { vars, values }
    }
    fn unit() -> Self {
        Self {
            vars: Vec::new(),
            values: vec![1.0],
        }
    }
    fn strides(vars: &[usize], cards: &[usize]) -> Vec<usize> {
        let mut s = vec![0; vars.len()];
        let mut acc = 1;
        for i in (0..vars.len()).rev() {
            s[i] = acc;
            acc *= cards[vars[i]];
        }
        s
    }
    /// Fix observed variables and drop them from the scope.
    fn reduce(self, ev: &[Option<usize>], cards: &[usize]) -> Self {
        if self.vars.iter().all(|&v| ev[v].is_none()) {
            return self;
        }
        let keep: Vec<usize> = self
            .vars
            .iter()
            .copied()
            .filter(|&v| ev[v].is_none())
            .collect();
        let old_strides = Self::strides(&self.vars, cards);
        let size: usize = keep.iter().map(|&v| cards[v]).product();
        let mut values = vec![0.0; size];
        for (idx, val) in values.iter_mut().enumerate() {
            // decode idx over keep
            let mut rem = idx;
            let mut assign = HashMap::new();
            for &v in keep.iter().rev() {
                assign.insert(v, rem % cards[v]);
                rem /= cards[v];
            }
            let mut off = 0;
            for (i, &v) in self.vars.iter().enumerate() {
                let s = ev[v].unwrap_or_else(|| assign[&v]);
                off += s * old_strides[i];
            }
            *val = self.values[off];
        }
        Self { vars: keep, values }
    }
    fn product(&self, other: &Factor, cards: &[usize]) -> Factor {
        let mut vars = self.vars.clone();
        for &v in &other.vars {
            if !vars.contains(&v) {
                vars.push(v);
            }
        }
        let size: usize = vars.iter().map(|&v| cards[v]).product();
        let sa = Self::strides(&self.vars, cards);
        let sb = Self::strides(&other.vars, cards);
        let mut values = vec![0.0; size];
        let mut assign = vec![0usize; vars.len()];
        for val in values.iter_mut() {
            let mut ia = 0;
            let mut ib = 0;
            for (k, &v) in vars.iter().enumerate() {
                if let Some(p) = self.vars.iter().position(|&u| u == v) {
                    ia += assign[k] * sa[p];
                }
                if let Some(p) = other.vars.iter().position(|&u| u == v) {
                    ib += assign[k] * sb[p];
                }
            }
            *val = self.values[ia] * other.values[ib];
            // increment mixed-radix counter (last fastest)
            for k in (0..vars.len()).rev() {
                assign[k] += 1;
                if assign[k] < cards[vars[k]] {
                    break;
                }
                assign[k] = 0;
            }
        }
        Factor { vars, values }
    }
    fn sum_out(&self, v: usize, cards: &[usize]) -> Factor {
        let Some(pos) = self.vars.iter().position(|&u| u == v) else {
            return self.clone();
        };
        let strides = Self::strides(&self.vars, cards);
        let keep: Vec<usize> = self.vars.iter().copied().filter(|&u| u != v).collect();
        let ks = Self::strides(&keep, cards);
        let mut values = vec![0.0; keep.iter().map(|&u| cards[u]).product()];
        for (off, &x) in self.values.iter().enumerate() {
            let mut idx = 0;
            let mut j = 0;
            for (i, &u) in self.vars.iter().enumerate() {
                let a = (off / strides[i]) % cards[u];
                if i != pos {
                    idx += a * ks[j];
                    j += 1;
                }
            }
            values[idx] += x;
        }
        Factor { vars: keep, values }
    }
}
