//! CSV front end: a table with one row per patient (for example `oncolens radiomics --cohort`'s,
//! which carries the clinical record and `outcome_*` columns) to [`SurvivalData`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::{SurvivalData, SurvivalError};

/// Which columns play which part.
#[derive(Debug, Clone, Default)]
pub struct TableSpec {
    pub time: String,
    pub event: String,
    pub covariates: Vec<String>,
    /// Covariates to code as categories even when their values are numbers (grades, stages).
    pub categorical: Vec<String>,
    pub strata: Option<String>,
}

pub use oncolens_core::design::Dummies;

/// What was read and what was left out.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub rows: usize,
    pub rows_used: usize,
    /// Rows left out for an empty cell, by the first empty column of the row.
    pub rows_missing: BTreeMap<String, usize>,
    pub categorical: Vec<Dummies>,
}

/// Errors of the table front end: the file, then the cell or column at fault.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: no column `{column}` (columns: {available})")]
    NoColumn {
        path: String,
        column: String,
        available: String,
    },
    #[error("{path}: row {row}, column `{column}`: {message}")]
    Cell {
        path: String,
        row: usize,
        column: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Data {
        path: String,
        #[source]
        source: SurvivalError,
    },
}

/// Event words: dead (1) or alive at last contact (0).
fn parse_event(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "1.0" | "true" | "yes" | "dead" | "deceased" | "died" | "event" => Some(true),
        "0" | "0.0" | "false" | "no" | "alive" | "censored" | "living" => Some(false),
        _ => None,
    }
}

/// Reads `path` into survival data per `spec`. Rows with an empty cell in a used column are
/// left out and counted; any other cell that cannot be read is an error naming row (1-based,
/// header excluded) and column.
pub fn read_table(
    path: &Path,
    spec: &TableSpec,
) -> Result<(SurvivalData, TableReport), TableError> {
    let shown = path.display().to_string();
    let read_err = |message: String| TableError::Read {
        path: shown.clone(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| read_err(e.to_string()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| read_err(e.to_string()))?
        .iter()
        .map(str::to_owned)
        .collect();
    let index = |column: &str| {
        headers
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| TableError::NoColumn {
                path: shown.clone(),
                column: column.to_owned(),
                available: headers.join(", "),
            })
    };
    if spec.covariates.is_empty() {
        return Err(TableError::Data {
            path: shown.clone(),
            source: SurvivalError::NoCovariates,
        });
    }
    if let Some(strata) = spec.strata.as_ref().filter(|s| spec.covariates.contains(s)) {
        return Err(read_err(format!(
            "`{strata}` is both the strata and a covariate: each stratum's own baseline hazard absorbs its effect"
        )));
    }
    let time_col = index(&spec.time)?;
    let event_col = index(&spec.event)?;
    let strata_col = spec.strata.as_deref().map(index).transpose()?;
    let cov_cols: Vec<usize> = spec
        .covariates
        .iter()
        .map(|c| index(c))
        .collect::<Result<_, _>>()?;

    // Cells of the used columns, rows with an empty one counted out.
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut missing: BTreeMap<String, usize> = BTreeMap::new();
    let mut used_cols = vec![time_col, event_col];
    used_cols.extend(strata_col);
    used_cols.extend(&cov_cols);
    let mut total = 0;
    for record in reader.records() {
        let record = record.map_err(|e| read_err(e.to_string()))?;
        total += 1;
        let cells: Vec<String> = used_cols
            .iter()
            .map(|&c| record.get(c).unwrap_or("").trim().to_owned())
            .collect();
        if let Some(k) = cells.iter().position(String::is_empty) {
            *missing.entry(headers[used_cols[k]].clone()).or_default() += 1;
            continue;
        }
        rows.push(cells);
    }
    let cell_err = |row: usize, column: &str, message: String| TableError::Cell {
        path: shown.clone(),
        row,
        column: column.to_owned(),
        message,
    };
    let mut time = Vec::with_capacity(rows.len());
    let mut event = Vec::with_capacity(rows.len());
    for (r, cells) in rows.iter().enumerate() {
        time.push(
            cells[0].parse::<f64>().map_err(|_| {
                cell_err(r + 1, &spec.time, format!("`{}` is not a number", cells[0]))
            })?,
        );
        event.push(parse_event(&cells[1]).ok_or_else(|| {
            cell_err(
                r + 1,
                &spec.event,
                format!(
                    "`{}` is not an event value (1/0, true/false, dead/alive, censored)",
                    cells[1]
                ),
            )
        })?);
    }
    let first_cov = 2 + usize::from(strata_col.is_some());
    let cells: Vec<Vec<&str>> = rows
        .iter()
        .map(|c| c[first_cov..].iter().map(String::as_str).collect())
        .collect();
    let (names, columns, categorical) =
        oncolens_core::design::code_covariates(&spec.covariates, &cells, &spec.categorical);
    let data_err = |source| TableError::Data {
        path: shown.clone(),
        source,
    };
    let mut data = SurvivalData::new(&time, &event, names, columns).map_err(data_err)?;
    if strata_col.is_some() {
        let labels: Vec<&str> = rows.iter().map(|c| c[2].as_str()).collect();
        data = data.with_strata(&labels).map_err(data_err)?;
    }
    let report = TableReport {
        rows: total,
        rows_used: rows.len(),
        rows_missing: missing,
        categorical,
    };
    Ok((data, report))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn spec(covariates: &[&str]) -> TableSpec {
        TableSpec {
            time: "days".into(),
            event: "status".into(),
            covariates: covariates.iter().map(|s| (*s).to_owned()).collect(),
            ..TableSpec::default()
        }
    }

    #[test]
    fn words_dummies_and_missing_rows() {
        let f = write(
            "id,days,status,age,grade\n\
             a,10,dead,60,2\n\
             b,20,censored,55,1\n\
             c,,alive,50,3\n\
             d,30,Alive,70,\n\
             e,5,1,66,3\n\
             f,25,0,58,1\n",
        );
        let mut s = spec(&["age", "grade"]);
        s.categorical = vec!["grade".into()];
        let (data, report) = read_table(f.path(), &s).unwrap();
        assert_eq!((report.rows, report.rows_used), (6, 4));
        assert_eq!(report.rows_missing["days"], 1);
        assert_eq!(report.rows_missing["grade"], 1);
        assert_eq!(data.covariate_names(), ["age", "grade=2", "grade=3"]);
        assert_eq!(data.event(), [true, false, true, false]);
        assert_eq!(report.categorical[0].reference, "1");
        assert_eq!(data.row(2), [66.0, 0.0, 1.0]);
    }

    #[test]
    fn errors_name_the_file_row_and_column() {
        let f = write("days,status,age\n10,dead,60\n20,maybe,55\n");
        let e = read_table(f.path(), &spec(&["age"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2, column `status`: `maybe`"), "{e}");
        let e = read_table(f.path(), &spec(&["weight"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no column `weight`") && e.contains("days, status, age"),
            "{e}"
        );
        let f = write("days,status,age\n10,dead,60\n20,alive,60\n");
        let (data, _) = read_table(f.path(), &spec(&["age"])).unwrap();
        let e = crate::fit_cox(&data, &crate::CoxOptions::default()).unwrap_err();
        assert!(e.to_string().contains("covariate age is constant"), "{e}");
    }
}
