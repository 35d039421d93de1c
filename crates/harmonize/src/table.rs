//! CSV front end: harmonise the feature columns of a table, leave the rest.
//!
//! One row per sample.  Roles of the columns:
//! * the site column (required) gives each sample's site;
//! * covariate columns (continuous or categorical) are preserved by ComBat;
//! * the optional id column and any pass-through columns are copied as is;
//! * every other column whose non-missing cells all parse as numbers is a
//!   feature and is harmonised; columns with no numeric cell (free text) are
//!   copied as is.  A column that is numeric apart from a few cells is an
//!   error, because silently skipping a feature with a typo would leave its
//!   site effect in place.
//!
//! Column order, row order and every non-feature cell are preserved byte for
//! byte; harmonised values are written with the shortest representation that
//! round-trips to the same `f64`.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::combat::{CombatFit, CombatOptions, combat_named};
use crate::design::Covariate;
use crate::error::{HarmonizeError, Result};

/// Options of [`harmonize_table`] beyond the column roles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableOptions {
    /// ComBat mode.
    pub combat: CombatOptions,
    /// Sample identifier column; never treated as a feature even if numeric.
    pub id_column: Option<String>,
    /// Further columns to copy unchanged (e.g. numeric clinical outcomes that
    /// must not be harmonised).
    pub passthrough_columns: Vec<String>,
}

/// The harmonised table, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct HarmonizedTable {
    /// Header, in input order.
    pub headers: Vec<String>,
    /// Cells, one row per input row, in input order.
    pub rows: Vec<Vec<String>>,
}

impl HarmonizedTable {
    /// Write as CSV to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let file = File::create(path).map_err(|source| HarmonizeError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.write_to(file, path)
    }

    /// Write as CSV to any writer; `label` names it in errors.
    pub fn write_to<W: Write>(&self, writer: W, label: &Path) -> Result<()> {
        let csv_err = |source| HarmonizeError::Csv {
            path: label.to_owned(),
            source,
        };
        let mut w = csv::Writer::from_writer(writer);
        w.write_record(&self.headers).map_err(csv_err)?;
        for row in &self.rows {
            w.write_record(row).map_err(csv_err)?;
        }
        w.flush().map_err(|source| HarmonizeError::Io {
            path: label.to_owned(),
            source,
        })
    }
}

/// Sample count of one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSummary {
    /// Site label.
    pub site: String,
    /// Samples at that site.
    pub samples: usize,
}

/// What [`harmonize_table`] did, for logs and provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarmonizeReport {
    /// Number of samples (rows).
    pub samples: usize,
    /// Sites in sorted order with their sample counts.
    pub sites: Vec<SiteSummary>,
    /// Feature columns that were harmonised.
    pub harmonised_columns: Vec<String>,
    /// Feature columns that are constant over all samples and were copied
    /// unchanged (there is no site effect to remove).
    pub constant_columns: Vec<String>,
    /// Columns copied unchanged because they are not features (site,
    /// covariates, id, pass-through and text columns).
    pub untouched_columns: Vec<String>,
    /// The fitted model (serialisable; reuse it with [`CombatFit::apply`]).
    pub fit: CombatFit,
}

/// Cell texts that mean "missing", as pandas' default `na_values` would read them.
fn is_missing(cell: &str) -> bool {
    matches!(
        cell.trim(),
        "" | "NA" | "N/A" | "NaN" | "nan" | "NAN" | "null" | "NULL" | "None" | "#N/A" | "<NA>"
    )
}

/// Parse a finite number, tolerating surrounding spaces.
fn parse_finite(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Harmonise the feature columns of the CSV at `input_csv` across the sites
/// in `site_column`, preserving the covariates.
///
/// `covariates` lists the covariates to preserve; those also named in
/// `categorical` (which may also name covariates not in `covariates`) are
/// one-hot coded with the first sorted level as reference, the others must be
/// numeric.  Constant feature columns are copied unchanged and listed in the
/// report.
pub fn harmonize_table(
    input_csv: &Path,
    site_column: &str,
    covariates: &[String],
    categorical: &[String],
    options: &TableOptions,
) -> Result<(HarmonizedTable, HarmonizeReport)> {
    let (headers, rows, lines) = read_csv(input_csv)?;
    let col = |name: &str, role: &'static str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| HarmonizeError::MissingColumn {
                column: name.to_owned(),
                role,
            })
    };
    let cell_missing = |c: usize, r: usize| HarmonizeError::MissingValue {
        column: headers[c].clone(),
        line: lines[r],
    };

    // site
    let site_col = col(site_column, "site")?;
    let mut sites = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        if is_missing(&row[site_col]) {
            return Err(cell_missing(site_col, r));
        }
        sites.push(row[site_col].clone());
    }

    // covariates: caller's order, then categorical ones not already listed
    let mut cov_names: Vec<&String> = covariates.iter().collect();
    cov_names.extend(categorical.iter().filter(|c| !covariates.contains(c)));
    let mut covs = Vec::with_capacity(cov_names.len());
    let mut reserved: HashSet<usize> = HashSet::from([site_col]);
    for name in cov_names {
        let is_cat = categorical.contains(name);
        let c = col(
            name,
            if is_cat {
                "categorical covariate"
            } else {
                "covariate"
            },
        )?;
        reserved.insert(c);
        if is_cat {
            let mut values = Vec::with_capacity(rows.len());
            for (r, row) in rows.iter().enumerate() {
                if is_missing(&row[c]) {
                    return Err(cell_missing(c, r));
                }
                values.push(row[c].clone());
            }
            covs.push(Covariate::Categorical {
                name: name.clone(),
                values,
            });
        } else {
            let mut values = Vec::with_capacity(rows.len());
            for (r, row) in rows.iter().enumerate() {
                if is_missing(&row[c]) {
                    return Err(cell_missing(c, r));
                }
                let v = parse_finite(&row[c]).ok_or_else(|| HarmonizeError::NotNumeric {
                    column: name.clone(),
                    line: lines[r],
                    value: row[c].clone(),
                })?;
                values.push(v);
            }
            covs.push(Covariate::Continuous {
                name: name.clone(),
                values,
            });
        }
    }
    if let Some(id) = &options.id_column {
        reserved.insert(col(id, "id")?);
    }
    for p in &options.passthrough_columns {
        reserved.insert(col(p, "pass-through")?);
    }

    // features
    let mut feature_cols = Vec::new();
    for c in (0..headers.len()).filter(|c| !reserved.contains(c)) {
        if let Some(f) = classify_column(&headers[c], c, &rows, &lines)? {
            feature_cols.push(f);
        }
    }
    if feature_cols.is_empty() {
        return Err(HarmonizeError::NoFeatures);
    }
    let mut data = Array2::<f64>::zeros((feature_cols.len(), rows.len()));
    for (f, &c) in feature_cols.iter().enumerate() {
        for (r, row) in rows.iter().enumerate() {
            if is_missing(&row[c]) {
                return Err(cell_missing(c, r));
            }
            data[[f, r]] = parse_finite(&row[c]).ok_or_else(|| HarmonizeError::NotNumeric {
                column: headers[c].clone(),
                line: lines[r],
                value: row[c].clone(),
            })?;
        }
    }
    let names: Vec<String> = feature_cols.iter().map(|&c| headers[c].clone()).collect();

    let result = combat_named(data.view(), &names, &sites, &covs, &options.combat)?;

    let mut out_rows = rows;
    for (f, &c) in feature_cols.iter().enumerate() {
        if result.fit.harmonised[f] {
            for (r, row) in out_rows.iter_mut().enumerate() {
                row[c] = format!("{:?}", result.data[[f, r]]);
            }
        }
    }
    let fit = result.fit;
    let report = HarmonizeReport {
        samples: out_rows.len(),
        sites: fit
            .batches
            .iter()
            .zip(&fit.samples_per_batch)
            .map(|(s, &n)| SiteSummary {
                site: s.clone(),
                samples: n,
            })
            .collect(),
        harmonised_columns: names
            .iter()
            .zip(&fit.harmonised)
            .filter(|(_, h)| **h)
            .map(|(n, _)| n.clone())
            .collect(),
        constant_columns: names
            .iter()
            .zip(&fit.harmonised)
            .filter(|(_, h)| !**h)
            .map(|(n, _)| n.clone())
            .collect(),
        untouched_columns: headers
            .iter()
            .enumerate()
            .filter(|(c, _)| !feature_cols.contains(c))
            .map(|(_, h)| h.clone())
            .collect(),
        fit,
    };
    Ok((
        HarmonizedTable {
            headers,
            rows: out_rows,
        },
        report,
    ))
}

/// `Some(c)` when column `c` is a feature, `None` for a text column.
fn classify_column(
    name: &str,
    c: usize,
    rows: &[Vec<String>],
    lines: &[u64],
) -> Result<Option<usize>> {
    let mut numeric = 0usize;
    let mut first_text: Option<usize> = None;
    for (r, row) in rows.iter().enumerate() {
        let cell = &row[c];
        if is_missing(cell) {
            continue;
        }
        if cell.trim().parse::<f64>().is_ok() {
            numeric += 1;
        } else if first_text.is_none() {
            first_text = Some(r);
        }
    }
    match (numeric, first_text) {
        (0, _) => Ok(None),
        (_, None) => Ok(Some(c)),
        (_, Some(r)) => Err(HarmonizeError::MixedColumn {
            column: name.to_owned(),
            line: lines[r],
            value: rows[r][c].clone(),
        }),
    }
}

type Parsed = (Vec<String>, Vec<Vec<String>>, Vec<u64>);

/// Header, cells and the 1-based file line of every row.
fn read_csv(path: &Path) -> Result<Parsed> {
    let file = File::open(path).map_err(|source| HarmonizeError::Io {
        path: path.to_owned(),
        source,
    })?;
    let csv_err = |source| HarmonizeError::Csv {
        path: PathBuf::from(path),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let headers: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut seen = HashSet::new();
    if let Some(dup) = headers.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(HarmonizeError::DuplicateColumn {
            column: dup.clone(),
        });
    }
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        lines.push(rec.position().map_or(i as u64 + 2, |p| p.line()));
        rows.push(rec.iter().map(str::to_owned).collect());
    }
    Ok((headers, rows, lines))
}
