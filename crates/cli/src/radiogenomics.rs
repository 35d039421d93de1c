//! `oncolens radiogenomics`: every radiomic feature of a cohort table against every gene of an
//! expression table, site-adjusted, with false-discovery control.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oncolens_radiogenomics::{Association, Method, Variable, associate};
use oncolens_records::omics::{OmicsOptions, read_expression_table_with};
use oncolens_report::plot::{HeatmapTable, heatmap_table};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MethodArg {
    Spearman,
    Pearson,
}

#[derive(clap::Args)]
pub struct RadiogenomicsArgs {
    /// Feature table (CSV, one row per case), e.g. `oncolens radiomics --cohort`'s output.
    #[arg(long)]
    pub features: PathBuf,
    /// Gene-expression table (CSV or TSV, genes x cases or cases x genes), e.g. a cohort's
    /// `omics/expression.tsv`.
    #[arg(long)]
    pub expression: PathBuf,
    /// Case identifier column of the feature table (matches the expression table's samples).
    #[arg(long, default_value = "case_id")]
    pub id_column: String,
    /// Site column of the feature table: associations are adjusted for it (partial
    /// correlations given site indicators), so scanner and batch effects of one hospital do not
    /// pass for biology.
    #[arg(long, default_value = "site")]
    pub site_column: String,
    /// Do not adjust for site.
    #[arg(long)]
    pub no_site_adjustment: bool,
    #[arg(long, value_enum, default_value = "spearman")]
    pub method: MethodArg,
    /// False-discovery rate at which a pair is reported significant (Benjamini-Hochberg).
    #[arg(long, default_value_t = 0.05)]
    pub fdr: f64,
    /// Columns of the feature table that are not features (besides the id and site columns,
    /// `label`, the clinical columns `age_years`, `sex`, `primary_site`, `marker_*` and the
    /// outcomes `outcome_*`, which are never features).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Output folder: associations.csv, radiogenomics.json, heatmap.svg.
    #[arg(long)]
    pub out: PathBuf,
}

fn is_feature_column(name: &str, args: &RadiogenomicsArgs) -> bool {
    !(name == args.id_column
        || name == args.site_column
        || ["label", "age_years", "sex", "primary_site"].contains(&name)
        || name.starts_with("marker_")
        || name.starts_with("outcome_")
        || args.exclude.iter().any(|e| e == name))
}

/// Case ids, sites and numeric feature columns of the table.
type FeatureTable = (Vec<String>, Option<Vec<String>>, Vec<Variable>);

fn read_features(path: &Path, args: &RadiogenomicsArgs) -> Result<FeatureTable> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers: Vec<String> = r
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .iter()
        .map(str::to_owned)
        .collect();
    let Some(id) = headers.iter().position(|h| *h == args.id_column) else {
        bail!("{}: no column `{}`", path.display(), args.id_column);
    };
    let site = headers.iter().position(|h| *h == args.site_column);
    if site.is_none() && !args.no_site_adjustment {
        bail!(
            "{}: no site column `{}` (name it with --site-column, or pass --no-site-adjustment)",
            path.display(),
            args.site_column
        );
    }
    let records: Vec<csv::StringRecord> = r
        .records()
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("reading {}", path.display()))?;
    let ids: Vec<String> = records.iter().map(|rec| rec[id].to_owned()).collect();
    let sites = site
        .filter(|_| !args.no_site_adjustment)
        .map(|s| records.iter().map(|rec| rec[s].to_owned()).collect());
    let mut features = Vec::new();
    for (c, name) in headers.iter().enumerate() {
        if !is_feature_column(name, args) {
            continue;
        }
        // A feature column holds numbers (empty = missing); anything else is not a feature.
        let values: Option<Vec<f64>> = records
            .iter()
            .map(|rec| match rec.get(c).map(str::trim) {
                None | Some("") => Some(f64::NAN),
                Some(v) => v.parse::<f64>().ok(),
            })
            .collect();
        if let Some(values) = values {
            features.push(Variable::new(name.clone(), values));
        }
    }
    if features.is_empty() {
        bail!("{}: no numeric feature column", path.display());
    }
    Ok((ids, sites, features))
}

/// The tests of one cohort, ready to write.
pub(crate) struct Analysis {
    pub cases: usize,
    pub features: usize,
    pub genes: usize,
    pub method: Method,
    pub site_adjusted: bool,
    pub table: Vec<Association>,
}

/// Every feature against every gene of `expression`, over the cases of `ids` that have a
/// profile (`features` in `ids` order; `sites` adjusts for site when given).
pub(crate) fn analyse(
    ids: &[String],
    sites: Option<&[String]>,
    features: Vec<Variable>,
    expression: &Path,
    method: Method,
    feature_source: &str,
) -> Result<Analysis> {
    let table = read_expression_table_with(
        expression,
        &OmicsOptions {
            orientation: None,
            known_samples: Some(ids.to_vec()),
        },
    )
    .with_context(|| format!("reading {}", expression.display()))?;
    // Cases in both tables, in the feature table's order.
    let rows: Vec<(usize, usize)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| table.samples.iter().position(|s| s == id).map(|s| (i, s)))
        .collect();
    if rows.len() < 5 {
        bail!(
            "{feature_source} and {} share {} cases; at least 5 are needed",
            expression.display(),
            rows.len()
        );
    }
    let features: Vec<Variable> = features
        .into_iter()
        .map(|f| Variable::new(f.name, rows.iter().map(|&(i, _)| f.values[i]).collect()))
        .collect();
    let n_genes = table.genes.len();
    let genes: Vec<Variable> = table
        .genes
        .iter()
        .enumerate()
        .map(|(g, name)| {
            Variable::new(
                name.clone(),
                rows.iter()
                    .map(|&(_, s)| table.values[s * n_genes + g])
                    .collect(),
            )
        })
        .collect();
    let site_index: Option<Vec<usize>> = sites.map(|s| {
        let distinct: BTreeSet<&String> = rows.iter().map(|&(i, _)| &s[i]).collect();
        let distinct: Vec<&String> = distinct.into_iter().collect();
        rows.iter()
            .map(|&(i, _)| distinct.iter().position(|d| **d == s[i]).unwrap_or(0))
            .collect()
    });
    let tests = associate(&features, &genes, site_index.as_deref(), method)?;
    Ok(Analysis {
        cases: rows.len(),
        features: features.len(),
        genes: genes.len(),
        method,
        site_adjusted: site_index.is_some(),
        table: tests,
    })
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Spearman => "Spearman",
        Method::Pearson => "Pearson",
    }
}

/// Writes associations.csv, radiogenomics.json and heatmap.svg into `out`; returns the summary
/// and the heatmap.
pub(crate) fn write_outputs(
    a: &Analysis,
    out: &Path,
    fdr: f64,
) -> Result<(serde_json::Value, String)> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["feature", "gene", "n", "r", "df", "p", "q"])?;
    for x in &a.table {
        w.write_record([
            x.feature.clone(),
            x.gene.clone(),
            x.n.to_string(),
            x.r.to_string(),
            x.df.to_string(),
            x.p.to_string(),
            x.q.to_string(),
        ])?;
    }
    write(&out.join("associations.csv"), &w.into_inner()?)?;
    let significant: Vec<&Association> = a.table.iter().filter(|x| x.q <= fdr).collect();
    // Each gene's strongest feature (smallest p), for the genes with a significant pair.
    let mut best: BTreeMap<&str, &Association> = BTreeMap::new();
    for x in &significant {
        best.entry(x.gene.as_str()).or_insert(x);
    }
    let summary = serde_json::json!({
        "method": a.method,
        "site_adjusted": a.site_adjusted,
        "cases": a.cases,
        "features": a.features,
        "genes": a.genes,
        "tests": a.table.len(),
        "fdr": fdr,
        "significant": significant.len(),
        "genes_with_a_significant_feature": best.values().collect::<Vec<_>>(),
        "top": a.table.iter().take(25).collect::<Vec<_>>(),
    });
    write(
        &out.join("radiogenomics.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let svg = heatmap(&a.table, a.method);
    write(&out.join("heatmap.svg"), svg.as_bytes())?;
    Ok((summary, svg))
}

pub fn run(args: &RadiogenomicsArgs) -> Result<()> {
    if !(args.fdr > 0.0 && args.fdr < 1.0) {
        bail!("--fdr must be between 0 and 1");
    }
    let (ids, sites, features) = read_features(&args.features, args)?;
    let method = match args.method {
        MethodArg::Spearman => Method::Spearman,
        MethodArg::Pearson => Method::Pearson,
    };
    let a = analyse(
        &ids,
        sites.as_deref(),
        features,
        &args.expression,
        method,
        &args.features.display().to_string(),
    )?;
    let (summary, _) = write_outputs(&a, &args.out, args.fdr)?;
    let best = summary["genes_with_a_significant_feature"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!(
        "{} cases, {} features x {} genes = {} tests ({}, {}); {} pairs at FDR {}: {} genes. Wrote {}",
        a.cases,
        a.features,
        a.genes,
        a.table.len(),
        method_name(method),
        if a.site_adjusted {
            "site-adjusted"
        } else {
            "not adjusted for site"
        },
        summary["significant"],
        args.fdr,
        best.len(),
        args.out.display()
    );
    for x in &best {
        println!(
            "  {:<10} {:<32} r {:+.3}  q {:.2e}",
            x["gene"].as_str().unwrap_or(""),
            x["feature"].as_str().unwrap_or(""),
            x["r"].as_f64().unwrap_or(f64::NAN),
            x["q"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// The demo's radiogenomics: PyRadiomics-preset features of every case of the sample cohort
/// against its expression table (site-adjusted Spearman, FDR 0.05), written to `out` and
/// scored against the generator's gene links (`oncolens_synth::omics::LINKS`).
pub(crate) fn on_sample_cohort(cohort: &Path, out: &Path) -> Result<(serde_json::Value, String)> {
    const FDR: f64 = 0.05;
    let rows = crate::radiomics::cohort_features(cohort, false)?;
    let ids: Vec<String> = rows.iter().map(|r| r.case_id.clone()).collect();
    let sites: Vec<String> = rows.iter().map(|r| r.site.clone()).collect();
    let names: Vec<String> = rows
        .first()
        .map(|r| r.features.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let features: Vec<Variable> = names
        .iter()
        .map(|name| {
            let values = rows
                .iter()
                .map(|r| {
                    r.features
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(f64::NAN, |(_, v)| *v)
                })
                .collect();
            Variable::new(name.clone(), values)
        })
        .collect();
    let a = analyse(
        &ids,
        Some(&sites),
        features,
        &cohort.join("omics/expression.tsv"),
        Method::Spearman,
        &cohort.display().to_string(),
    )?;
    let (mut summary, svg) = write_outputs(&a, out, FDR)?;
    let links = oncolens_synth::omics::LINKS;
    let significant: Vec<&Association> = a.table.iter().filter(|x| x.q <= FDR).collect();
    let per_gene: Vec<serde_json::Value> = links
        .iter()
        .map(|l| {
            let best = significant.iter().find(|x| x.gene == l.gene);
            serde_json::json!({
                "gene": l.gene,
                "factor": l.factor,
                "loading": l.loading,
                "strongest_feature": best.map(|x| &x.feature),
                "r": best.map(|x| x.r),
                "q": best.map(|x| x.q),
            })
        })
        .collect();
    let is_linked = |g: &str| links.iter().any(|l| l.gene == g);
    let false_pairs = significant.iter().filter(|x| !is_linked(&x.gene)).count();
    let unlinked: BTreeSet<&str> = significant
        .iter()
        .filter(|x| !is_linked(&x.gene))
        .map(|x| x.gene.as_str())
        .collect();
    summary["against_generator"] = serde_json::json!({
        "linked_genes": links.len(),
        "linked_genes_found": per_gene.iter().filter(|g| !g["strongest_feature"].is_null()).count(),
        "significant_pairs": significant.len(),
        "pairs_with_an_unlinked_gene": false_pairs,
        "false_share": if significant.is_empty() { 0.0 } else { false_pairs as f64 / significant.len() as f64 },
        "unlinked_genes_significant": unlinked,
        "per_linked_gene": per_gene,
    });
    Ok((summary, svg))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    oncolens_core::fs::write_atomic(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// The strongest pairs as a grid: the 15 genes and 15 features of the smallest p-values.
fn heatmap(table: &[Association], method: Method) -> String {
    let mut genes: Vec<&str> = Vec::new();
    let mut features: Vec<&str> = Vec::new();
    for a in table {
        if genes.len() < 15 && !genes.contains(&a.gene.as_str()) {
            genes.push(&a.gene);
        }
        if features.len() < 15 && !features.contains(&a.feature.as_str()) {
            features.push(&a.feature);
        }
    }
    let values = genes
        .iter()
        .map(|g| {
            features
                .iter()
                .map(|f| {
                    table
                        .iter()
                        .find(|a| a.gene == *g && a.feature == *f)
                        .map_or(f64::NAN, |a| a.r)
                })
                .collect()
        })
        .collect();
    heatmap_table(&HeatmapTable {
        title: format!(
            "{} correlation, strongest gene-feature pairs",
            method_name(method)
        ),
        row_labels: genes.iter().map(|s| (*s).to_owned()).collect(),
        col_labels: features.iter().map(|s| (*s).to_owned()).collect(),
        values,
        range: Some((-1.0, 1.0)),
        decimals: 2,
    })
}
