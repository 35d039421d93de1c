//! Gene-expression tables (CSV or TSV), genes x samples or samples x genes.
//!
//! Public tables come both ways round (GEO series matrices are genes x samples, many clinical
//! exports are samples x genes), so the orientation is detected and reported, and the values are
//! validated cell by cell.

use std::path::Path;

use oncolens_core::OmicsProfile;
use serde::Serialize;

use crate::RecordsError;

/// How the file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Orientation {
    /// One row per gene, one column per sample.
    GenesBySamples,
    /// One row per sample, one column per gene.
    SamplesByGenes,
}

/// Reader options.
#[derive(Debug, Clone, Default)]
pub struct OmicsOptions {
    /// Force the orientation instead of detecting it.
    pub orientation: Option<Orientation>,
    /// Sample identifiers known from the cohort: the axis holding them is the sample axis.
    pub known_samples: Option<Vec<String>>,
}

/// A validated table: `values` is row-major samples x genes; missing cells are NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionTable {
    pub genes: Vec<String>,
    pub samples: Vec<String>,
    pub values: Vec<f64>,
    pub detected_orientation: Orientation,
    pub missing_values: usize,
}

impl ExpressionTable {
    /// The profile of one sample, if present.
    pub fn profile(&self, sample: &str) -> Option<OmicsProfile> {
        let s = self.samples.iter().position(|x| x == sample)?;
        let n = self.genes.len();
        Some(OmicsProfile {
            genes: self.genes.clone(),
            values: self.values[s * n..(s + 1) * n].to_vec(),
        })
    }

    /// Value of `gene` in `sample`.
    pub fn get(&self, sample: &str, gene: &str) -> Option<f64> {
        let s = self.samples.iter().position(|x| x == sample)?;
        let g = self.genes.iter().position(|x| x == gene)?;
        Some(self.values[s * self.genes.len() + g])
    }

    /// Writes the table as TSV in the given orientation (missing values as `NA`).
    pub fn write_tsv(&self, path: &Path, orientation: Orientation) -> std::io::Result<()> {
        let n = self.genes.len();
        let cell = |s: usize, g: usize| {
            let v = self.values[s * n + g];
            if v.is_nan() {
                "NA".to_owned()
            } else {
                v.to_string()
            }
        };
        let mut out = String::new();
        match orientation {
            Orientation::GenesBySamples => {
                out.push_str("gene");
                for s in &self.samples {
                    out.push('\t');
                    out.push_str(s);
                }
                out.push('\n');
                for (g, gene) in self.genes.iter().enumerate() {
                    out.push_str(gene);
                    for s in 0..self.samples.len() {
                        out.push('\t');
                        out.push_str(&cell(s, g));
                    }
                    out.push('\n');
                }
            }
            Orientation::SamplesByGenes => {
                out.push_str("sample");
                for g in &self.genes {
                    out.push('\t');
                    out.push_str(g);
                }
                out.push('\n');
                for (s, sample) in self.samples.iter().enumerate() {
                    out.push_str(sample);
                    for g in 0..n {
                        out.push('\t');
                        out.push_str(&cell(s, g));
                    }
                    out.push('\n');
                }
            }
        }
        oncolens_core::fs::write_atomic(path, out.as_bytes())
    }
}

/// Reads a table, detecting delimiter and orientation.
pub fn read_expression_table(path: &Path) -> Result<ExpressionTable, RecordsError> {
    read_expression_table_with(path, &OmicsOptions::default())
}

/// Reads a table with options.
pub fn read_expression_table_with(
    path: &Path,
    opts: &OmicsOptions,
) -> Result<ExpressionTable, RecordsError> {
    let bytes = std::fs::read(path).map_err(|source| RecordsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_expression_table(&bytes, path, opts)
}

/// True when a label looks like an HGNC gene symbol (e.g. `CA9`, `HLA-DRB1`, `C4orf3`).
fn looks_like_gene(label: &str) -> bool {
    let mut chars = label.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    first_ok
        && label.len() <= 15
        && label.matches('-').count() <= 1
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && label.chars().filter(|c| c.is_ascii_lowercase()).count() <= 3
}

fn gene_fraction(labels: &[String]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    labels.iter().filter(|l| looks_like_gene(l)).count() as f64 / labels.len() as f64
}

/// Parses table bytes; `source` names the file in errors.
pub fn parse_expression_table(
    bytes: &[u8],
    source: &Path,
    opts: &OmicsOptions,
) -> Result<ExpressionTable, RecordsError> {
    let err = |message: String| RecordsError::Omics {
        path: source.to_path_buf(),
        message,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| err(format!("not valid UTF-8 at byte {}", e.valid_up_to())))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let name = source.to_string_lossy().to_lowercase();
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if name.ends_with(".tsv") || name.ends_with(".tsv.gz") {
        b'\t'
    } else if name.ends_with(".csv") {
        b','
    } else if first_line.matches('\t').count() >= first_line.matches(',').count() {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| err(format!("line {}: {e}", i + 1)))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows.push(rec.iter().map(|c| c.trim().to_owned()).collect());
    }
    if rows.len() < 2 {
        return Err(err("needs a header row and at least one data row".into()));
    }
    let header = &rows[0];
    if header.len() < 2 {
        return Err(err(format!(
            "header has one column; is the delimiter `{}` right?",
            if delimiter == b'\t' { "\\t" } else { "," }
        )));
    }
    for (i, r) in rows.iter().enumerate().skip(1) {
        if r.len() != header.len() {
            return Err(err(format!(
                "line {}: {} cells, the header has {}",
                i + 1,
                r.len(),
                header.len()
            )));
        }
    }
    let col_labels: Vec<String> = header[1..].to_vec();
    let row_labels: Vec<String> = rows[1..].iter().map(|r| r[0].clone()).collect();
    for (what, labels) in [("column", &col_labels), ("row", &row_labels)] {
        let mut seen = std::collections::HashSet::new();
        for l in labels.iter() {
            if l.is_empty() {
                return Err(err(format!("an empty {what} label")));
            }
            if !seen.insert(l) {
                return Err(err(format!("{what} label `{l}` appears twice")));
            }
        }
    }
    let corner = header[0].to_lowercase();
    let orientation = if let Some(o) = opts.orientation {
        o
    } else if let Some(known) = &opts.known_samples {
        let hits = |labels: &[String]| labels.iter().filter(|l| known.contains(l)).count();
        match hits(&col_labels).cmp(&hits(&row_labels)) {
            std::cmp::Ordering::Greater => Orientation::GenesBySamples,
            std::cmp::Ordering::Less => Orientation::SamplesByGenes,
            std::cmp::Ordering::Equal => {
                return Err(err(
                    "cannot tell which axis holds the known samples; give the orientation".into(),
                ));
            }
        }
    } else if [
        "gene",
        "genes",
        "gene_symbol",
        "symbol",
        "hugo_symbol",
        "gene_id",
        "probe",
        "probe_id",
        "probeset",
        "id_ref",
    ]
    .contains(&corner.as_str())
    {
        Orientation::GenesBySamples
    } else if [
        "sample",
        "samples",
        "sample_id",
        "patient",
        "patient_id",
        "case_id",
        "id",
    ]
    .contains(&corner.as_str())
    {
        Orientation::SamplesByGenes
    } else {
        let (rows_g, cols_g) = (gene_fraction(&row_labels), gene_fraction(&col_labels));
        if rows_g - cols_g > 0.5 {
            Orientation::GenesBySamples
        } else if cols_g - rows_g > 0.5 {
            Orientation::SamplesByGenes
        } else {
            return Err(err(format!(
                "cannot tell whether rows or columns are genes (corner label `{}`); give the orientation",
                header[0]
            )));
        }
    };
    let (genes, samples) = match orientation {
        Orientation::GenesBySamples => (row_labels, col_labels),
        Orientation::SamplesByGenes => (col_labels, row_labels),
    };
    let (ng, ns) = (genes.len(), samples.len());
    let mut values = vec![f64::NAN; ns * ng];
    let mut missing = 0;
    for (r, row) in rows.iter().enumerate().skip(1) {
        for (c, cell) in row.iter().enumerate().skip(1) {
            let v = match cell.as_str() {
                "" | "NA" | "NaN" | "nan" | "null" | "NULL" | "." => {
                    missing += 1;
                    f64::NAN
                }
                s => s
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        err(format!(
                            "line {}, column {} (`{}`): `{s}` is not a number",
                            r + 1,
                            c + 1,
                            header[c]
                        ))
                    })?,
            };
            let (gi, si) = match orientation {
                Orientation::GenesBySamples => (r - 1, c - 1),
                Orientation::SamplesByGenes => (c - 1, r - 1),
            };
            values[si * ng + gi] = v;
        }
    }
    Ok(ExpressionTable {
        genes,
        samples,
        values,
        detected_orientation: orientation,
        missing_values: missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, name: &str) -> Result<ExpressionTable, RecordsError> {
        parse_expression_table(text.as_bytes(), Path::new(name), &OmicsOptions::default())
    }

    #[test]
    fn both_orientations_give_the_same_table() {
        let a = parse("gene\tcase_1\tcase_2\nCA9\t1.5\t2\nMKI67\tNA\t3\n", "a.tsv").unwrap();
        let b = parse("sample,CA9,MKI67\ncase_1,1.5,\ncase_2,2,3\n", "b.csv").unwrap();
        assert_eq!(a.detected_orientation, Orientation::GenesBySamples);
        assert_eq!(b.detected_orientation, Orientation::SamplesByGenes);
        assert_eq!(a.genes, b.genes);
        assert_eq!(a.samples, b.samples);
        assert_eq!(a.get("case_2", "MKI67"), Some(3.0));
        assert_eq!((a.missing_values, b.missing_values), (1, 1));
        assert!(a.get("case_1", "MKI67").unwrap().is_nan());
    }

    #[test]
    fn heuristic_detects_gene_rows_without_a_known_corner() {
        let t = parse(
            "x\tTCGA-A1-A0SB-01\tTCGA-A2-B0XX-01\nCA9\t1\t2\nVEGFA\t3\t4\nTOP2A\t5\t6\n",
            "t.txt",
        )
        .unwrap();
        assert_eq!(t.detected_orientation, Orientation::GenesBySamples);
        let err = parse("x\ta\tb\nc\t1\t2\n", "t.tsv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("orientation"), "{err}");
    }

    #[test]
    fn bad_cells_rows_and_duplicates_are_named() {
        let e = parse("gene\ts1\ts2\nCA9\t1\tabc\n", "x.tsv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.tsv") && e.contains("line 2, column 3") && e.contains("abc"),
            "{e}"
        );
        let e = parse("gene\ts1\ts2\nCA9\t1\n", "x.tsv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("2 cells"), "{e}");
        let e = parse("gene\ts1\ts1\nCA9\t1\t2\n", "x.tsv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("twice"), "{e}");
        let e = parse("gene\ts1\nCA9\tinf\n", "x.tsv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a number"), "{e}");
        assert!(parse("gene\n", "x.tsv").is_err());
    }

    #[test]
    fn known_samples_decide_and_tsv_round_trips() {
        let opts = OmicsOptions {
            orientation: None,
            known_samples: Some(vec!["p1".into(), "p2".into()]),
        };
        let t = parse_expression_table(
            b"q\tg1\tg2\np1\t1\t2\np2\t3\t4\n",
            Path::new("k.tsv"),
            &opts,
        )
        .unwrap();
        assert_eq!(t.detected_orientation, Orientation::SamplesByGenes);
        let dir = std::env::temp_dir().join(format!("omics-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.tsv");
        t.write_tsv(&p, Orientation::GenesBySamples).unwrap();
        let back = read_expression_table(&p).unwrap();
        assert_eq!(back.values, t.values);
        assert_eq!(back.profile("p2").unwrap().values, vec![3.0, 4.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
