//! `oncolens station`: run a hospital's data station, or make a test certificate authority.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use oncolens_federated::LocalStation;
use oncolens_federated::remote::{FederatedTrainAlgorithm, RdpBudget};
use oncolens_train::split::carve_validation;

use crate::learn::{ModelArgs, prepare};

#[derive(clap::Args)]
pub struct StationArgs {
    #[command(subcommand)]
    pub command: StationCommand,
}

#[derive(clap::Subcommand)]
pub enum StationCommand {
    /// Serve one site's cohort: statistics and federated training under a policy, every
    /// request in an append-only audit log, optionally over mutual TLS.
    Serve(Box<ServeArgs>),
    /// Join a federation run by Flower (flwr 1.42): act as a Flower client node over Flower's
    /// Fleet API, train the plan's model on this site's patients, return the updates.
    Flower(Box<FlowerArgs>),
    /// Make a test certificate authority and one certificate per name (stations and the
    /// aggregator) for mutual TLS. Not for production: use your hospital's PKI there.
    MakeCa(MakeCaArgs),
    /// Write a plan's weights as one float32 .npy array (the flat parameters, in the order
    /// every station uses): the initial model of a Flower ServerApp (`initial-npy` in
    /// fixtures/flower/app).
    PlanNpy(PlanNpyArgs),
}

#[derive(clap::Args)]
pub struct PlanNpyArgs {
    /// The plan: an oncolens model folder.
    #[arg(long)]
    pub plan: PathBuf,
    /// The .npy file to write.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The site's cohort folder (ingested and de-identified).
    #[arg(long)]
    pub data: PathBuf,
    /// Policy file (TOML): allowed algorithms and outputs, minimum cohort and cell sizes,
    /// privacy budget (example: fixtures/station/policy.toml).
    #[arg(long)]
    pub policy: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Station name (default: the data folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Audit log (JSON lines, hash-chained); created or verified and continued.
    #[arg(long, default_value = "station-audit.jsonl")]
    pub audit_log: PathBuf,
    /// This station's certificate (PEM); with --tls-key and --client-ca turns on mutual TLS.
    #[arg(long, requires_all = ["tls_key", "client_ca"])]
    pub tls_cert: Option<PathBuf>,
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// CA whose certificates clients (the aggregator) must present.
    #[arg(long)]
    pub client_ca: Option<PathBuf>,
    /// Differential privacy: Gaussian noise multiplier of every released model update (0 =
    /// off); the policy's [privacy] budget is enforced with an RDP accountant.
    #[arg(long, default_value_t = 0.0)]
    pub dp_noise_multiplier: f64,
    /// L2 clipping norm of each released update (with --dp-noise-multiplier).
    #[arg(long, default_value_t = 1.0)]
    pub dp_clip: f64,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(clap::Args)]
pub struct FlowerArgs {
    /// The SuperLink's Fleet API URL (e.g. http://127.0.0.1:9095).
    #[arg(long)]
    pub superlink: String,
    /// The site's cohort folder.
    #[arg(long)]
    pub data: PathBuf,
    /// The federation's plan: an oncolens model folder (its model.json gives the architecture
    /// and preprocessing every station shares; the ServerApp starts from its weights).
    #[arg(long)]
    pub plan: PathBuf,
    /// Local epochs per round (the ServerApp may override with config `local-epochs`).
    #[arg(long, default_value_t = 2)]
    pub local_epochs: usize,
    /// Leave after this many training rounds.
    #[arg(long)]
    pub rounds: Option<u64>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(clap::Args)]
pub struct MakeCaArgs {
    /// Output folder for ca.pem, ca.key, NAME.pem, NAME.key.
    #[arg(long)]
    pub out: PathBuf,
    /// Names (certificate CN), comma-separated, e.g. site_a,site_b,aggregator.
    #[arg(long)]
    pub names: String,
}

pub fn run(args: &StationArgs) -> Result<()> {
    match &args.command {
        StationCommand::Serve(a) => serve(a),
        StationCommand::Flower(a) => flower(a),
        StationCommand::PlanNpy(a) => plan_npy(a),
        StationCommand::MakeCa(a) => {
            let names: Vec<&str> = a
                .names
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if names.is_empty() {
                bail!("--names: give at least one name");
            }
            let ca = oncolens_station::make_test_ca(&a.out, &names)
                .with_context(|| format!("writing the CA to {}", a.out.display()))?;
            println!("test CA: {}", ca.ca_cert.display());
            for (n, (cert, key)) in &ca.identities {
                println!("  {n}: {} {}", cert.display(), key.display());
            }
            Ok(())
        }
    }
}

/// The site's patients split for local training: the cohort's test patients never train; a
/// stratified fifth of the rest validates.
fn local_station(
    name: &str,
    data: &std::path::Path,
    model: &ModelArgs,
) -> Result<(LocalStation, usize)> {
    let cfg = model.train_config()?;
    let cases = prepare(data, &cfg.image_input, model.positive_from)?;
    let pool: Vec<usize> = (0..cases.len())
        .filter(|&i| cases[i].split.as_deref() != Some("test"))
        .collect();
    let (train, val) = carve_validation(&cases, &pool, 0.2, cfg.seed);
    Ok((
        LocalStation::new(
            name.to_owned(),
            train.iter().map(|&i| cases[i].clone()).collect(),
            val.iter().map(|&i| cases[i].clone()).collect(),
            oncolens_nn::default_device(),
        ),
        cases.len(),
    ))
}

fn plan_npy(args: &PlanNpyArgs) -> Result<()> {
    let device = oncolens_nn::default_device();
    let plan = oncolens_train::model_dir::load_model(&args.plan, &device)
        .with_context(|| format!("loading the plan {}", args.plan.display()))?;
    let weights = oncolens_nn::params::flatten(&plan.model)?;
    let array = oncolens_flower::NdArray::from_f32(vec![weights.len()], &weights)?;
    oncolens_core::fs::write_atomic(&args.out, &array.to_npy())
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} float32 parameters)",
        args.out.display(),
        weights.len()
    );
    Ok(())
}

fn flower(args: &FlowerArgs) -> Result<()> {
    let device = oncolens_nn::default_device();
    let plan = oncolens_train::model_dir::load_model(&args.plan, &device)
        .with_context(|| format!("loading the plan {}", args.plan.display()))?;
    let name = args
        .data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "station".into());
    let (local, n) = local_station(&name, &args.data, &args.model)?;
    let train_cfg = oncolens_train::TrainConfig {
        image_input: plan.preprocessor.image_input,
        ..args.model.train_config()?
    };
    let mut client = oncolens_federated::flower_station::FlowerStation::new(
        local,
        &plan.preprocessor,
        &plan.config,
        &train_cfg,
        args.local_epochs,
    )?;
    eprintln!(
        "station {name}: {n} patients; joining the Flower federation at {}",
        args.superlink
    );
    let summary = oncolens_flower::run_node(
        &args.superlink,
        &mut client,
        oncolens_flower::NodeOptions {
            max_rounds: args.rounds,
            ..oncolens_flower::NodeOptions::default()
        },
    )?;
    eprintln!("left the federation: {summary:?}");
    Ok(())
}

fn serve(args: &ServeArgs) -> Result<()> {
    let name = args.name.clone().unwrap_or_else(|| {
        args.data
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "station".into())
    });
    let mut station = oncolens_station::Station::open(
        name.clone(),
        &args.data,
        &args.policy,
        &args.audit_log,
        Arc::new(RdpBudget),
    )
    .with_context(|| format!("opening station {name}"))?;
    // Federated training on this site's patients: the cohort's test patients (split column)
    // never train; a stratified fifth of the rest validates.
    let (mut local, n_cases) = local_station(&name, &args.data, &args.model)?;
    if args.dp_noise_multiplier > 0.0 {
        let Some(privacy) = station.policy().privacy else {
            bail!("--dp-noise-multiplier needs a [privacy] budget in the policy");
        };
        local = local.with_privacy(oncolens_federated::StationPrivacy::new(
            oncolens_privacy::dp::GaussianMechanism::new(args.dp_clip, args.dp_noise_multiplier)
                .context("--dp-clip / --dp-noise-multiplier")?,
            privacy.epsilon_budget,
            privacy.delta,
        ));
    }
    station.register(Arc::new(FederatedTrainAlgorithm::new(local)));
    station.register(Arc::new(RadiomicsAlgorithm::new(args.data.clone())));
    let tls = match (&args.tls_cert, &args.tls_key, &args.client_ca) {
        (Some(c), Some(k), Some(ca)) => Some(
            oncolens_station::TlsConfig::mutual(c, k, ca).context("loading TLS certificates")?,
        ),
        _ => None,
    };
    let scheme = if tls.is_some() {
        "https (mutual TLS)"
    } else {
        "http"
    };
    eprintln!(
        "station {name}: {} patients, serving {scheme} on {}; audit log {}; Ctrl-C stops",
        n_cases,
        args.listen,
        args.audit_log.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(oncolens_station::serve(
        Arc::new(station),
        args.listen,
        tls,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ))?;
    Ok(())
}

/// Station algorithm `radiomics`: IBSI features (PyRadiomics preset) of every case with a lesion
/// mask, computed at the station; only per-feature aggregates leave (n, sum, sum of squares,
/// so the aggregator pools means and variances exactly), and only over at least the policy's
/// minimum cohort. Args: `{"features": ["morph_volume", ...]}` (IBSI tags; at most 50).
pub struct RadiomicsAlgorithm {
    cohort: PathBuf,
}

impl RadiomicsAlgorithm {
    pub fn new(cohort: PathBuf) -> Self {
        Self { cohort }
    }
}

impl oncolens_station::Algorithm for RadiomicsAlgorithm {
    fn name(&self) -> &str {
        "radiomics"
    }

    fn output_kind(&self) -> oncolens_station::OutputKind {
        oncolens_station::OutputKind::AggregateStatistics
    }

    fn privacy_cost(
        &self,
        _args: &serde_json::Value,
    ) -> Result<Option<oncolens_station::DpCost>, oncolens_station::JobError> {
        Ok(None)
    }

    fn run(
        &self,
        ctx: &oncolens_station::JobContext,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, oncolens_station::JobError> {
        use oncolens_station::JobError;
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Args {
            features: Vec<String>,
        }
        let a: Args = oncolens_station::parse_args(args)?;
        if a.features.is_empty() || a.features.len() > 50 {
            return Err(JobError::BadArgs(
                "args.features: name 1 to 50 IBSI feature tags".into(),
            ));
        }
        let failed = |e: anyhow::Error| JobError::Failed(format!("{e:#}"));
        let rows = crate::radiomics::cohort_features(&self.cohort, false).map_err(failed)?;
        ctx.check_cohort(rows.len())?;
        let mut out = serde_json::Map::new();
        for name in &a.features {
            let values: Vec<f64> = rows
                .iter()
                .filter_map(|r| r.features.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
                .filter(|v| v.is_finite())
                .collect();
            if values.is_empty()
                && !rows.is_empty()
                && !rows[0].features.iter().any(|(n, _)| n == name)
            {
                return Err(JobError::BadArgs(format!(
                    "args.features: unknown feature `{name}` (use IBSI tags such as morph_volume)"
                )));
            }
            let n = values.len();
            let agg = if n < ctx.policy.min_cell_size {
                serde_json::json!({"n": null, "suppressed": format!(
                    "fewer than min_cell_size = {} cases", ctx.policy.min_cell_size)})
            } else {
                serde_json::json!({
                    "n": n,
                    "sum": values.iter().sum::<f64>(),
                    "sum_sq": values.iter().map(|v| v * v).sum::<f64>(),
                })
            };
            out.insert(name.clone(), agg);
        }
        Ok(serde_json::json!({ "cases": rows.len(), "features": out }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use oncolens_station::{Algorithm, JobContext, JobError, Policy, StationTable};

    fn context(min_cohort: usize) -> JobContext {
        let policy = Policy::from_toml_str(
            &format!(
                "allowed_algorithms = [\"radiomics\"]\nallowed_outputs = \
                 [\"aggregate_statistics\"]\nmin_cohort_size = {min_cohort}\nmin_cell_size = \
                 {min_cohort}\nsuppression = \"cell\"\nmax_request_bytes = 65536\n"
            ),
            std::path::Path::new("policy.toml"),
        )
        .unwrap();
        JobContext {
            station: "site".into(),
            table: Arc::new(StationTable::new(0)),
            policy: Arc::new(policy),
            request_id: None,
        }
    }

    #[test]
    fn radiomics_leaves_the_station_only_as_aggregates() {
        let dir = tempfile::tempdir().unwrap();
        let cohort = dir.path().join("cohort");
        let config = oncolens_synth::SynthConfig {
            patients: 6,
            sites: 1,
            matrix: 32,
            ..oncolens_synth::SynthConfig::default()
        };
        oncolens_synth::generate(&config, &cohort, &|| {}).unwrap();
        let algo = RadiomicsAlgorithm::new(cohort);
        let r = algo
            .run(
                &context(5),
                serde_json::json!({"features": ["morph_volume", "stat_mean"]}),
            )
            .unwrap();
        let cases = r["cases"].as_u64().unwrap();
        assert!(cases >= 5, "{r}");
        let vol = &r["features"]["morph_volume"];
        assert_eq!(vol["n"].as_u64().unwrap(), cases);
        assert!(vol["sum"].as_f64().unwrap() > 0.0 && vol["sum_sq"].as_f64().unwrap() > 0.0);
        // Nothing per case: only n, sum and sum of squares per feature.
        assert_eq!(vol.as_object().unwrap().len(), 3);
        assert!(!r.to_string().contains("case_0001"));
        // Too small a cohort is refused; unknown features and arguments are errors.
        assert!(matches!(
            algo.run(
                &context(50),
                serde_json::json!({"features": ["morph_volume"]})
            ),
            Err(JobError::Refused(_))
        ));
        assert!(matches!(
            algo.run(&context(5), serde_json::json!({"features": ["nope"]})),
            Err(JobError::BadArgs(_))
        ));
        assert!(matches!(
            algo.run(&context(5), serde_json::json!({"feature": "morph_volume"})),
            Err(JobError::BadArgs(_))
        ));
    }
}
