//! Federated statistics: what a station computes on its table (with the small-cell rule) and
//! what the aggregator computes from several stations' answers (pooling, life tables).
//!
//! **Small-cell rule.** Every reported count `n` with `0 < n < k` (`k` = the policy's
//! `min_cell_size`) is suppressed: returned as `null` with a reason (`suppression = "cell"`), or
//! the whole request is refused (`suppression = "refuse"`). Where the cells of one answer add up
//! to a total the requester can know (the groups of a count, the bins of a histogram, the cells of
//! a contingency table), a single suppressed cell would follow by subtraction, so the smallest
//! other non-zero cell is suppressed as well (complementary suppression). Suppression is per
//! answer: differencing *across* requests (e.g. a count by sex and a contingency table sex x
//! label) is not prevented by this rule; use `suppression = "refuse"` and a higher `k`, coarse
//! intervals, or differentially private algorithms where that matters.
//!
//! Only counts, sums and sums of squares leave; never a minimum, maximum, median or any single
//! row's value. Kaplan-Meier inputs are counts per requester-given interval, so exact event
//! times never leave either.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::StationTable;
use crate::policy::{Policy, Refusal, RefusalCode, Suppression};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsError {
    /// The request is malformed (unknown column, bad edges, ...): HTTP 400.
    BadArgs(String),
    /// The policy refuses it: HTTP 403.
    Refused(Refusal),
}

impl std::fmt::Display for StatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatsError::BadArgs(m) => f.write_str(m),
            StatsError::Refused(r) => r.fmt(f),
        }
    }
}

impl std::error::Error for StatsError {}

fn bad(msg: impl Into<String>) -> StatsError {
    StatsError::BadArgs(msg.into())
}

/// A reported count: `null` with a reason when the small-cell rule suppressed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

impl Cell {
    fn exact(count: u64) -> Cell {
        Cell {
            count: Some(count),
            suppressed: None,
        }
    }
}

/// Equality filter on categorical columns: `{"sex": "female", "site": "site_a"}`.
pub type Filter = BTreeMap<String, String>;

/// The rows a filter selects.
pub fn select_rows(table: &StationTable, filter: &Filter) -> Result<Vec<usize>, StatsError> {
    let mut cols = Vec::new();
    for (name, value) in filter {
        let col = table
            .categorical(name)
            .ok_or_else(|| bad(format!("filter: no categorical column `{name}`")))?;
        cols.push((col, value));
    }
    Ok((0..table.n_rows())
        .filter(|&r| {
            cols.iter()
                .all(|(col, v)| col[r].as_deref() == Some(v.as_str()))
        })
        .collect())
}

fn check_cohort(policy: &Policy, rows: usize) -> Result<(), StatsError> {
    if rows < policy.min_cohort_size {
        return Err(StatsError::Refused(Refusal::new(
            RefusalCode::CohortTooSmall,
            format!(
                "the selected cohort has fewer than min_cohort_size = {} cases",
                policy.min_cohort_size
            ),
        )));
    }
    Ok(())
}

/// Applies the small-cell rule to one group of counts that add up to a known total. `labels`
/// name the cells in reasons. Returns the cells, or a refusal in `refuse` mode.
fn suppress(policy: &Policy, counts: &[u64], labels: &[String]) -> Result<Vec<Cell>, StatsError> {
    let k = policy.min_cell_size;
    let small: Vec<usize> = (0..counts.len())
        .filter(|&i| policy.is_small_cell(counts[i]))
        .collect();
    if let Some(&i) = small.first()
        && policy.suppression == Suppression::Refuse
    {
        return Err(StatsError::Refused(Refusal::new(
            RefusalCode::CellTooSmall,
            format!(
                "cell {} has fewer than min_cell_size = {k} cases{}",
                labels[i],
                if small.len() > 1 {
                    format!(" ({} such cells)", small.len())
                } else {
                    String::new()
                }
            ),
        )));
    }
    let mut cells: Vec<Cell> = counts
        .iter()
        .map(|&c| {
            if policy.is_small_cell(c) {
                Cell {
                    count: None,
                    suppressed: Some(format!("fewer than min_cell_size = {k} cases")),
                }
            } else {
                Cell::exact(c)
            }
        })
        .collect();
    if small.len() == 1 {
        let other = (0..counts.len())
            .filter(|&i| i != small[0] && counts[i] > 0)
            .min_by_key(|&i| (counts[i], i));
        if let Some(j) = other {
            cells[j] = Cell {
                count: None,
                suppressed: Some("complementary suppression (another cell is small)".into()),
            };
        }
    }
    Ok(cells)
}

fn numeric<'a>(table: &'a StationTable, name: &str) -> Result<&'a [Option<f64>], StatsError> {
    table
        .numeric(name)
        .ok_or_else(|| bad(format!("no numeric column `{name}`")))
}

fn categorical<'a>(
    table: &'a StationTable,
    name: &str,
) -> Result<&'a [Option<String>], StatsError> {
    table
        .categorical(name)
        .ok_or_else(|| bad(format!("no categorical column `{name}`")))
}

// ---------------------------------------------------------------- count

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountArgs {
    #[serde(default)]
    pub filter: Filter,
    /// A categorical column to count by; rows where it is missing form the `null` group.
    #[serde(default)]
    pub group_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub value: Option<String>,
    pub count: Cell,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountResult {
    pub n: Cell,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
}

/// Number of selected rows, optionally by the levels of a categorical column.
pub fn count(
    table: &StationTable,
    policy: &Policy,
    args: &CountArgs,
) -> Result<CountResult, StatsError> {
    let rows = select_rows(table, &args.filter)?;
    check_cohort(policy, rows.len())?;
    let n = Cell::exact(rows.len() as u64);
    let Some(by) = &args.group_by else {
        return Ok(CountResult {
            n,
            groups: Vec::new(),
        });
    };
    let col = categorical(table, by)?;
    let mut tally: BTreeMap<Option<&str>, u64> = BTreeMap::new();
    for &r in &rows {
        *tally.entry(col[r].as_deref()).or_default() += 1;
    }
    let labels: Vec<String> = tally
        .keys()
        .map(|k| format!("{by}={}", k.unwrap_or("(missing)")))
        .collect();
    let counts: Vec<u64> = tally.values().copied().collect();
    let cells = suppress(policy, &counts, &labels)?;
    Ok(CountResult {
        n,
        groups: tally
            .keys()
            .zip(cells)
            .map(|(k, c)| Group {
                value: k.map(str::to_owned),
                count: c,
            })
            .collect(),
    })
}

// ---------------------------------------------------------------- mean

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanArgs {
    pub column: String,
    #[serde(default)]
    pub filter: Filter,
}

/// Sufficient statistics of a mean and variance: the aggregator pools them exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanResult {
    /// Rows with a value.
    pub n: Cell,
    pub sum: Option<f64>,
    pub sum_sq: Option<f64>,
}

/// `n`, sum and sum of squares of a numeric column over the selected rows (missing skipped).
pub fn mean(
    table: &StationTable,
    policy: &Policy,
    args: &MeanArgs,
) -> Result<MeanResult, StatsError> {
    let col = numeric(table, &args.column)?;
    let rows = select_rows(table, &args.filter)?;
    check_cohort(policy, rows.len())?;
    let values: Vec<f64> = rows.iter().filter_map(|&r| col[r]).collect();
    let n = values.len() as u64;
    let cell = suppress(policy, &[n], &[format!("n({})", args.column)])?
        .pop()
        .unwrap_or(Cell::exact(n));
    if cell.count.is_none() {
        return Ok(MeanResult {
            n: cell,
            sum: None,
            sum_sq: None,
        });
    }
    Ok(MeanResult {
        n: cell,
        sum: Some(values.iter().sum()),
        sum_sq: Some(values.iter().map(|v| v * v).sum()),
    })
}

// ---------------------------------------------------------------- histogram

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramArgs {
    pub column: String,
    /// Strictly increasing bin edges; bins are `[e_i, e_i+1)`, the last one closed.
    pub edges: Vec<f64>,
    #[serde(default)]
    pub filter: Filter,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramResult {
    pub edges: Vec<f64>,
    pub counts: Vec<Cell>,
    /// Values below the first edge and above the last.
    pub below: Cell,
    pub above: Cell,
}

const MAX_BINS: usize = 1000;

fn check_edges(edges: &[f64], what: &str) -> Result<(), StatsError> {
    if edges.len() < 2 || edges.len() > MAX_BINS + 1 {
        return Err(bad(format!(
            "{what}: 2 to {} edges are needed, got {}",
            MAX_BINS + 1,
            edges.len()
        )));
    }
    if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad(format!(
            "{what}: must be finite and strictly increasing"
        )));
    }
    Ok(())
}

/// Counts of a numeric column in requester-given bins.
pub fn histogram(
    table: &StationTable,
    policy: &Policy,
    args: &HistogramArgs,
) -> Result<HistogramResult, StatsError> {
    check_edges(&args.edges, "edges")?;
    let col = numeric(table, &args.column)?;
    let rows = select_rows(table, &args.filter)?;
    check_cohort(policy, rows.len())?;
    let bins = args.edges.len() - 1;
    // counts[0] = below, counts[1..=bins] = bins, counts[bins + 1] = above
    let mut counts = vec![0u64; bins + 2];
    let last = args.edges[bins];
    for v in rows.iter().filter_map(|&r| col[r]) {
        let slot = if v < args.edges[0] {
            0
        } else if v > last {
            bins + 1
        } else if v == last {
            bins
        } else {
            args.edges.partition_point(|&e| e <= v)
        };
        counts[slot] += 1;
    }
    let mut labels = vec![format!("{} < {}", args.column, args.edges[0])];
    labels.extend(
        args.edges
            .windows(2)
            .map(|w| format!("{} in [{}, {})", args.column, w[0], w[1])),
    );
    labels.push(format!("{} > {last}", args.column));
    let mut cells = suppress(policy, &counts, &labels)?;
    let above = cells.pop().unwrap_or(Cell::exact(0));
    let below = cells.remove(0);
    Ok(HistogramResult {
        edges: args.edges.clone(),
        counts: cells,
        below,
        above,
    })
}

// ---------------------------------------------------------------- contingency

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContingencyArgs {
    pub rows: String,
    pub columns: String,
    #[serde(default)]
    pub filter: Filter,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContingencyResult {
    pub row_levels: Vec<String>,
    pub column_levels: Vec<String>,
    /// `cells[i][j]`: rows at level i and columns at level j (rows missing either are left out).
    pub cells: Vec<Vec<Cell>>,
}

/// Cross-tabulation of two categorical columns.
pub fn contingency(
    table: &StationTable,
    policy: &Policy,
    args: &ContingencyArgs,
) -> Result<ContingencyResult, StatsError> {
    let a = categorical(table, &args.rows)?;
    let b = categorical(table, &args.columns)?;
    let rows = select_rows(table, &args.filter)?;
    check_cohort(policy, rows.len())?;
    let mut tally: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut ra: Vec<&str> = Vec::new();
    let mut cb: Vec<&str> = Vec::new();
    for &r in &rows {
        if let (Some(x), Some(y)) = (a[r].as_deref(), b[r].as_deref()) {
            *tally.entry((x, y)).or_default() += 1;
            ra.push(x);
            cb.push(y);
        }
    }
    ra.sort_unstable();
    ra.dedup();
    cb.sort_unstable();
    cb.dedup();
    let mut counts = Vec::new();
    let mut labels = Vec::new();
    for x in &ra {
        for y in &cb {
            counts.push(tally.get(&(*x, *y)).copied().unwrap_or(0));
            labels.push(format!("{}={x}, {}={y}", args.rows, args.columns));
        }
    }
    let flat = suppress(policy, &counts, &labels)?;
    let cells = if cb.is_empty() {
        Vec::new()
    } else {
        flat.chunks(cb.len()).map(<[Cell]>::to_vec).collect()
    };
    Ok(ContingencyResult {
        row_levels: ra.into_iter().map(str::to_owned).collect(),
        column_levels: cb.into_iter().map(str::to_owned).collect(),
        cells,
    })
}

// ---------------------------------------------------------------- Kaplan-Meier inputs

pub(crate) fn default_time() -> String {
    "time".into()
}

pub(crate) fn default_event() -> String {
    "event".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KaplanMeierArgs {
    /// Follow-up time column (any unit; default `time`).
    #[serde(default = "default_time")]
    pub time_column: String,
    /// Event indicator column: 1 = event, 0 = censored (default `event`).
    #[serde(default = "default_event")]
    pub event_column: String,
    /// Interval edges `t_0 < t_1 < ... < t_m`; interval j is `[t_j, t_j+1)`.
    pub edges: Vec<f64>,
    #[serde(default)]
    pub filter: Filter,
}

/// One life-table interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmInterval {
    pub start: f64,
    pub end: f64,
    /// Followed at least until `start`.
    pub at_risk: Cell,
    /// Events with time in `[start, end)`.
    pub events: Cell,
    /// Censored with time in `[start, end)`.
    pub censored: Cell,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KaplanMeierInputs {
    pub intervals: Vec<KmInterval>,
}

/// Life-table inputs per requester-given interval: at risk at the start, events and censored
/// within. In `cell` mode a small count suppresses the interval's events and censored together
/// (and a small at-risk number everything from that interval on), so neither follows from the
/// others. Rows with a missing time or event, or an event value other than 0/1, are left out.
pub fn kaplan_meier_inputs(
    table: &StationTable,
    policy: &Policy,
    args: &KaplanMeierArgs,
) -> Result<KaplanMeierInputs, StatsError> {
    check_edges(&args.edges, "edges")?;
    let time = numeric(table, &args.time_column)?;
    let event = numeric(table, &args.event_column)?;
    let rows = select_rows(table, &args.filter)?;
    check_cohort(policy, rows.len())?;
    let obs: Vec<(f64, bool)> = rows
        .iter()
        .filter_map(|&r| match (time[r], event[r]) {
            (Some(t), Some(e)) if e == 0.0 || e == 1.0 => Some((t, e == 1.0)),
            _ => None,
        })
        .collect();
    let k = policy.min_cell_size;
    let mut out = Vec::new();
    let mut dead_from_here = false;
    for w in args.edges.windows(2) {
        let (s, e) = (w[0], w[1]);
        let at_risk = obs.iter().filter(|(t, _)| *t >= s).count() as u64;
        let events = obs.iter().filter(|(t, d)| *d && *t >= s && *t < e).count() as u64;
        let censored = obs.iter().filter(|(t, d)| !*d && *t >= s && *t < e).count() as u64;
        let small: Vec<&str> = [
            ("at_risk", at_risk),
            ("events", events),
            ("censored", censored),
        ]
        .iter()
        .filter(|(_, c)| policy.is_small_cell(*c))
        .map(|(n, _)| *n)
        .collect();
        if !small.is_empty() && policy.suppression == Suppression::Refuse {
            return Err(StatsError::Refused(Refusal::new(
                RefusalCode::CellTooSmall,
                format!(
                    "interval [{s}, {e}): {} below min_cell_size = {k}; use coarser intervals",
                    small.join(", ")
                ),
            )));
        }
        let hidden = |why: &str| Cell {
            count: None,
            suppressed: Some(why.to_owned()),
        };
        if dead_from_here || policy.is_small_cell(at_risk) {
            dead_from_here = true;
            let why = format!("fewer than min_cell_size = {k} cases at risk");
            out.push(KmInterval {
                start: s,
                end: e,
                at_risk: hidden(&why),
                events: hidden(&why),
                censored: hidden(&why),
            });
        } else if !small.is_empty() {
            let why = format!("{} below min_cell_size = {k}", small.join(", "));
            out.push(KmInterval {
                start: s,
                end: e,
                at_risk: Cell::exact(at_risk),
                events: hidden(&why),
                censored: hidden(&why),
            });
        } else {
            out.push(KmInterval {
                start: s,
                end: e,
                at_risk: Cell::exact(at_risk),
                events: Cell::exact(events),
                censored: Cell::exact(censored),
            });
        }
    }
    Ok(KaplanMeierInputs { intervals: out })
}

// ================================================================ aggregator side

/// A pooled count: the sum of released cells, and how many stations' cells were suppressed
/// (so the true value is at least `count`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PooledCell {
    pub count: u64,
    pub suppressed_stations: usize,
}

impl PooledCell {
    fn add(&mut self, c: &Cell) {
        match c.count {
            Some(n) => self.count += n,
            None => self.suppressed_stations += 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PooledCount {
    pub n: PooledCell,
    pub groups: BTreeMap<String, PooledCell>,
}

/// Label of the missing group in pooled results.
pub const MISSING_LEVEL: &str = "(missing)";

/// Pools count answers of several stations (groups matched by value).
pub fn pool_counts(results: &[CountResult]) -> PooledCount {
    let mut out = PooledCount::default();
    for r in results {
        out.n.add(&r.n);
        for g in &r.groups {
            let key = g.value.clone().unwrap_or_else(|| MISSING_LEVEL.into());
            out.groups.entry(key).or_default().add(&g.count);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PooledMean {
    pub n: u64,
    pub mean: Option<f64>,
    /// Sample variance (n - 1 in the denominator), exact over the pooled rows.
    pub variance: Option<f64>,
    /// Stations whose answer was suppressed (left out).
    pub suppressed_stations: usize,
}

/// Pools mean answers exactly: pooled n, mean and sample variance from n, sum and sum of squares.
pub fn pool_means(results: &[MeanResult]) -> PooledMean {
    let (mut n, mut s, mut ss, mut suppressed) = (0u64, 0.0, 0.0, 0usize);
    for r in results {
        match (r.n.count, r.sum, r.sum_sq) {
            (Some(k), Some(a), Some(b)) => {
                n += k;
                s += a;
                ss += b;
            }
            _ => suppressed += 1,
        }
    }
    let mean = (n > 0).then(|| s / n as f64);
    let variance = (n > 1).then(|| ((ss - s * s / n as f64) / (n - 1) as f64).max(0.0));
    PooledMean {
        n,
        mean,
        variance,
        suppressed_stations: suppressed,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PooledHistogram {
    pub edges: Vec<f64>,
    pub counts: Vec<PooledCell>,
    pub below: PooledCell,
    pub above: PooledCell,
}

/// Pools histograms with identical edges; `None` when the edges differ (or no input).
pub fn pool_histograms(results: &[HistogramResult]) -> Option<PooledHistogram> {
    let first = results.first()?;
    let mut out = PooledHistogram {
        edges: first.edges.clone(),
        counts: vec![PooledCell::default(); first.counts.len()],
        below: PooledCell::default(),
        above: PooledCell::default(),
    };
    for r in results {
        if r.edges != out.edges || r.counts.len() != out.counts.len() {
            return None;
        }
        for (p, c) in out.counts.iter_mut().zip(&r.counts) {
            p.add(c);
        }
        out.below.add(&r.below);
        out.above.add(&r.above);
    }
    Some(out)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PooledContingency {
    pub row_levels: Vec<String>,
    pub column_levels: Vec<String>,
    pub cells: Vec<Vec<PooledCell>>,
}

/// Pools contingency tables over the union of levels (a level absent at a station counts 0).
pub fn pool_contingency(results: &[ContingencyResult]) -> PooledContingency {
    let mut map: BTreeMap<(String, String), PooledCell> = BTreeMap::new();
    let mut rl: Vec<String> = Vec::new();
    let mut cl: Vec<String> = Vec::new();
    for r in results {
        rl.extend(r.row_levels.iter().cloned());
        cl.extend(r.column_levels.iter().cloned());
        for (i, row) in r.cells.iter().enumerate() {
            for (j, c) in row.iter().enumerate() {
                if let (Some(a), Some(b)) = (r.row_levels.get(i), r.column_levels.get(j)) {
                    map.entry((a.clone(), b.clone())).or_default().add(c);
                }
            }
        }
    }
    rl.sort();
    rl.dedup();
    cl.sort();
    cl.dedup();
    let cells = rl
        .iter()
        .map(|a| {
            cl.iter()
                .map(|b| {
                    map.get(&(a.clone(), b.clone()))
                        .cloned()
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    PooledContingency {
        row_levels: rl,
        column_levels: cl,
        cells,
    }
}

/// Pooled life-table inputs of one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PooledInterval {
    pub start: f64,
    pub end: f64,
    pub at_risk: u64,
    pub events: u64,
    pub censored: u64,
    /// Stations whose answer for this interval was suppressed (left out of all three numbers).
    pub suppressed_stations: usize,
}

/// Pools Kaplan-Meier inputs with identical intervals; `None` when they differ (or no input).
/// A station's interval with any suppressed number is left out of that interval entirely.
pub fn pool_kaplan_meier(results: &[KaplanMeierInputs]) -> Option<Vec<PooledInterval>> {
    let first = results.first()?;
    let mut out: Vec<PooledInterval> = first
        .intervals
        .iter()
        .map(|i| PooledInterval {
            start: i.start,
            end: i.end,
            at_risk: 0,
            events: 0,
            censored: 0,
            suppressed_stations: 0,
        })
        .collect();
    for r in results {
        if r.intervals.len() != out.len() {
            return None;
        }
        for (p, i) in out.iter_mut().zip(&r.intervals) {
            if p.start != i.start || p.end != i.end {
                return None;
            }
            match (i.at_risk.count, i.events.count, i.censored.count) {
                (Some(n), Some(d), Some(c)) => {
                    p.at_risk += n;
                    p.events += d;
                    p.censored += c;
                }
                _ => p.suppressed_stations += 1,
            }
        }
    }
    Some(out)
}

/// How a life table treats the censored of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifeTableMethod {
    /// Actuarial (Cutler-Ederer) estimate: the censored are at risk for half the interval,
    /// `n' = n - c/2`, `q = d / n'`.
    Actuarial,
    /// Product-limit: the censored are at risk for the whole interval (`q = d / n`). With one
    /// interval per distinct time this is exactly the Kaplan-Meier estimator.
    ProductLimit,
}

/// One point of a survival curve: `S(end)`, the survival at the end of the interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurvivalPoint {
    pub start: f64,
    pub end: f64,
    /// Conditional probability of an event in the interval, given at risk at its start.
    pub hazard_q: f64,
    pub survival: f64,
    /// Greenwood standard error of `survival`.
    pub std_err: f64,
}

/// The survival curve from pooled interval inputs. Intervals with no one at risk keep the
/// previous survival. Uses the pooled numbers as given; intervals some stations suppressed are
/// biased toward the stations that answered (see `suppressed_stations`).
pub fn survival_curve(intervals: &[PooledInterval], method: LifeTableMethod) -> Vec<SurvivalPoint> {
    let mut s = 1.0f64;
    let mut greenwood = 0.0f64;
    intervals
        .iter()
        .map(|i| {
            let n = match method {
                LifeTableMethod::Actuarial => i.at_risk as f64 - i.censored as f64 / 2.0,
                LifeTableMethod::ProductLimit => i.at_risk as f64,
            };
            let d = i.events as f64;
            let q = if n > 0.0 { (d / n).min(1.0) } else { 0.0 };
            s *= 1.0 - q;
            if n > d && n > 0.0 {
                greenwood += d / (n * (n - d));
            }
            SurvivalPoint {
                start: i.start,
                end: i.end,
                hazard_q: q,
                survival: s,
                std_err: s * greenwood.sqrt(),
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn policy(k: usize, min_cohort: usize, mode: &str) -> Policy {
        Policy::from_toml_str(
            &format!(
                "allowed_algorithms = [\"count\"]\nallowed_outputs = [\"aggregate_statistics\"]\n\
                 min_cohort_size = {min_cohort}\nmin_cell_size = {k}\nsuppression = \"{mode}\"\n"
            ),
            Path::new("test.toml"),
        )
        .unwrap()
    }

    /// 20 rows: sex 12 female / 8 male; label: female 9 benign 3 malignant, male 2 benign 6
    /// malignant; age = 40 + row; site a (rows 0-9) / b.
    fn table() -> StationTable {
        let n = 20;
        let mut t = StationTable::new(n);
        let sex: Vec<Option<String>> = (0..n)
            .map(|i| Some(if i < 12 { "female" } else { "male" }.to_owned()))
            .collect();
        let label: Vec<Option<String>> = (0..n)
            .map(|i| {
                let malignant = if i < 12 { i >= 9 } else { i >= 14 };
                Some(if malignant { "malignant" } else { "benign" }.to_owned())
            })
            .collect();
        let site = (0..n)
            .map(|i| Some(if i < 10 { "a" } else { "b" }.to_owned()))
            .collect();
        t.add_categorical("sex", sex).unwrap();
        t.add_categorical("label", label).unwrap();
        t.add_categorical("site", site).unwrap();
        let age = (0..n)
            .map(|i| if i == 19 { None } else { Some(40.0 + i as f64) })
            .collect();
        t.add_numeric("age", age).unwrap();
        t
    }

    #[test]
    fn count_groups_and_small_cells() {
        let t = table();
        let r = count(&t, &policy(5, 10, "cell"), &CountArgs::default()).unwrap();
        assert_eq!(r.n.count, Some(20));
        let args = CountArgs {
            group_by: Some("sex".into()),
            ..Default::default()
        };
        let r = count(&t, &policy(5, 10, "cell"), &args).unwrap();
        let got: Vec<(Option<String>, Option<u64>)> = r
            .groups
            .iter()
            .map(|g| (g.value.clone(), g.count.count))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("female".into()), Some(12)),
                (Some("male".into()), Some(8))
            ]
        );
        // Males by label: benign 2 (< 5) is suppressed, and malignant 6 with it, since n = 8
        // is known and 8 - 6 would give it away.
        let args = CountArgs {
            group_by: Some("label".into()),
            filter: [("sex".to_owned(), "male".to_owned())].into(),
        };
        let r = count(&t, &policy(5, 8, "cell"), &args).unwrap();
        assert_eq!(r.n.count, Some(8));
        assert_eq!(r.groups[0].count.count, None);
        assert!(
            r.groups[0]
                .count
                .suppressed
                .as_ref()
                .unwrap()
                .contains("min_cell_size = 5")
        );
        assert_eq!(r.groups[1].count.count, None);
        assert!(
            r.groups[1]
                .count
                .suppressed
                .as_ref()
                .unwrap()
                .contains("complementary")
        );
        // refuse mode
        let e = count(&t, &policy(5, 8, "refuse"), &args).unwrap_err();
        match e {
            StatsError::Refused(r) => {
                assert_eq!(r.code, RefusalCode::CellTooSmall);
                assert!(r.reason.contains("label=benign"), "{}", r.reason);
            }
            e => panic!("{e}"),
        }
        // cohort too small after the filter
        let e = count(&t, &policy(5, 10, "cell"), &args).unwrap_err();
        assert!(matches!(e, StatsError::Refused(r) if r.code == RefusalCode::CohortTooSmall));
        // unknown columns are bad requests
        let e = count(
            &t,
            &policy(5, 10, "cell"),
            &CountArgs {
                group_by: Some("age".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(e, StatsError::BadArgs(m) if m.contains("`age`")));
    }

    #[test]
    fn mean_returns_sufficient_statistics_and_pools_exactly() {
        let t = table();
        let p = policy(5, 10, "cell");
        let a = mean(
            &t,
            &p,
            &MeanArgs {
                column: "age".into(),
                filter: [("site".to_owned(), "a".to_owned())].into(),
            },
        )
        .unwrap();
        // ages 40..=49
        assert_eq!(a.n.count, Some(10));
        assert_eq!(a.sum, Some(445.0));
        assert_eq!(a.sum_sq, Some((40..50).map(|x| (x * x) as f64).sum()));
        let b = mean(
            &t,
            &p,
            &MeanArgs {
                column: "age".into(),
                filter: [("site".to_owned(), "b".to_owned())].into(),
            },
        )
        .unwrap();
        assert_eq!(b.n.count, Some(9)); // row 19 missing
        let pooled = pool_means(&[a, b]);
        let all: Vec<f64> = (40..59).map(f64::from).collect();
        let m = all.iter().sum::<f64>() / 19.0;
        let v = all.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 18.0;
        assert_eq!(pooled.n, 19);
        assert!((pooled.mean.unwrap() - m).abs() < 1e-12);
        assert!((pooled.variance.unwrap() - v).abs() < 1e-9);
        // small n: suppressed with sums
        let small = mean(
            &t,
            &policy(11, 11, "cell"),
            &MeanArgs {
                column: "age".into(),
                filter: [("site".to_owned(), "b".to_owned())].into(),
            },
        );
        assert!(small.is_err(), "cohort of 10 < 11");
        let r = mean(
            &t,
            &policy(10, 10, "cell"),
            &MeanArgs {
                column: "age".into(),
                filter: [("site".to_owned(), "b".to_owned())].into(),
            },
        )
        .unwrap();
        assert_eq!((r.n.count, r.sum, r.sum_sq), (None, None, None));
    }

    #[test]
    fn histogram_bins_and_pooling() {
        let t = table();
        let args = HistogramArgs {
            column: "age".into(),
            edges: vec![40.0, 45.0, 50.0, 58.0],
            filter: Filter::new(),
        };
        let r = histogram(&t, &policy(1, 1, "cell"), &args).unwrap();
        // ages 40..=58 (19 values): [40,45) 5, [45,50) 5, [50,58] 9 (58 in the closed last bin)
        let counts: Vec<Option<u64>> = r.counts.iter().map(|c| c.count).collect();
        assert_eq!(counts, vec![Some(5), Some(5), Some(9)]);
        assert_eq!((r.below.count, r.above.count), (Some(0), Some(0)));
        let args2 = HistogramArgs {
            edges: vec![41.0, 45.0, 50.0, 57.0],
            ..args.clone()
        };
        let r2 = histogram(&t, &policy(1, 1, "cell"), &args2).unwrap();
        assert_eq!((r2.below.count, r2.above.count), (Some(1), Some(1)));
        // k = 5: below (1) and above (1) are small; two suppressed, so no complement needed
        let r3 = histogram(&t, &policy(5, 5, "cell"), &args2).unwrap();
        assert_eq!((r3.below.count, r3.above.count), (None, None));
        assert_eq!(r3.counts[0].count, None);
        assert_eq!(r3.counts[1].count, Some(5));
        let pooled = pool_histograms(&[r.clone(), r.clone()]).unwrap();
        assert_eq!(pooled.counts[2].count, 18);
        assert!(pool_histograms(&[r, r2]).is_none(), "different edges");
        let bad = HistogramArgs {
            edges: vec![1.0, 1.0],
            ..args
        };
        assert!(matches!(
            histogram(&t, &policy(1, 1, "cell"), &bad),
            Err(StatsError::BadArgs(_))
        ));
    }

    #[test]
    fn contingency_table_and_pooling() {
        let t = table();
        let args = ContingencyArgs {
            rows: "sex".into(),
            columns: "label".into(),
            filter: Filter::new(),
        };
        let r = contingency(&t, &policy(1, 1, "cell"), &args).unwrap();
        assert_eq!(r.row_levels, vec!["female", "male"]);
        assert_eq!(r.column_levels, vec!["benign", "malignant"]);
        let c: Vec<Vec<Option<u64>>> = r
            .cells
            .iter()
            .map(|row| row.iter().map(|c| c.count).collect())
            .collect();
        assert_eq!(c, vec![vec![Some(9), Some(3)], vec![Some(2), Some(6)]]);
        // k = 3: only male/benign (2) is small; the smallest other cell (female/malignant, 3)
        // is suppressed as its complement.
        let r3 = contingency(&t, &policy(3, 3, "cell"), &args).unwrap();
        assert_eq!(r3.cells[1][0].count, None);
        assert_eq!(r3.cells[0][1].count, None);
        assert_eq!(r3.cells[0][0].count, Some(9));
        let pooled = pool_contingency(&[r.clone(), r3]);
        assert_eq!(pooled.cells[0][0].count, 18);
        assert_eq!(pooled.cells[1][0].count, 2);
        assert_eq!(pooled.cells[1][0].suppressed_stations, 1);
    }

    /// Freireich et al. (1963) 6-MP arm, the Kaplan-Meier textbook example (Kleinbaum & Klein,
    /// Survival Analysis, ch. 2): times in weeks, `+` censored:
    /// 6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+.
    fn freireich() -> StationTable {
        let data: [(f64, f64); 21] = [
            (6., 1.),
            (6., 1.),
            (6., 1.),
            (6., 0.),
            (7., 1.),
            (9., 0.),
            (10., 1.),
            (10., 0.),
            (11., 0.),
            (13., 1.),
            (16., 1.),
            (17., 0.),
            (19., 0.),
            (20., 0.),
            (22., 1.),
            (23., 1.),
            (25., 0.),
            (32., 0.),
            (32., 0.),
            (34., 0.),
            (35., 0.),
        ];
        let mut t = StationTable::new(data.len());
        t.add_numeric("time", data.iter().map(|d| Some(d.0)).collect())
            .unwrap();
        t.add_numeric("event", data.iter().map(|d| Some(d.1)).collect())
            .unwrap();
        t
    }

    #[test]
    fn kaplan_meier_matches_the_textbook() {
        let t = freireich();
        let args = KaplanMeierArgs {
            time_column: "time".into(),
            event_column: "event".into(),
            edges: (0..=36).map(f64::from).collect(),
            filter: Filter::new(),
        };
        let inputs = kaplan_meier_inputs(&t, &policy(1, 1, "cell"), &args).unwrap();
        let iv = &inputs.intervals[6];
        assert_eq!(
            (iv.at_risk.count, iv.events.count, iv.censored.count),
            (Some(21), Some(3), Some(1))
        );
        let pooled = pool_kaplan_meier(&[inputs]).unwrap();
        let curve = survival_curve(&pooled, LifeTableMethod::ProductLimit);
        // Textbook S(t) at the event times 6, 7, 10, 13, 16, 22, 23.
        let expected = [
            (6, 0.857),
            (7, 0.807),
            (10, 0.753),
            (13, 0.690),
            (16, 0.627),
            (22, 0.538),
            (23, 0.448),
        ];
        for (time, s) in expected {
            let got = curve[time].survival;
            assert!((got - s).abs() < 5e-4, "S({time}) = {got}, textbook {s}");
        }
        // Greenwood SE at t = 6: S * sqrt(3 / (21 * 18)) = 0.0764 (textbook 0.076).
        assert!((curve[6].std_err - 0.0764).abs() < 1e-3);
    }

    #[test]
    fn actuarial_life_table_by_hand() {
        // 100 at risk: [0,1) 10 events 20 censored; [1,2) 70 at risk, 7 events, 6 censored.
        let iv = vec![
            PooledInterval {
                start: 0.0,
                end: 1.0,
                at_risk: 100,
                events: 10,
                censored: 20,
                suppressed_stations: 0,
            },
            PooledInterval {
                start: 1.0,
                end: 2.0,
                at_risk: 70,
                events: 7,
                censored: 6,
                suppressed_stations: 0,
            },
        ];
        let c = survival_curve(&iv, LifeTableMethod::Actuarial);
        // n' = 90, q = 1/9, S = 8/9; n' = 67, q = 7/67, S = 8/9 * 60/67
        assert!((c[0].survival - 8.0 / 9.0).abs() < 1e-12);
        assert!((c[1].survival - 8.0 / 9.0 * 60.0 / 67.0).abs() < 1e-12);
    }

    #[test]
    fn kaplan_meier_small_cells() {
        let t = freireich();
        let args = KaplanMeierArgs {
            time_column: "time".into(),
            event_column: "event".into(),
            edges: vec![0.0, 10.0, 20.0, 40.0],
            filter: Filter::new(),
        };
        // [0,10): 21 at risk, 4 events, 2 censored; [10,20): 15, 3, 4; [20,40): 8, 2, 6
        let r = kaplan_meier_inputs(&t, &policy(1, 1, "cell"), &args).unwrap();
        let nums: Vec<(Option<u64>, Option<u64>, Option<u64>)> = r
            .intervals
            .iter()
            .map(|i| (i.at_risk.count, i.events.count, i.censored.count))
            .collect();
        assert_eq!(
            nums,
            vec![
                (Some(21), Some(4), Some(2)),
                (Some(15), Some(3), Some(4)),
                (Some(8), Some(2), Some(6))
            ]
        );
        let r = kaplan_meier_inputs(&t, &policy(3, 3, "cell"), &args).unwrap();
        assert_eq!(r.intervals[0].events.count, None);
        assert_eq!(r.intervals[0].censored.count, None);
        assert_eq!(r.intervals[1].events.count, Some(3));
        assert_eq!(r.intervals[2].at_risk.count, Some(8));
        assert_eq!(r.intervals[2].events.count, None);
        let r = kaplan_meier_inputs(&t, &policy(10, 10, "cell"), &args).unwrap();
        assert_eq!(r.intervals[2].at_risk.count, None);
        assert!(matches!(
            kaplan_meier_inputs(&t, &policy(3, 3, "refuse"), &args),
            Err(StatsError::Refused(r)) if r.code == RefusalCode::CellTooSmall
        ));
    }
}
