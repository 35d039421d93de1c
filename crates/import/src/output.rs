//! Writing a cohort folder: refusing a non-empty target, staging the whole import in a hidden
//! sibling folder that is renamed into place only when every file was written (so a failed
//! import leaves no half cohort behind), `labels.csv`, `cohort.json` and the summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{ImportError, Result, read_err, write_err};

/// What an import wrote; `cohort.json` holds the same counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    /// Data set name, e.g. `AdrenalMNIST3D`, `KiTS19`.
    pub dataset: String,
    /// The cohort folder.
    pub out: PathBuf,
    pub cases: usize,
    /// Cases per site folder.
    pub sites: BTreeMap<String, usize>,
    /// Cases per label value (`labels.csv`'s label column); cases without a label are not counted.
    pub labels: BTreeMap<String, usize>,
    /// Cases per split (`train`, `val`, `test`); empty when the cohort has no split column.
    pub splits: BTreeMap<String, usize>,
    /// Things a user should know (skipped files, fallbacks); also listed in `cohort.json`.
    pub warnings: Vec<String>,
}

impl ImportSummary {
    pub(crate) fn new(dataset: &str, out: &Path) -> Self {
        ImportSummary {
            dataset: dataset.to_owned(),
            out: out.to_path_buf(),
            cases: 0,
            sites: BTreeMap::new(),
            labels: BTreeMap::new(),
            splits: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Counts one written case.
    pub(crate) fn count(&mut self, site: &str, label: Option<&str>, split: Option<&str>) {
        self.cases += 1;
        *self.sites.entry(site.to_owned()).or_default() += 1;
        if let Some(l) = label {
            *self.labels.entry(l.to_owned()).or_default() += 1;
        }
        if let Some(s) = split {
            *self.splits.entry(s.to_owned()).or_default() += 1;
        }
    }
}

/// A hidden sibling of the output folder that the import writes into; [`Staging::commit`]
/// renames it to the output folder, and dropping it uncommitted deletes it.
pub(crate) struct Staging {
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl Staging {
    /// Refuses an output path that exists and is not an empty folder, then creates the staging
    /// folder next to it.
    pub(crate) fn new(out: &Path) -> Result<Self> {
        if out.exists() {
            if !out.is_dir() {
                return Err(ImportError::format(
                    out,
                    "output path exists and is not a folder",
                ));
            }
            let mut entries = std::fs::read_dir(out).map_err(read_err(out))?;
            if entries.next().is_some() {
                return Err(ImportError::NotEmpty(out.to_path_buf()));
            }
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| ImportError::format(out, "output path has no folder name"))?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(write_err(&parent))?;
        let dir = parent.join(format!(".{name}.importing-{}", std::process::id()));
        if dir.exists() {
            // Left over by an interrupted import of this same process id: ours to remove.
            std::fs::remove_dir_all(&dir).map_err(write_err(&dir))?;
        }
        std::fs::create_dir(&dir).map_err(write_err(&dir))?;
        Ok(Staging {
            target: out.to_path_buf(),
            dir,
            committed: false,
        })
    }

    /// Where files are written until [`Staging::commit`].
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves the staged cohort to the output path (which must still be absent or empty).
    pub(crate) fn commit(mut self) -> Result<()> {
        if self.target.exists() {
            std::fs::remove_dir(&self.target)
                .map_err(|_| ImportError::NotEmpty(self.target.clone()))?;
        }
        std::fs::rename(&self.dir, &self.target).map_err(write_err(&self.target))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Creates a folder (and its parents).
pub(crate) fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(write_err(path))
}

/// Writes a CSV file atomically.
pub(crate) fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        let csv_err = |e: csv::Error| ImportError::format(path, format!("cannot encode CSV: {e}"));
        w.write_record(header).map_err(csv_err)?;
        for r in rows {
            w.write_record(r).map_err(csv_err)?;
        }
        w.flush().map_err(write_err(path))?;
    }
    oncolens_core::fs::write_atomic(path, &buf).map_err(write_err(path))
}

/// Writes pretty JSON atomically.
pub(crate) fn write_json(path: &Path, value: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| ImportError::format(path, format!("cannot encode JSON: {e}")))?;
    text.push('\n');
    oncolens_core::fs::write_atomic(path, text.as_bytes()).map_err(write_err(path))
}

/// Writes UTF-8 text atomically.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    oncolens_core::fs::write_atomic(path, text.as_bytes()).map_err(write_err(path))
}

/// `cohort.json`: the importer, the source (what, where from, licence), the counts and whatever
/// the converter adds in `details` (label meaning, split rule, layout, caveats).
pub(crate) fn write_manifest(
    dir: &Path,
    summary: &ImportSummary,
    source: Value,
    details: Value,
) -> Result<()> {
    let mut manifest = json!({
        "generator": "oncolens-import",
        "version": env!("CARGO_PKG_VERSION"),
        "dataset": summary.dataset,
        "source": source,
        "counts": {
            "cases": summary.cases,
            "sites": summary.sites,
            "labels": summary.labels,
            "splits": summary.splits,
        },
        "warnings": summary.warnings,
    });
    if let (Some(m), Value::Object(extra)) = (manifest.as_object_mut(), details) {
        for (k, v) in extra {
            m.insert(k, v);
        }
    }
    write_json(&dir.join("cohort.json"), &manifest)
}

/// A site name must be one plain folder name.
pub(crate) fn check_site_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name != "omics"
        && !name.starts_with('.')
        && !name.contains(['/', '\\']);
    if ok {
        Ok(())
    } else {
        Err(ImportError::field(
            "options",
            "site_name",
            format!("`{name}` is not a usable site folder name"),
        ))
    }
}
