//! What `oncolens survival` and `oncolens logistic` share: reaching data stations for an exact
//! federated fit, and writing the result.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oncolens_station::{ClientIdentity, StationClient};

/// Where the stations are and how to trust them.
#[derive(clap::Args)]
pub struct StationsArgs {
    /// Fit across data stations instead of a table (comma-separated base URLs of `oncolens
    /// station serve`): exact, and only sums over each station's patients leave (the stations'
    /// policies must approve `mean` and the fit's terms algorithm); numeric covariates only.
    #[arg(long, value_delimiter = ',')]
    pub stations: Vec<String>,
    /// CA certificate (PEM) the stations' certificates must chain to (HTTPS stations).
    #[arg(long, requires = "stations")]
    pub ca: Option<PathBuf>,
    /// This aggregator's certificate (PEM) for mutual TLS, with --key.
    #[arg(long, requires = "ca")]
    pub cert: Option<PathBuf>,
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
}

impl StationsArgs {
    /// A client per station and each station's own name (from `GET /v1/info`).
    pub fn connect(&self) -> Result<(Vec<StationClient>, Vec<String>)> {
        let identity = self
            .cert
            .clone()
            .zip(self.key.clone())
            .map(|(cert_pem, key_pem)| ClientIdentity { cert_pem, key_pem });
        let clients: Vec<StationClient> = self
            .stations
            .iter()
            .map(|url| match &self.ca {
                Some(ca) => StationClient::with_tls(url, ca, identity.as_ref())
                    .with_context(|| format!("station {url}")),
                None => Ok(StationClient::new(url)),
            })
            .collect::<Result<_>>()?;
        let names = clients
            .iter()
            .zip(&self.stations)
            .map(|(c, url)| {
                let info = c.info().with_context(|| format!("station {url}"))?;
                Ok(info["station"].as_str().unwrap_or(url).to_owned())
            })
            .collect::<Result<_>>()?;
        Ok((clients, names))
    }
}

/// Writes `text` to a new file `out`, or prints it.
pub fn emit(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(path) => {
            if path.exists() {
                bail!("{}: exists; choose a new output file", path.display());
            }
            oncolens_core::fs::write_atomic(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// One row of a regression's coefficient table.
pub struct CoefficientRow<'a> {
    pub name: &'a str,
    pub coef: f64,
    /// exp(coef): hazard or odds ratio, with its 95% interval.
    pub ratio: f64,
    pub ratio_lower: f64,
    pub ratio_upper: f64,
    pub se: f64,
    pub z: f64,
    pub p: f64,
}

/// The coefficient table as lifelines and statsmodels print it, in short: `ratio` names the
/// exponentiated coefficient (`HR`, `OR`).
pub fn coefficient_table(first: &str, ratio: &str, rows: &[CoefficientRow<'_>]) -> String {
    use std::fmt::Write as _;
    let width = rows
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(first.len());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{first:<width$} {:>10} {:>10} {:>21} {:>9} {:>7} {:>9}",
        "coef",
        ratio,
        format!("{ratio} 95% CI"),
        "se",
        "z",
        "p"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<width$} {:>10.4} {:>10.4} {:>21} {:>9.4} {:>7.2} {:>9.3e}",
            r.name,
            r.coef,
            r.ratio,
            format!("[{:.3}, {:.3}]", r.ratio_lower, r.ratio_upper),
            r.se,
            r.z,
            r.p
        );
    }
    s
}

/// "N of M rows left out: k empty column, ..." when rows were left out.
pub fn left_out(
    rows: usize,
    used: usize,
    missing: &std::collections::BTreeMap<String, usize>,
) -> Option<String> {
    (used < rows).then(|| {
        let why: Vec<String> = missing
            .iter()
            .map(|(c, n)| format!("{n} empty {c}"))
            .collect();
        format!(
            "{} of {rows} rows left out: {}",
            rows - used,
            why.join(", ")
        )
    })
}
