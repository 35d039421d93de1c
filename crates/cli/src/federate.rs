//! `oncolens federate`: the embedded federation. One data station per site of a cohort trains
//! locally; an aggregator combines their weights; the same model trained on the pooled patients
//! is the comparison.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oncolens_federated::{
    DropsOut, FederatedConfig, LocalStation, Participant, Strategy, run_federation,
};
use oncolens_train::evaluate::{Predictions, per_site, report_json};
use oncolens_train::split::holdout;
use serde_json::json;

use crate::learn::{ModelArgs, prepare, train_one};
use crate::progress;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum StrategyArg {
    /// Example-weighted mean of the local models (McMahan et al. 2017).
    Fedavg,
    /// FedAvg with a proximal term in the local objective (Li et al. 2020), mu = 0.01.
    Fedprox,
    /// Server-side Adam on the mean update (Reddi et al. 2021).
    Fedadam,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    InProcess,
    Loopback,
}

#[derive(clap::Args)]
pub struct FederateArgs {
    /// Cohort folder; each site folder becomes one data station.
    #[arg(long)]
    pub cohort: PathBuf,
    /// Output folder: metrics.json and the federated model folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Federated rounds.
    #[arg(long, default_value_t = 12)]
    pub rounds: usize,
    #[arg(long, value_enum, default_value_t = StrategyArg::Fedavg)]
    pub strategy: StrategyArg,
    /// Local epochs per round at each station.
    #[arg(long, default_value_t = 2)]
    pub local_epochs: usize,
    /// Small-cell threshold for what stations share before training (report-word and code
    /// counts below it are withheld).
    #[arg(long, default_value_t = 5)]
    pub min_cell: u64,
    /// Simulate a station failing from a round on: SITE:ROUND (e.g. site_b:3).
    #[arg(long, value_name = "SITE:ROUND")]
    pub drop_station: Option<String>,
    /// How the aggregator reaches the stations: in this process, or each station behind its
    /// own HTTP server on loopback (the networked code path: policy, audit log, JSON jobs).
    #[arg(long, value_enum, default_value_t = Transport::InProcess)]
    pub transport: Transport,
    /// With --transport loopback: mutual TLS between the aggregator and every station
    /// (certificates from a test CA made in OUT/stations/pki).
    #[arg(long)]
    pub tls: bool,
    /// Aggregate by secure aggregation (pairwise masking): the aggregator only sees masked
    /// updates and their sum.
    #[arg(long)]
    pub secure_aggregation: bool,
    /// Differential privacy at every station: Gaussian noise multiplier of each released
    /// update (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub dp_noise_multiplier: f64,
    /// L2 norm each released update is clipped to (with --dp-noise-multiplier).
    #[arg(long, default_value_t = 1.0)]
    pub dp_clip: f64,
    /// Epsilon budget of each station; releases beyond it are refused.
    #[arg(long, default_value_t = 10.0)]
    pub dp_epsilon: f64,
    /// Delta of the (epsilon, delta) guarantee.
    #[arg(long, default_value_t = 1e-5)]
    pub dp_delta: f64,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: &FederateArgs) -> Result<()> {
    let device = oncolens_nn::default_device();
    let modalities = args.model.modality_set()?;
    let cfg = args.model.train_config()?;
    let strategy = Strategy::by_name(match args.strategy {
        StrategyArg::Fedavg => "fedavg",
        StrategyArg::Fedprox => "fedprox",
        StrategyArg::Fedadam => "fedadam",
    })
    .context("unknown strategy")?;
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let drop_out = match &args.drop_station {
        Some(spec) => {
            let (site, round) = spec
                .rsplit_once(':')
                .with_context(|| format!("--drop-station {spec}: expected SITE:ROUND"))?;
            let round: usize = round
                .parse()
                .with_context(|| format!("--drop-station {spec}: ROUND is not a number"))?;
            Some((site.to_owned(), round))
        }
        None => None,
    };
    let cases = prepare(&args.cohort, &cfg.image_input, args.model.positive_from)?;
    // The same patient-level split as `oncolens train`: test patients are never seen by either
    // the federation or the centralised model.
    let split = holdout(&cases, 0.25, 0.2, cfg.seed);
    let mut sites: Vec<String> = cases.iter().map(|c| c.site.clone()).collect();
    sites.sort();
    sites.dedup();
    if sites.len() < 2 {
        bail!(
            "{}: federated learning needs at least two sites, found {}",
            args.cohort.display(),
            sites.len()
        );
    }
    if let Some((site, _)) = &drop_out
        && !sites.contains(site)
    {
        bail!(
            "--drop-station: no site `{site}` (sites: {})",
            sites.join(", ")
        );
    }

    eprintln!("centralised: the same model on the pooled patients");
    let central = train_one(&cases, &split, modalities, &cfg, &device, "centralised")?;
    let test_refs: Vec<&oncolens_train::PreparedCase> =
        split.test.iter().map(|&i| &cases[i]).collect();
    let central_logits = central.logits(&test_refs, &device)?;
    let central_pred = Predictions::new(
        &test_refs,
        central_logits.clone(),
        oncolens_metrics::apply_temperature(&central_logits, 1.0)?,
    );

    if args.tls && args.transport != Transport::Loopback {
        bail!("--tls needs --transport loopback");
    }
    if args.transport == Transport::Loopback && drop_out.is_some() {
        bail!("--drop-station simulates a drop-out in process; use --transport in-process");
    }
    let mut locals: Vec<(String, LocalStation)> = Vec::new();
    for site in &sites {
        let pick = |idx: &[usize]| -> Vec<oncolens_train::PreparedCase> {
            idx.iter()
                .filter(|&&i| cases[i].site == *site)
                .map(|&i| cases[i].clone())
                .collect()
        };
        let mut station = LocalStation::new(
            site.clone(),
            pick(&split.train),
            pick(&split.val),
            device.clone(),
        );
        if args.dp_noise_multiplier > 0.0 {
            let mechanism = oncolens_privacy::dp::GaussianMechanism::new(
                args.dp_clip,
                args.dp_noise_multiplier,
            )
            .context("--dp-clip / --dp-noise-multiplier")?;
            station = station.with_privacy(oncolens_federated::StationPrivacy::new(
                mechanism,
                args.dp_epsilon,
                args.dp_delta,
            ));
        }
        locals.push((site.clone(), station));
    }
    let mut servers = None;
    let mut stations: Vec<Box<dyn Participant>> = match args.transport {
        Transport::InProcess => locals
            .into_iter()
            .map(|(site, station)| match &drop_out {
                Some((s, round)) if *s == site => Box::new(DropsOut::new(
                    station,
                    *round,
                    "did not answer (simulated drop-out)",
                )) as Box<dyn Participant>,
                _ => Box::new(station) as Box<dyn Participant>,
            })
            .collect(),
        Transport::Loopback => {
            let mut s = oncolens_federated::remote::LoopbackStations::start(
                locals,
                &args.out.join("stations"),
                args.tls,
            )?;
            for (site, url) in &s.urls {
                eprintln!("station {site} serving on {url}");
            }
            let parts = s.participants();
            servers = Some(s);
            parts
        }
    };
    let fed_cfg = FederatedConfig {
        rounds: args.rounds,
        local_epochs: args.local_epochs.max(1),
        strategy,
        min_participants: 2,
        min_cell: args.min_cell,
        modalities,
        train: cfg.clone(),
        secure_aggregation: args.secure_aggregation,
    };
    eprintln!(
        "federated: {} stations ({}), {} rounds of {} local epochs, {}",
        sites.len(),
        sites.join(", "),
        args.rounds,
        fed_cfg.local_epochs,
        strategy.name()
    );
    let bar = progress::bar(args.rounds as u64, "federated rounds");
    let fed = run_federation(&mut stations, &fed_cfg, &device, &|log| {
        bar.set_position(log.round as u64);
        for (site, why) in &log.dropped {
            bar.println(format!("round {}: {site} left out: {why}", log.round));
        }
    })?;
    bar.finish_and_clear();
    let audit_logs: Vec<String> = servers
        .as_ref()
        .map(|s| {
            s.audit_logs
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    // Stop the loopback station servers before the evaluation.
    drop(servers);
    let global = fed.model(&device)?;
    let samples: Vec<_> = test_refs
        .iter()
        .map(|c| fed.preprocessor.sample(c))
        .collect();
    let fed_logits = oncolens_train::trainer::predict_logits(
        &global,
        &fed.config,
        &samples,
        fed.preprocessor.image_input.side(),
        &device,
    )?;
    let fed_pred = Predictions::new(
        &test_refs,
        fed_logits.clone(),
        oncolens_metrics::apply_temperature(&fed_logits, 1.0)?,
    );

    let seed = cfg.seed;
    let mut fed_json = report_json(&fed_pred, 0.5, seed);
    let mut central_json = report_json(&central_pred, central.threshold, seed);
    let fed_sites: BTreeMap<String, serde_json::Value> = per_site(&fed_pred, 0.5, seed);
    let central_sites = per_site(&central_pred, central.threshold, seed);
    if let Some(o) = fed_json.as_object_mut() {
        o.insert("per_site".into(), json!(fed_sites));
        o.insert("strategy".into(), json!(strategy));
        o.insert("rounds".into(), json!(args.rounds));
        o.insert("local_epochs".into(), json!(fed_cfg.local_epochs));
        o.insert("best_round".into(), json!(fed.best_round));
        o.insert("secure_aggregation".into(), json!(args.secure_aggregation));
        o.insert(
            "transport".into(),
            json!(match args.transport {
                Transport::InProcess => "in-process",
                Transport::Loopback if args.tls => "loopback https (mutual TLS)",
                Transport::Loopback => "loopback http",
            }),
        );
        if !audit_logs.is_empty() {
            o.insert("audit_logs".into(), json!(audit_logs));
        }
        if args.dp_noise_multiplier > 0.0 {
            o.insert(
                "differential_privacy".into(),
                json!({"noise_multiplier": args.dp_noise_multiplier, "clip": args.dp_clip,
                       "epsilon_budget": args.dp_epsilon, "delta": args.dp_delta}),
            );
        }
        o.insert("history".into(), json!(fed.history));
    }
    if let Some(o) = central_json.as_object_mut() {
        o.insert("per_site".into(), json!(central_sites));
        o.insert("best_epoch".into(), json!(central.best_epoch));
    }
    let auc = |v: &serde_json::Value| v.get("auc").and_then(serde_json::Value::as_f64);
    let difference = match (auc(&fed_json), auc(&central_json)) {
        (Some(f), Some(c)) => Some(f - c),
        _ => None,
    };
    let metrics = json!({
        "federated": fed_json,
        "centralised": central_json,
        "auc_difference": difference,
        "test_patients": split.test.len(),
        "stations": sites,
        "modalities": modalities.names(),
        "note": "test AUC on the same held-out patients; the federated model is the global \
                 model of the round with the best example-weighted validation AUC reported by \
                 the stations; it is not temperature-scaled (probabilities = sigmoid(logit))",
    });
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let path = args.out.join("metrics.json");
    oncolens_core::fs::write_atomic(&path, &serde_json::to_vec_pretty(&metrics)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let saved = oncolens_train::TrainedModel {
        model: global,
        config: fed.config.clone(),
        preprocessor: fed.preprocessor.clone(),
        temperature: 1.0,
        threshold: 0.5,
        history: Vec::new(),
        best_epoch: fed.best_round,
        best_val_auc: fed
            .history
            .get(fed.best_round.saturating_sub(1))
            .and_then(|h| h.val_auc),
    };
    oncolens_train::model_dir::save_model(
        &args.out.join("model"),
        &saved,
        json!({"federated": {"strategy": strategy.name(), "rounds": args.rounds, "stations": sites.len()}}),
    )?;
    let fmt = |v: Option<f64>| v.map_or("n/a".to_owned(), |a| format!("{a:.3}"));
    println!(
        "test AUC ({} patients): federated {} vs centralised {} (difference {})",
        split.test.len(),
        fmt(auc(&metrics["federated"])),
        fmt(auc(&metrics["centralised"])),
        fmt(difference)
    );
    println!("wrote {}", path.display());
    Ok(())
}
