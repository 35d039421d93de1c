//! Radiogenomics: which image features go with which genes, with statistics a reader can check.
//!
//! Every radiomic feature is tested against every gene with a correlation over the patients who
//! have both, optionally adjusted for the site (a partial correlation given site indicators:
//! each site's mean removed from both variables), so that a scanner's intensity offset and an
//! expression batch of the same hospital cannot pass for biology. Spearman (on ranks, robust
//! to the skew of volumes and expression) or Pearson. The p-values of all pairs are adjusted
//! together by Benjamini-Hochberg (false-discovery rate). Numbers equal pingouin's
//! `partial_corr` (with the site indicators as covariates), scipy's `pearsonr`/`spearmanr`
//! (without) and statsmodels' `fdr_bh` (`fixtures/radiogenomics/`).
//!
//! ```
//! use oncolens_radiogenomics::{Method, Variable, associate};
//!
//! let size = Variable::new("morph_volume", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! let mki67 = Variable::new("MKI67", vec![2.1, 2.0, 3.5, 3.9, 5.2, 5.0]);
//! let gapdh = Variable::new("GAPDH", vec![7.0, 6.0, 7.5, 6.2, 7.1, 6.6]);
//! let table = associate(&[size], &[mki67, gapdh], None, Method::Spearman)?;
//! assert_eq!(table[0].gene, "MKI67"); // sorted by p-value
//! assert!(table[0].r > 0.85); // Spearman 0.886
//! # Ok::<(), oncolens_radiogenomics::RadiogenomicsError>(())
//! ```

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RadiogenomicsError {
    #[error("{name}: {found} values for {expected} patients")]
    Length {
        name: String,
        expected: usize,
        found: usize,
    },
    #[error("no feature or no gene to test")]
    Empty,
}

/// One variable (a radiomic feature or a gene) over the patients, in one shared order; NaN =
/// missing (the pair's test leaves that patient out).
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub values: Vec<f64>,
}

impl Variable {
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            values,
        }
    }
}

/// Correlation on values or on ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Pearson,
    /// Pearson on average ranks (ties share their mean rank), as scipy's `spearmanr`.
    Spearman,
}

/// One feature-gene test.
#[derive(Debug, Clone, Serialize)]
pub struct Association {
    pub feature: String,
    pub gene: String,
    /// Patients with both values.
    pub n: usize,
    /// (Partial) correlation coefficient.
    pub r: f64,
    /// Degrees of freedom of the t test: `n - 2 - (sites - 1)`.
    pub df: usize,
    /// Two-sided p-value.
    pub p: f64,
    /// Benjamini-Hochberg adjusted p-value over every pair tested.
    pub q: f64,
}

/// Average ranks (1-based), ties sharing the mean of their positions.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut k = 0;
    while k < order.len() {
        let mut end = k + 1;
        while end < order.len() && values[order[end]] == values[order[k]] {
            end += 1;
        }
        let mean_rank = (k + end + 1) as f64 / 2.0;
        for &i in &order[k..end] {
            out[i] = mean_rank;
        }
        k = end;
    }
    out
}

/// Residuals of `v` after each group's mean (the least-squares fit on group indicators).
fn centre_within(v: &mut [f64], group: &[usize], groups: usize) {
    let mut sum = vec![0.0; groups];
    let mut count = vec![0usize; groups];
    for (x, &g) in v.iter().zip(group) {
        sum[g] += x;
        count[g] += 1;
    }
    for (x, &g) in v.iter_mut().zip(group) {
        *x -= sum[g] / count[g] as f64;
    }
}

/// One pair's test, or `None` when too few patients remain for a test (df < 1) or a variable
/// is constant among them.
fn test_pair(
    x: &[f64],
    y: &[f64],
    site: Option<&[usize]>,
    method: Method,
) -> Option<(usize, f64, usize, f64)> {
    let keep: Vec<usize> = (0..x.len())
        .filter(|&i| x[i].is_finite() && y[i].is_finite())
        .collect();
    let n = keep.len();
    let pick = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let (mut a, mut b) = (pick(x), pick(y));
    if method == Method::Spearman {
        a = ranks(&a);
        b = ranks(&b);
    }
    // Site indicators present among these patients (renumbered densely).
    let (groups, group) = match site {
        Some(s) => {
            let mut labels: Vec<usize> = keep.iter().map(|&i| s[i]).collect();
            let mut distinct = labels.clone();
            distinct.sort_unstable();
            distinct.dedup();
            for l in &mut labels {
                *l = distinct.iter().position(|d| d == l).unwrap_or(0);
            }
            (distinct.len(), labels)
        }
        None => (1, vec![0; n]),
    };
    centre_within(&mut a, &group, groups);
    centre_within(&mut b, &group, groups);
    let df = n.checked_sub(1 + groups)?;
    if df == 0 {
        return None;
    }
    let (sab, saa, sbb) = a.iter().zip(&b).fold((0.0, 0.0, 0.0), |(s, p, q), (u, v)| {
        (s + u * v, p + u * u, q + v * v)
    });
    if saa <= 0.0 || sbb <= 0.0 {
        return None;
    }
    let r = (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0);
    let p = if r.abs() >= 1.0 {
        0.0
    } else {
        let t = r * (df as f64 / (1.0 - r * r)).sqrt();
        let dist = StudentsT::new(0.0, 1.0, df as f64).ok()?;
        2.0 * dist.cdf(-t.abs())
    };
    Some((n, r, df, p))
}

/// Benjamini-Hochberg adjusted p-values (statsmodels' `fdr_bh`), in the input's order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for (k, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (k + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// Tests every feature against every gene. `site[i]` is patient `i`'s site index (adjusts
/// for site when given). Pairs without a test (constant, too few patients) are left out.
/// Sorted by p-value, then feature and gene name.
pub fn associate(
    features: &[Variable],
    genes: &[Variable],
    site: Option<&[usize]>,
    method: Method,
) -> Result<Vec<Association>, RadiogenomicsError> {
    let (Some(first), false) = (features.first(), genes.is_empty()) else {
        return Err(RadiogenomicsError::Empty);
    };
    let n = first.values.len();
    for v in features.iter().chain(genes) {
        if v.values.len() != n {
            return Err(RadiogenomicsError::Length {
                name: v.name.clone(),
                expected: n,
                found: v.values.len(),
            });
        }
    }
    if let Some(s) = site
        && s.len() != n
    {
        return Err(RadiogenomicsError::Length {
            name: "site".into(),
            expected: n,
            found: s.len(),
        });
    }
    let mut out = Vec::new();
    for f in features {
        for g in genes {
            if let Some((n, r, df, p)) = test_pair(&f.values, &g.values, site, method) {
                out.push(Association {
                    feature: f.name.clone(),
                    gene: g.name.clone(),
                    n,
                    r,
                    df,
                    p,
                    q: f64::NAN,
                });
            }
        }
    }
    let p: Vec<f64> = out.iter().map(|a| a.p).collect();
    for (a, q) in out.iter_mut().zip(benjamini_hochberg(&p)) {
        a.q = q;
    }
    out.sort_by(|a, b| {
        a.p.total_cmp(&b.p)
            .then_with(|| a.feature.cmp(&b.feature))
            .then_with(|| a.gene.cmp(&b.gene))
    });
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranks_share_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn bh_is_monotone_and_capped() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
        // sorted p 0.01 0.03 0.04 0.5 -> 0.04 0.0533 0.0533 0.5
        assert!((q[0] - 0.04).abs() < 1e-12);
        assert!((q[1] - 0.16 / 3.0).abs() < 1e-12 && (q[2] - 0.16 / 3.0).abs() < 1e-12);
        assert_eq!(q[3], 0.5);
    }

    /// A site offset shared by a feature and a gene is no association once sites are
    /// adjusted for; unadjusted it looks like one.
    #[test]
    fn a_shared_site_offset_is_not_an_association_after_adjustment() {
        let n = 60;
        let site: Vec<usize> = (0..n).map(|i| i % 3).collect();
        // Two unrelated deterministic noise sequences (periods 17 and 23).
        let feature: Vec<f64> = (0..n)
            .map(|i| 5.0 * site[i] as f64 + ((i * 37) % 17) as f64 / 17.0)
            .collect();
        let gene: Vec<f64> = (0..n)
            .map(|i| 3.0 * site[i] as f64 + ((i * 53 + 7) % 23) as f64 / 23.0)
            .collect();
        let f = [Variable::new("f", feature)];
        let g = [Variable::new("g", gene)];
        let raw = associate(&f, &g, None, Method::Pearson).unwrap();
        let adjusted = associate(&f, &g, Some(&site), Method::Pearson).unwrap();
        assert!(raw[0].p < 1e-10);
        assert!(adjusted[0].p > 0.01, "{}", adjusted[0].p);
        assert_eq!(adjusted[0].df, n - 2 - 2);
    }

    #[test]
    fn missing_values_leave_only_their_patient_out() {
        let f = [Variable::new("f", vec![1.0, 2.0, f64::NAN, 4.0, 5.0])];
        let g = [Variable::new("g", vec![1.0, 2.5, 3.0, 3.5, 6.0])];
        let a = associate(&f, &g, None, Method::Pearson).unwrap();
        assert_eq!((a[0].n, a[0].df), (4, 2));
        let e = associate(&f, &[Variable::new("g", vec![1.0])], None, Method::Pearson);
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("g: 1 values for 5 patients")
        );
    }
}
