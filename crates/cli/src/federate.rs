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
use oncolens_train::split::{Split, holdout, kfold};
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
pub enum Partition {
    /// One station per site of the cohort (the real federation).
    Sites,
    /// As many stations as sites, each given a random, label-stratified share of the patients
    /// (an IID control: what federated averaging does when the stations do not differ).
    Random,
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
    /// Evaluate by K-fold cross-validation (K >= 2): every labelled patient is a test patient
    /// once, and the AUCs are those of the pooled out-of-fold predictions. 0 = one hold-out
    /// split (25% of patients).
    #[arg(long, default_value_t = 0)]
    pub folds: usize,
    /// How patients are assigned to stations: by site, or at random (an IID control).
    #[arg(long, value_enum, default_value_t = Partition::Sites)]
    pub partition: Partition,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// One evaluation split's results: both models' predictions on its test patients.
struct SplitResult {
    /// The federation's loop and schedule on one station holding every training patient.
    central: Predictions,
    central_model: oncolens_federated::FederatedModel,
    /// `oncolens train`'s own schedule (early stopping on validation AUC).
    early: Predictions,
    early_threshold: f64,
    early_best_epoch: usize,
    fed: Predictions,
    fed_model: oncolens_federated::FederatedModel,
    audit_logs: Vec<String>,
}

/// What every split shares: the parsed arguments and the cohort.
struct Setup<'a> {
    args: &'a FederateArgs,
    cases: &'a [oncolens_train::PreparedCase],
    sites: &'a [String],
    /// The station of each case (its site, or a random share with `--partition random`).
    station_of: &'a [String],
    drop_out: &'a Option<(String, usize)>,
    fed_cfg: &'a FederatedConfig,
    device: &'a oncolens_nn::Device,
}

/// Trains the centralised model and runs the federation on one split; both predict the split's
/// test patients, which neither saw.
fn run_split(
    setup: &Setup<'_>,
    split: &Split,
    stations_dir: &std::path::Path,
) -> Result<SplitResult> {
    let Setup {
        args,
        cases,
        sites,
        station_of,
        drop_out,
        fed_cfg,
        device,
    } = *setup;
    let test_refs: Vec<&oncolens_train::PreparedCase> =
        split.test.iter().map(|&i| &cases[i]).collect();
    let pick_all = |idx: &[usize]| -> Vec<oncolens_train::PreparedCase> {
        idx.iter().map(|&i| cases[i].clone()).collect()
    };
    // The centralised comparison runs the federation's own code with one station that holds
    // every training patient: the same local loop, rounds, optimiser resets and round
    // selection, so the only difference from the federated model is that the data are pooled.
    eprintln!("centralised: the same rounds on one station holding the pooled patients");
    let mut pooled: Vec<Box<dyn Participant>> = vec![Box::new(LocalStation::new(
        String::from("pooled"),
        pick_all(&split.train),
        pick_all(&split.val),
        device.clone(),
    ))];
    let pooled_cfg = FederatedConfig {
        strategy: Strategy::FedAvg,
        min_participants: 1,
        secure_aggregation: false,
        ..fed_cfg.clone()
    };
    let bar = progress::bar(fed_cfg.rounds as u64, "centralised rounds");
    let central_model = run_federation(&mut pooled, &pooled_cfg, device, &|log| {
        bar.set_position(log.round as u64)
    })?;
    bar.finish_and_clear();
    let central_pred = predict_federated(&central_model, &test_refs, device)?;
    eprintln!("centralised: `oncolens train` (early stopping on validation AUC)");
    let early = train_one(
        cases,
        split,
        fed_cfg.modalities,
        &fed_cfg.train,
        device,
        "centralised (early stopping)",
    )?;
    let early_logits = early.logits(&test_refs, device)?;
    let early_pred = Predictions::new(
        &test_refs,
        early_logits.clone(),
        oncolens_metrics::apply_temperature(&early_logits, 1.0)?,
    );

    let mut locals: Vec<(String, LocalStation)> = Vec::new();
    for site in sites {
        let pick = |idx: &[usize]| -> Vec<oncolens_train::PreparedCase> {
            idx.iter()
                .filter(|&&i| station_of[i] == *site)
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
            .map(|(site, station)| match drop_out {
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
                stations_dir,
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
    eprintln!(
        "federated: {} stations ({}), {} rounds of {} local epochs, {}",
        sites.len(),
        sites.join(", "),
        fed_cfg.rounds,
        fed_cfg.local_epochs,
        fed_cfg.strategy.name()
    );
    let bar = progress::bar(fed_cfg.rounds as u64, "federated rounds");
    let fed = run_federation(&mut stations, fed_cfg, device, &|log| {
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
    let fed_pred = predict_federated(&fed, &test_refs, device)?;
    Ok(SplitResult {
        central: central_pred,
        central_model,
        early: early_pred,
        early_threshold: early.threshold,
        early_best_epoch: early.best_epoch,
        fed: fed_pred,
        fed_model: fed,
        audit_logs,
    })
}

/// A federated global model's predictions (probabilities = sigmoid of the logit).
fn predict_federated(
    fed: &oncolens_federated::FederatedModel,
    test: &[&oncolens_train::PreparedCase],
    device: &oncolens_nn::Device,
) -> Result<Predictions> {
    let global = fed.model(device)?;
    let samples: Vec<_> = test.iter().map(|c| fed.preprocessor.sample(c)).collect();
    let logits = oncolens_train::trainer::predict_logits(
        &global,
        &fed.config,
        &samples,
        fed.preprocessor.image_input.side(),
        device,
    )?;
    Ok(Predictions::new(
        test,
        logits.clone(),
        oncolens_metrics::apply_temperature(&logits, 1.0)?,
    ))
}

/// Saves a federated global model as a model folder that `predict` and `explain` read.
fn save_federated(
    dir: &std::path::Path,
    fed: &oncolens_federated::FederatedModel,
    about: serde_json::Value,
    device: &oncolens_nn::Device,
) -> Result<()> {
    let saved = oncolens_train::TrainedModel {
        model: fed.model(device)?,
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
    oncolens_train::model_dir::save_model(dir, &saved, about)?;
    Ok(())
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
    if args.folds == 1 {
        bail!("--folds must be 0 (one hold-out split) or at least 2");
    }
    if args.tls && args.transport != Transport::Loopback {
        bail!("--tls needs --transport loopback");
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
    if args.transport == Transport::Loopback && drop_out.is_some() {
        bail!("--drop-station simulates a drop-out in process; use --transport in-process");
    }
    let cases = prepare(&args.cohort, &cfg.image_input, args.model.positive_from)?;
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
    let station_of: Vec<String> = match args.partition {
        Partition::Sites => cases.iter().map(|c| c.site.clone()).collect(),
        Partition::Random => {
            let all: Vec<usize> = (0..cases.len()).collect();
            let shares =
                oncolens_train::split::stratified_folds(&cases, &all, sites.len(), cfg.seed ^ 0x1d);
            sites = (1..=shares.len()).map(|k| format!("random_{k}")).collect();
            let mut of = vec![String::new(); cases.len()];
            for (k, share) in shares.iter().enumerate() {
                for &i in share {
                    of[i] = sites[k].clone();
                }
            }
            of
        }
    };
    if let Some((site, _)) = &drop_out
        && !sites.contains(site)
    {
        bail!(
            "--drop-station: no site `{site}` (sites: {})",
            sites.join(", ")
        );
    }
    // The same patient-level splits as `oncolens train`: test patients are never seen by either
    // the federation or the centralised model.
    let splits = if args.folds >= 2 {
        kfold(&cases, args.folds, 0.2, cfg.seed)
    } else {
        vec![holdout(&cases, 0.25, 0.2, cfg.seed)]
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
    let setup = Setup {
        args,
        cases: &cases,
        sites: &sites,
        station_of: &station_of,
        drop_out: &drop_out,
        fed_cfg: &fed_cfg,
        device: &device,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let seed = cfg.seed;
    let cross_validated = splits.len() > 1;
    let about = json!({"federated": {"strategy": strategy.name(), "rounds": args.rounds, "stations": sites.len()}});
    let mut results = Vec::new();
    for (k, split) in splits.iter().enumerate() {
        let (stations_dir, model_dir) = if cross_validated {
            eprintln!("fold {} of {}", k + 1, splits.len());
            let fold = args.out.join("folds").join(format!("fold{}", k + 1));
            (fold.join("stations"), fold.join("model"))
        } else {
            (args.out.join("stations"), args.out.join("model"))
        };
        let r = run_split(&setup, split, &stations_dir)?;
        save_federated(&model_dir, &r.fed_model, about.clone(), &device)?;
        results.push(r);
    }

    // Pooled predictions: with one split, its test patients; with K folds, every labelled
    // patient once, predicted by the models of the fold that held it out.
    let mut central_pred = Predictions::default();
    let mut early_pred = Predictions::default();
    let mut fed_pred = Predictions::default();
    for r in &results {
        central_pred.extend(r.central.clone());
        early_pred.extend(r.early.clone());
        fed_pred.extend(r.fed.clone());
    }
    // The round-based models use 0.5. One split keeps the early-stopped model's own validation
    // threshold; pooled folds have one threshold per fold, so they use 0.5 as well.
    let early_threshold = if cross_validated {
        0.5
    } else {
        results[0].early_threshold
    };
    let mut fed_json = report_json(&fed_pred, 0.5, seed);
    let mut central_json = report_json(&central_pred, 0.5, seed);
    let mut early_json = report_json(&early_pred, early_threshold, seed);
    let fed_sites: BTreeMap<String, serde_json::Value> = per_site(&fed_pred, 0.5, seed);
    let central_sites = per_site(&central_pred, 0.5, seed);
    let audit_logs: Vec<String> = results
        .iter()
        .flat_map(|r| r.audit_logs.iter().cloned())
        .collect();
    let fold_auc = |p: &Predictions| oncolens_metrics::roc_auc(&p.logits, &p.labels).ok();
    if let Some(o) = fed_json.as_object_mut() {
        o.insert("per_site".into(), json!(fed_sites));
        o.insert("strategy".into(), json!(strategy));
        o.insert("rounds".into(), json!(args.rounds));
        o.insert("local_epochs".into(), json!(fed_cfg.local_epochs));
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
        if cross_validated {
            let folds: Vec<serde_json::Value> = results
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    json!({"fold": k + 1, "test_patients": r.fed.labels.len(),
                           "auc": fold_auc(&r.fed), "best_round": r.fed_model.best_round,
                           "history": r.fed_model.history})
                })
                .collect();
            o.insert("folds".into(), json!(folds));
        } else {
            o.insert("best_round".into(), json!(results[0].fed_model.best_round));
            o.insert("history".into(), json!(results[0].fed_model.history));
        }
    }
    if let Some(o) = central_json.as_object_mut() {
        o.insert("per_site".into(), json!(central_sites));
        o.insert(
            "schedule".into(),
            json!(
                "the federated rounds on one station holding every training patient (FedAvg \
                   with one participant): same local loop, rounds, optimiser resets and round \
                   selection"
            ),
        );
        if cross_validated {
            let folds: Vec<serde_json::Value> = results
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    json!({"fold": k + 1, "auc": fold_auc(&r.central),
                           "best_round": r.central_model.best_round})
                })
                .collect();
            o.insert("folds".into(), json!(folds));
        } else {
            o.insert(
                "best_round".into(),
                json!(results[0].central_model.best_round),
            );
            o.insert("history".into(), json!(results[0].central_model.history));
        }
    }
    if let Some(o) = early_json.as_object_mut() {
        o.insert(
            "schedule".into(),
            json!("`oncolens train`: early stopping on validation AUC"),
        );
        if cross_validated {
            let folds: Vec<serde_json::Value> = results
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    json!({"fold": k + 1, "auc": fold_auc(&r.early),
                           "best_epoch": r.early_best_epoch})
                })
                .collect();
            o.insert("folds".into(), json!(folds));
        } else {
            o.insert("best_epoch".into(), json!(results[0].early_best_epoch));
        }
    }
    let auc = |v: &serde_json::Value| v.get("auc").and_then(serde_json::Value::as_f64);
    let difference = match (auc(&fed_json), auc(&central_json)) {
        (Some(f), Some(c)) => Some(f - c),
        _ => None,
    };
    // Both models scored the same patients: a paired bootstrap of the difference.
    let difference_ci = oncolens_metrics::bootstrap_auc_difference_ci(
        &fed_pred.logits,
        &central_pred.logits,
        &fed_pred.labels,
        2000,
        0.95,
        seed,
    )
    .ok();
    let evaluation = if cross_validated {
        format!(
            "{}-fold stratified cross-validation; AUCs of the pooled out-of-fold predictions",
            splits.len()
        )
    } else {
        "one hold-out split (25% of patients)".to_owned()
    };
    let metrics = json!({
        "federated": fed_json,
        "centralised": central_json,
        "centralised_early_stopping": early_json,
        "auc_difference": difference,
        "auc_difference_ci95": difference_ci,
        "evaluation": evaluation,
        "test_patients": fed_pred.labels.len(),
        "stations": sites,
        "partition": match args.partition {
            Partition::Sites => "one station per site",
            Partition::Random => "random label-stratified shares (IID control)",
        },
        "modalities": modalities.names(),
        "note": "test AUC on the same held-out patients; the federated model is the global \
                 model of the round with the best example-weighted validation AUC reported by \
                 the stations; it is not temperature-scaled (probabilities = sigmoid(logit)); \
                 auc_difference = federated - centralised (same schedule on pooled patients), \
                 auc_difference_ci95 a paired bootstrap over patients (2000 resamples)",
    });
    let path = args.out.join("metrics.json");
    oncolens_core::fs::write_atomic(&path, &serde_json::to_vec_pretty(&metrics)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let fmt = |v: Option<f64>| v.map_or("n/a".to_owned(), |a| format!("{a:.3}"));
    let ci = difference_ci.map_or(String::new(), |(lo, hi)| {
        format!(", 95% CI [{lo:+.3}, {hi:+.3}]")
    });
    println!(
        "test AUC ({} patients, {}): federated {} vs centralised {} (difference {}{ci})",
        fed_pred.labels.len(),
        if cross_validated {
            format!("{}-fold out-of-fold", splits.len())
        } else {
            "hold-out".to_owned()
        },
        fmt(auc(&metrics["federated"])),
        fmt(auc(&metrics["centralised"])),
        fmt(difference)
    );
    println!("wrote {}", path.display());
    Ok(())
}
