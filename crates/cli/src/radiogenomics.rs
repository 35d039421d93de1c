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

pub fn run(args: &RadiogenomicsArgs) -> Result<()> {
    if !(args.fdr > 0.0 && args.fdr < 1.0) {
        bail!("--fdr must be between 0 and 1");
    }
    let (ids, sites, features) = read_features(&args.features, args)?;
    let expression = read_expression_table_with(
        &args.expression,
        &OmicsOptions {
            orientation: None,
            known_samples: Some(ids.clone()),
        },
    )
    .with_context(|| format!("reading {}", args.expression.display()))?;
    // Cases in both tables, in the feature table's order.
    let rows: Vec<(usize, usize)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            expression
                .samples
                .iter()
                .position(|s| s == id)
                .map(|s| (i, s))
        })
        .collect();
    if rows.len() < 5 {
        bail!(
            "{} and {} share {} cases; at least 5 are needed",
            args.features.display(),
            args.expression.display(),
            rows.len()
        );
    }
    let features: Vec<Variable> = features
        .into_iter()
        .map(|f| Variable::new(f.name, rows.iter().map(|&(i, _)| f.values[i]).collect()))
        .collect();
    let n_genes = expression.genes.len();
    let genes: Vec<Variable> = expression
        .genes
        .iter()
        .enumerate()
        .map(|(g, name)| {
            Variable::new(
                name.clone(),
                rows.iter()
                    .map(|&(_, s)| expression.values[s * n_genes + g])
                    .collect(),
            )
        })
        .collect();
    let site_index: Option<Vec<usize>> = sites.as_ref().map(|s| {
        let distinct: BTreeSet<&String> = rows.iter().map(|&(i, _)| &s[i]).collect();
        let distinct: Vec<&String> = distinct.into_iter().collect();
        rows.iter()
            .map(|&(i, _)| distinct.iter().position(|d| **d == s[i]).unwrap_or(0))
            .collect()
    });
    let method = match args.method {
        MethodArg::Spearman => Method::Spearman,
        MethodArg::Pearson => Method::Pearson,
    };
    let table = associate(&features, &genes, site_index.as_deref(), method)?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["feature", "gene", "n", "r", "df", "p", "q"])?;
    for a in &table {
        w.write_record([
            a.feature.clone(),
            a.gene.clone(),
            a.n.to_string(),
            a.r.to_string(),
            a.df.to_string(),
            a.p.to_string(),
            a.q.to_string(),
        ])?;
    }
    write(&args.out.join("associations.csv"), &w.into_inner()?)?;

    let significant: Vec<&Association> = table.iter().filter(|a| a.q <= args.fdr).collect();
    // Each gene's strongest feature (smallest p), for the genes with a significant pair.
    let mut best: BTreeMap<&str, &Association> = BTreeMap::new();
    for a in &significant {
        best.entry(a.gene.as_str()).or_insert(a);
    }
    let summary = serde_json::json!({
        "method": method,
        "site_adjusted": site_index.is_some(),
        "cases": rows.len(),
        "features": features.len(),
        "genes": genes.len(),
        "tests": table.len(),
        "fdr": args.fdr,
        "significant": significant.len(),
        "genes_with_a_significant_feature": best.values().collect::<Vec<_>>(),
        "top": table.iter().take(25).collect::<Vec<_>>(),
    });
    write(
        &args.out.join("radiogenomics.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    write(
        &args.out.join("heatmap.svg"),
        heatmap(&table, method).as_bytes(),
    )?;
    println!(
        "{} cases, {} features x {} genes = {} tests ({}, {}); {} pairs at FDR {}: {} genes. Wrote {}",
        rows.len(),
        features.len(),
        genes.len(),
        table.len(),
        match method {
            Method::Spearman => "Spearman",
            Method::Pearson => "Pearson",
        },
        if site_index.is_some() {
            "site-adjusted"
        } else {
            "not adjusted for site"
        },
        significant.len(),
        args.fdr,
        best.len(),
        args.out.display()
    );
    for (gene, a) in &best {
        println!(
            "  {gene:<10} {:<32} r {:+.3}  q {:.2e}",
            a.feature, a.r, a.q
        );
    }
    Ok(())
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
            match method {
                Method::Spearman => "Spearman",
                Method::Pearson => "Pearson",
            }
        ),
        row_labels: genes.iter().map(|s| (*s).to_owned()).collect(),
        col_labels: features.iter().map(|s| (*s).to_owned()).collect(),
        values,
        range: Some((-1.0, 1.0)),
        decimals: 2,
    })
}
