//! The station's table: one anonymous row per case, typed numeric and categorical columns.
//!
//! The table holds **no case id or pseudonym**: rows are only positions. Built from a cohort
//! folder by [`StationTable::from_cohort`] (clinical records from each case's `fhir.json`, the
//! label from `labels.csv`, which files a case has), or by hand with [`StationTable::new`] and the
//! `add_*` methods (time-to-event columns such as `time` and `event` are ordinary numeric columns).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oncolens_core::Sex;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DataError {
    #[error(transparent)]
    Cohort(#[from] oncolens_io::CohortError),
    #[error("{path}: {message}")]
    Record { path: PathBuf, message: String },
    #[error("column `{column}`: {message}")]
    Column { column: String, message: String },
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Numeric,
    Categorical,
}

/// The station's data: `n_rows` anonymous rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StationTable {
    n_rows: usize,
    numeric: BTreeMap<String, Vec<Option<f64>>>,
    categorical: BTreeMap<String, Vec<Option<String>>>,
}

impl StationTable {
    /// An empty table of `n_rows` rows.
    pub fn new(n_rows: usize) -> StationTable {
        StationTable {
            n_rows,
            ..StationTable::default()
        }
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    fn check_new(&self, name: &str, len: usize) -> Result<(), DataError> {
        let err = |message: String| DataError::Column {
            column: name.to_owned(),
            message,
        };
        if name.is_empty() {
            return Err(err("empty column name".into()));
        }
        if self.numeric.contains_key(name) || self.categorical.contains_key(name) {
            return Err(err("defined twice".into()));
        }
        if len != self.n_rows {
            return Err(err(format!("{len} values for {} rows", self.n_rows)));
        }
        Ok(())
    }

    /// Adds a numeric column (`None` = missing; non-finite values are stored as missing).
    pub fn add_numeric(
        &mut self,
        name: impl Into<String>,
        values: Vec<Option<f64>>,
    ) -> Result<(), DataError> {
        let name = name.into();
        self.check_new(&name, values.len())?;
        let values = values
            .into_iter()
            .map(|v| v.filter(|x| x.is_finite()))
            .collect();
        self.numeric.insert(name, values);
        Ok(())
    }

    /// Adds a categorical column (`None` = missing).
    pub fn add_categorical(
        &mut self,
        name: impl Into<String>,
        values: Vec<Option<String>>,
    ) -> Result<(), DataError> {
        let name = name.into();
        self.check_new(&name, values.len())?;
        self.categorical.insert(name, values);
        Ok(())
    }

    pub fn numeric(&self, name: &str) -> Option<&[Option<f64>]> {
        self.numeric.get(name).map(Vec::as_slice)
    }

    pub fn categorical(&self, name: &str) -> Option<&[Option<String>]> {
        self.categorical.get(name).map(Vec::as_slice)
    }

    /// Column names and kinds, sorted by name (what `GET /v1/info` lists; no values).
    pub fn schema(&self) -> Vec<(String, ColumnKind)> {
        let mut s: Vec<(String, ColumnKind)> = self
            .numeric
            .keys()
            .map(|k| (k.clone(), ColumnKind::Numeric))
            .chain(
                self.categorical
                    .keys()
                    .map(|k| (k.clone(), ColumnKind::Categorical)),
            )
            .collect();
        s.sort();
        s
    }

    /// Builds the table from a cohort folder (see the top-level README, "Cohort folder").
    ///
    /// Columns: `site`, `label` (`benign`/`malignant` for 0/1, else `class_N`), `split`,
    /// `has_image`, `has_lesion_mask`, `has_report`, `has_fhir`, `has_omics` (`yes`/`no`),
    /// `sex`, `primary_site` (the SNOMED CT display, else its code), `vital_status`,
    /// `age_years`, and one numeric column per named tumour marker (e.g. `ldh`). When the cohort
    /// has a `pathology.csv` (KiTS19 imports: `case_id` plus outcome fields), each of its columns
    /// becomes `outcome_<name>` (numeric when every value parses as a number), and
    /// `vital_status` + `vital_days_after_surgery` give the time-to-event pair `time` (days) and
    /// `event` (1 = dead / deceased, 0 = alive / censored / living). No voxels are read.
    pub fn from_cohort(root: &Path) -> Result<StationTable, DataError> {
        let cohort = oncolens_io::scan_cohort(root)?;
        let n = cohort.entries.len();
        let mut cat: BTreeMap<&'static str, Vec<Option<String>>> = BTreeMap::new();
        let mut num: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
        let yes_no = |b: bool| Some(if b { "yes" } else { "no" }.to_owned());
        for (row, entry) in cohort.entries.iter().enumerate() {
            let mut put = |name: &'static str, v: Option<String>| {
                cat.entry(name).or_insert_with(|| vec![None; n])[row] = v;
            };
            put("site", Some(entry.site.0.clone()));
            put(
                "label",
                entry.label.map(|l| match l.0 {
                    0 => "benign".to_owned(),
                    1 => "malignant".to_owned(),
                    k => format!("class_{k}"),
                }),
            );
            put("split", entry.split.clone());
            put(
                "has_image",
                yes_no(entry.dicom_dir.is_some() || entry.image_nifti.is_some()),
            );
            put("has_lesion_mask", yes_no(entry.lesion_mask.is_some()));
            put("has_report", yes_no(entry.report.is_some()));
            put("has_fhir", yes_no(entry.fhir.is_some()));
            put("has_omics", yes_no(entry.has_omics));
            let record = match &entry.fhir {
                Some(path) => Some(
                    oncolens_records::fhir::read_bundle(path)
                        .map_err(|e| DataError::Record {
                            path: path.clone(),
                            message: e.to_string(),
                        })?
                        .record,
                ),
                None => None,
            };
            let Some(record) = record else {
                put("sex", None);
                continue;
            };
            put(
                "sex",
                record.sex.map(|s| {
                    match s {
                        Sex::Male => "male",
                        Sex::Female => "female",
                        Sex::Other => "other",
                        Sex::Unknown => "unknown",
                    }
                    .to_owned()
                }),
            );
            put(
                "primary_site",
                record
                    .primary_site
                    .as_ref()
                    .map(|c| c.display.clone().unwrap_or_else(|| c.code.clone())),
            );
            put("vital_status", record.vital_status.clone());
            num.entry("age_years".into())
                .or_insert_with(|| vec![None; n])[row] = record.age_years;
            for m in &record.markers {
                if let Some(name) = &m.name {
                    num.entry(name.clone()).or_insert_with(|| vec![None; n])[row] = Some(m.value);
                }
            }
        }
        let mut table = StationTable::new(n);
        let ids: Vec<&str> = cohort.entries.iter().map(|e| e.id.as_str()).collect();
        let outcomes = read_outcomes(&root.join("pathology.csv"), &ids)?;
        for (name, values) in outcomes {
            let numeric: Option<Vec<Option<f64>>> = values
                .iter()
                .map(|v| match v {
                    None => Some(None),
                    Some(s) => s.parse::<f64>().ok().map(Some),
                })
                .collect();
            match numeric {
                Some(nums) => table.add_numeric(format!("outcome_{name}"), nums.clone())?,
                None => table.add_categorical(format!("outcome_{name}"), values.clone())?,
            }
            if name == "vital_days_after_surgery"
                && table.numeric("time").is_none()
                && let Some(nums) = table.numeric(&format!("outcome_{name}")).map(<[_]>::to_vec)
            {
                table.add_numeric("time", nums)?;
            }
            if name == "vital_status" {
                let event = values
                    .iter()
                    .map(
                        |v| match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
                            Some("dead" | "deceased") => Some(1.0),
                            // KiTS19 writes "censored" for everyone alive at last contact.
                            Some("alive" | "censored" | "living") => Some(0.0),
                            _ => None,
                        },
                    )
                    .collect();
                table.add_numeric("event", event)?;
            }
        }
        for (name, values) in cat {
            table.add_categorical(name, values)?;
        }
        for (name, values) in num {
            if table.categorical.contains_key(&name) {
                continue;
            }
            table.add_numeric(name, values)?;
        }
        Ok(table)
    }
}

/// A column name and its values, one per row.
type NamedColumn = (String, Vec<Option<String>>);

/// Columns of a `pathology.csv` (other than `case_id`), aligned with `ids`; missing rows and
/// empty or `NA` cells are `None`.
fn read_outcomes(path: &Path, ids: &[&str]) -> Result<Vec<NamedColumn>, DataError> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let err = |message: String| DataError::Record {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let id_col = headers
        .iter()
        .position(|h| h == "case_id")
        .ok_or_else(|| err("no `case_id` column".into()))?;
    let row_of: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut cols: Vec<(String, Vec<Option<String>>)> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != id_col)
        .map(|(_, h)| (h.clone(), vec![None; ids.len()]))
        .collect();
    for (line, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| err(format!("line {}: {e}", line + 2)))?;
        let Some(&row) = rec.get(id_col).and_then(|id| row_of.get(id.trim())) else {
            continue;
        };
        let values = rec.iter().enumerate().filter(|(i, _)| *i != id_col);
        for ((_, v), (_, col)) in values.zip(cols.iter_mut()) {
            let v = v.trim();
            if !v.is_empty() && v != "NA" {
                col[row] = Some(v.to_owned());
            }
        }
    }
    Ok(cols)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_table_checks_columns() {
        let mut t = StationTable::new(3);
        t.add_numeric("time", vec![Some(1.0), Some(f64::NAN), None])
            .unwrap();
        assert_eq!(t.numeric("time").unwrap(), &[Some(1.0), None, None]);
        assert!(t.add_numeric("time", vec![None; 3]).is_err());
        assert!(t.add_categorical("sex", vec![None; 2]).is_err());
        t.add_categorical("sex", vec![Some("male".into()), None, None])
            .unwrap();
        assert_eq!(
            t.schema(),
            vec![
                ("sex".into(), ColumnKind::Categorical),
                ("time".into(), ColumnKind::Numeric)
            ]
        );
    }
}
