//! Federated training on small synthetic stations: the federation learns, the shared
//! preprocessor equals the pooled one, and a station that drops out does not stop a round.
#![allow(clippy::unwrap_used)]

use oncolens_core::{ClinicalRecord, CodedConcept, Measurement, Sex};
use oncolens_federated::{
    DropsOut, FederatedConfig, LocalStation, Participant, Strategy, run_federation,
};
use oncolens_nn::{Device, FusionKind, ModalitySet};
use oncolens_train::{PrepSummary, PreparedCase, Preprocessor, TrainConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[path = "../../flower/tests/support/superlink.rs"]
mod superlink;

/// A patient whose malignancy follows age and a marker (log-odds 1.5 * z_age + 1.5 * z_ldh),
/// with a report that mentions the marker's level.
fn case(i: usize, site: &str, rng: &mut ChaCha8Rng) -> PreparedCase {
    let z_age: f64 = rng.random::<f64>() * 4.0 - 2.0;
    let z_ldh: f64 = rng.random::<f64>() * 4.0 - 2.0;
    let logit = 1.5 * z_age + 1.5 * z_ldh;
    let label = u8::from(rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp()));
    let record = ClinicalRecord {
        age_years: Some(62.0 + 12.0 * z_age),
        sex: Some(if i.is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        }),
        markers: vec![Measurement {
            code: CodedConcept {
                system: "http://loinc.org".into(),
                code: "2532-0".into(),
                display: None,
            },
            name: Some("ldh".into()),
            value: 190.0 * (0.25 * z_ldh).exp(),
            unit: Some("U/L".into()),
            effective: None,
        }],
        ..ClinicalRecord::default()
    };
    let report = if z_ldh > 0.0 {
        "marker raised above normal"
    } else {
        "marker within normal range"
    };
    PreparedCase {
        id: format!("{site}_{i}"),
        site: site.into(),
        label: Some(label),
        split: None,
        dir: std::path::PathBuf::from("."),
        image: None,
        lesion: None,
        crop: None,
        lesion_radiomics: None,
        clinical: Some(record),
        report: Some(report.into()),
        omics: None,
    }
}

/// Per site: name, training cases, validation cases.
type Sites = Vec<(String, Vec<PreparedCase>, Vec<PreparedCase>)>;

fn stations(seed: u64) -> (Sites, Vec<PreparedCase>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sites = Vec::new();
    let mut test = Vec::new();
    for (k, n) in [("site_a", 60usize), ("site_b", 40), ("site_c", 30)] {
        let cases: Vec<PreparedCase> = (0..n).map(|i| case(i, k, &mut rng)).collect();
        let (train, val) = cases.split_at(n * 4 / 5);
        sites.push((k.to_owned(), train.to_vec(), val.to_vec()));
        test.extend((0..20).map(|i| case(1000 + i, k, &mut rng)));
    }
    (sites, test)
}

/// One in-process station per site.
fn participants(sites: &Sites, device: &Device) -> Vec<Box<dyn Participant>> {
    sites
        .iter()
        .map(|(s, tr, va)| {
            Box::new(LocalStation::new(
                s.clone(),
                tr.clone(),
                va.clone(),
                device.clone(),
            )) as Box<dyn Participant>
        })
        .collect()
}

fn config(rounds: usize, strategy: Strategy) -> FederatedConfig {
    FederatedConfig {
        rounds,
        local_epochs: 2,
        strategy,
        min_participants: 2,
        min_cell: 1,
        modalities: ModalitySet {
            image: false,
            clinical: true,
            text: true,
            omics: false,
        },
        secure_aggregation: false,
        train: TrainConfig {
            fusion: FusionKind::Concat,
            modality_dropout: 0.0,
            augment: false,
            dropout: 0.0,
            ..TrainConfig::default()
        },
    }
}

fn test_auc(model: &oncolens_federated::FederatedModel, test: &[PreparedCase]) -> f64 {
    let device = Device::flex();
    let m = model.model(&device).unwrap();
    let samples: Vec<_> = test.iter().map(|c| model.preprocessor.sample(c)).collect();
    let logits =
        oncolens_train::trainer::predict_logits(&m, &model.config, &samples, 1, &device).unwrap();
    let labels: Vec<bool> = test.iter().map(|c| c.label == Some(1)).collect();
    oncolens_metrics::roc_auc(&logits, &labels).unwrap()
}

#[test]
fn federated_preprocessor_equals_the_pooled_fit() {
    let (sites, _) = stations(3);
    let mut pooled = PrepSummary::default();
    let mut all: Vec<&PreparedCase> = Vec::new();
    for (_, train, _) in &sites {
        let refs: Vec<&PreparedCase> = train.iter().collect();
        pooled.merge(&PrepSummary::of(&refs, 1)).unwrap();
        all.extend(train.iter());
    }
    let input = oncolens_train::ImageInput::DEFAULT_CROP;
    let fed: Preprocessor = pooled.preprocessor(input);
    let central = Preprocessor::fit(&all, input);
    assert_eq!(fed.clinical.len(), central.clinical.len());
    for (a, b) in fed.clinical.iter().zip(&central.clinical) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.source, b.source);
        assert!(
            (a.mean - b.mean).abs() < 1e-9 * b.mean.abs().max(1.0),
            "{a:?} {b:?}"
        );
        assert!(
            (a.std - b.std).abs() < 1e-9 * b.std.abs().max(1.0),
            "{a:?} {b:?}"
        );
    }
    assert_eq!(fed.tokenizer, central.tokenizer);
    // With a cell size above a site's count, that site's rare tokens are withheld.
    let refs: Vec<&PreparedCase> = sites[2].1.iter().collect();
    let strict = PrepSummary::of(&refs, 1000);
    assert!(strict.token_df.is_empty());
}

#[test]
fn three_stations_learn_with_each_strategy() {
    let (sites, test) = stations(5);
    let device = Device::flex();
    for strategy in ["fedavg", "fedprox", "fedadam"] {
        let mut parts = participants(&sites, &device);
        let cfg = config(6, Strategy::by_name(strategy).unwrap());
        let model = run_federation(&mut parts, &cfg, &device, &|_| {}).unwrap();
        assert_eq!(model.history.len(), 6);
        let auc = test_auc(&model, &test);
        assert!(auc > 0.75, "{strategy}: test AUC {auc}");
        for log in &model.history {
            assert_eq!(log.trained.len(), 3, "{strategy}: {:?}", log.dropped);
            assert_eq!(log.validation.len(), 3);
        }
    }
}

#[test]
fn a_station_dropping_out_does_not_stop_the_round() {
    let (sites, _) = stations(7);
    let device = Device::flex();
    let mut parts: Vec<Box<dyn Participant>> = Vec::new();
    for (i, (s, tr, va)) in sites.iter().enumerate() {
        let st = LocalStation::new(s.clone(), tr.clone(), va.clone(), device.clone());
        if i == 1 {
            parts.push(Box::new(DropsOut::new(st, 2, "connection lost")));
        } else {
            parts.push(Box::new(st));
        }
    }
    let model = run_federation(&mut parts, &config(3, Strategy::FedAvg), &device, &|_| {}).unwrap();
    assert_eq!(model.history[0].trained.len(), 3);
    assert_eq!(model.history[1].trained, vec!["site_a", "site_c"]);
    assert_eq!(model.history[1].dropped[0].0, "site_b");
    assert!(model.history[1].dropped[0].1.contains("connection lost"));

    // Below the minimum number of stations the run stops with a clear error.
    let mut cfg = config(3, Strategy::FedAvg);
    cfg.min_participants = 3;
    let mut parts: Vec<Box<dyn Participant>> = sites
        .iter()
        .enumerate()
        .map(|(i, (s, tr, va))| {
            let st = LocalStation::new(s.clone(), tr.clone(), va.clone(), device.clone());
            if i == 0 {
                Box::new(DropsOut::new(st, 1, "connection lost")) as Box<dyn Participant>
            } else {
                Box::new(st)
            }
        })
        .collect();
    let err = run_federation(&mut parts, &cfg, &device, &|_| {}).unwrap_err();
    assert!(
        err.to_string().contains("only 2 of the required 3"),
        "{err}"
    );
}

#[test]
fn secure_aggregation_gives_the_same_model_and_hides_each_update() {
    let (sites, test) = stations(11);
    let device = Device::flex();
    let make = || participants(&sites, &device);
    let plain_cfg = config(3, Strategy::FedAvg);
    let secure_cfg = FederatedConfig {
        secure_aggregation: true,
        ..plain_cfg.clone()
    };
    let plain = run_federation(&mut make(), &plain_cfg, &device, &|_| {}).unwrap();
    let secure = run_federation(&mut make(), &secure_cfg, &device, &|_| {}).unwrap();
    // Same local training, same weighted mean up to the quantisation step (~6e-9 per
    // coordinate and round) and float summation order.
    let max_diff = plain
        .weights
        .iter()
        .zip(&secure.weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        max_diff < 1e-4,
        "plain and secure global models differ by {max_diff}"
    );
    assert!(test_auc(&secure, &test) > 0.75);
    // What the aggregator received: one masked vector per station per round, none of which
    // looks like an update. A clear update (small weight changes, weighted by the station's
    // share) encodes to values within 1% of the ring's zero point L/2 in every coordinate; a
    // masked vector is uniform on the ring, so only ~2% of its coordinates land there by chance.
    let levels = f64::from(u32::MAX / 3);
    for log in &secure.history {
        assert_eq!(log.masked_received.len(), 3);
        for (site, masked) in &log.masked_received {
            let near_zero = masked
                .iter()
                .filter(|&&v| (f64::from(v) - levels / 2.0).abs() < levels / 100.0)
                .count() as f64
                / masked.len() as f64;
            assert!(
                near_zero < 0.05,
                "{site}: {near_zero} of the coordinates look clear"
            );
        }
        // And the masked vectors of two stations are unrelated to each other.
        assert_ne!(log.masked_received[0].1, log.masked_received[1].1);
    }
    assert!(plain.history[0].masked_received.is_empty());
}

#[test]
fn secure_aggregation_survives_a_dropout_and_refuses_below_threshold() {
    let (sites, _) = stations(13);
    let device = Device::flex();
    let mut parts: Vec<Box<dyn Participant>> = Vec::new();
    for (i, (s, tr, va)) in sites.iter().enumerate() {
        let st = LocalStation::new(s.clone(), tr.clone(), va.clone(), device.clone());
        if i == 2 {
            parts.push(Box::new(DropsOut::new(st, 2, "connection lost")));
        } else {
            parts.push(Box::new(st));
        }
    }
    let cfg = FederatedConfig {
        secure_aggregation: true,
        ..config(2, Strategy::FedAvg)
    };
    let model = run_federation(&mut parts, &cfg, &device, &|_| {}).unwrap();
    assert_eq!(model.history[0].trained.len(), 3);
    assert_eq!(model.history[1].trained, vec!["site_a", "site_b"]);
    assert_eq!(model.history[1].masked_received.len(), 2);
}

#[test]
fn a_station_refuses_releases_beyond_its_privacy_budget() {
    use oncolens_federated::participant::StationPrivacy;
    use oncolens_privacy::dp::GaussianMechanism;
    let (sites, _) = stations(17);
    let device = Device::flex();
    // sigma = 2 per release: epsilon(delta = 1e-5) after one release is about 2.2 and after two
    // about 3.3, so a budget of 3 allows exactly one round from this station.
    let budget = 3.0;
    let mut parts: Vec<Box<dyn Participant>> = Vec::new();
    for (i, (s, tr, va)) in sites.iter().enumerate() {
        let mut st = LocalStation::new(s.clone(), tr.clone(), va.clone(), device.clone());
        if i == 0 {
            st = st.with_privacy(StationPrivacy::new(
                GaussianMechanism::new(1.0, 2.0).unwrap(),
                budget,
                1e-5,
            ));
        }
        parts.push(Box::new(st));
    }
    let model = run_federation(&mut parts, &config(3, Strategy::FedAvg), &device, &|_| {}).unwrap();
    assert_eq!(model.history[0].trained.len(), 3);
    for log in &model.history[1..] {
        assert!(!log.trained.contains(&"site_a".to_owned()));
        let (_, why) = log.dropped.iter().find(|(s, _)| s == "site_a").unwrap();
        assert!(why.contains("privacy budget exhausted"), "{why}");
    }
}

#[test]
fn networked_stations_over_mutual_tls_give_the_embedded_result() {
    use oncolens_federated::remote::LoopbackStations;
    let (sites, _) = stations(19);
    let device = Device::flex();
    let cfg = FederatedConfig {
        secure_aggregation: true,
        ..config(2, Strategy::FedAvg)
    };
    let mut embedded = participants(&sites, &device);
    let local = run_federation(&mut embedded, &cfg, &device, &|_| {}).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut servers = LoopbackStations::start(
        sites
            .iter()
            .map(|(s, tr, va)| {
                (
                    s.clone(),
                    LocalStation::new(s.clone(), tr.clone(), va.clone(), device.clone()),
                )
            })
            .collect(),
        dir.path(),
        true,
    )
    .unwrap();
    assert!(servers.urls.iter().all(|(_, u)| u.starts_with("https://")));
    let mut remote = servers.participants();
    let networked = run_federation(&mut remote, &cfg, &device, &|_| {}).unwrap();
    let max_diff = local
        .weights
        .iter()
        .zip(&networked.weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        max_diff < 1e-4,
        "embedded and networked models differ by {max_diff}"
    );
    assert_eq!(networked.history[1].masked_received.len(), 3);
    // Every step was a job in each station's audit log, the chain verifies, the aggregator is
    // named by its certificate, and no case id reached the log.
    for log in &servers.audit_logs {
        oncolens_station::verify_audit_log(log).unwrap();
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.lines().count() >= 2 * 6, "{text}");
        assert!(text.contains("aggregator"));
        assert!(
            !text.contains("site_a_1"),
            "a case id reached the audit log"
        );
    }
    drop(servers);
}

#[test]
fn a_station_trains_the_multimodal_model_as_a_flower_client() {
    use oncolens_federated::flower_station::FlowerStation;
    use oncolens_flower::{Config, FlowerClient, NdArray};
    let (sites, _) = stations(23);
    let device = Device::flex();
    let (site, tr, va) = &sites[0];
    let refs: Vec<&PreparedCase> = tr.iter().collect();
    let prep = PrepSummary::of(&refs, 1).preprocessor(oncolens_train::ImageInput::DEFAULT_CROP);
    let cfg = config(1, Strategy::FedAvg);
    let model_cfg = oncolens_train::model_config(&prep, cfg.modalities, &cfg.train);
    let w0 = {
        let _rng = oncolens_nn::rng::SeededRng::acquire(&device, 5);
        let init = oncolens_nn::MultimodalModel::new(&model_cfg, &device).unwrap();
        oncolens_nn::params::flatten(&init).unwrap()
    };
    let station = LocalStation::new(site.clone(), tr.clone(), va.clone(), device.clone());
    let mut client = FlowerStation::new(station, &prep, &model_cfg, &cfg.train, 2).unwrap();
    // Flower sends the global model as arrays (here: the flat vector split in two arrays).
    let half = w0.len() / 2;
    let arrays = vec![
        NdArray::from_f32(vec![half], &w0[..half]).unwrap(),
        NdArray::from_f32(vec![w0.len() - half], &w0[half..]).unwrap(),
    ];
    let before = client.evaluate(arrays.clone(), &Config::default()).unwrap();
    let fit = client.fit(arrays, &Config::default()).unwrap();
    assert_eq!(fit.num_examples as usize, tr.len());
    assert_eq!(fit.parameters.len(), 2);
    assert_eq!(fit.parameters[0].shape, vec![half]);
    let w1: Vec<f32> = fit.parameters.iter().flat_map(|a| a.to_f32()).collect();
    assert_eq!(w1.len(), w0.len());
    assert!(
        w1.iter().zip(&w0).any(|(a, b)| a != b),
        "training changed nothing"
    );
    // The trained weights fit the station's validation patients better than the start.
    let split = w1.len() / 2;
    let after = client
        .evaluate(
            vec![
                NdArray::from_f32(vec![split], &w1[..split]).unwrap(),
                NdArray::from_f32(vec![w1.len() - split], &w1[split..]).unwrap(),
            ],
            &Config::default(),
        )
        .unwrap();
    assert!(
        after.loss < before.loss,
        "{} -> {}",
        before.loss,
        after.loss
    );
    assert!(client.fit(Vec::new(), &Config::default()).is_err());
}

/// burn keeps one random generator per process and initialises parameters lazily: a model built
/// on one thread (to load weights into, or to start a federation) used to draw from the
/// generator that a seeded training on another thread was drawing from, so a federation gave a
/// different model whenever another ran beside it (found as a flaky CI failure).
#[test]
fn a_federation_is_reproducible_while_another_runs_beside_it() {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let run = |seed: u64, rounds: usize| {
        let (sites, _) = stations(seed);
        let device = Device::flex();
        let mut parts = participants(&sites, &device);
        run_federation(
            &mut parts,
            &config(rounds, Strategy::FedAvg),
            &device,
            &|_| {},
        )
        .unwrap()
        .weights
    };
    let alone = run(19, 2);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                run(17, 1);
            }
        });
        for _ in 0..4 {
            let beside = run(19, 2);
            let max_diff = alone
                .iter()
                .zip(&beside)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(max_diff == 0.0, "the model changed by {max_diff}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

/// What a station returned from each `fit`: (examples, flat weights).
type Fits = std::sync::Arc<std::sync::Mutex<Vec<(u64, Vec<f32>)>>>;

/// A Flower client that records its `fit` replies.
struct Recording<C> {
    inner: C,
    fits: Fits,
}

impl<C: oncolens_flower::FlowerClient> oncolens_flower::FlowerClient for Recording<C> {
    fn fit(
        &mut self,
        parameters: Vec<oncolens_flower::NdArray>,
        config: &oncolens_flower::Config,
    ) -> Result<oncolens_flower::FitResult, oncolens_flower::ClientError> {
        let r = self.inner.fit(parameters, config)?;
        let flat: Vec<f32> = r.parameters.iter().flat_map(|a| a.to_f32()).collect();
        self.fits
            .lock()
            .map_err(|_| "poisoned")?
            .push((r.num_examples, flat));
        Ok(r)
    }

    fn evaluate(
        &mut self,
        parameters: Vec<oncolens_flower::NdArray>,
        config: &oncolens_flower::Config,
    ) -> Result<oncolens_flower::EvaluateResult, oncolens_flower::ClientError> {
        self.inner.evaluate(parameters, config)
    }
}

/// A real Flower federation (the flwr 1.42 SuperLink and FedAvg ServerApp from PyPI, see
/// `fixtures/flower/`) trains the multimodal model: three stations join as Flower nodes with
/// `FlowerStation`, the ServerApp starts from the plan's weights (an .npy file), and the global
/// model it ends with is the example-weighted mean of what the stations returned in the last
/// round. Set ONCOLENS_SKIP_FLOWER=1 to skip.
#[test]
fn three_multimodal_stations_train_in_a_real_flower_federation() {
    use oncolens_federated::flower_station::FlowerStation;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};
    if superlink::skipped() {
        eprintln!("ONCOLENS_SKIP_FLOWER=1: Flower federation test skipped");
        return;
    }
    let (sites, _) = stations(29);
    let device = Device::flex();
    let mut pooled = PrepSummary::default();
    for (_, train, _) in &sites {
        let refs: Vec<&PreparedCase> = train.iter().collect();
        pooled.merge(&PrepSummary::of(&refs, 1)).unwrap();
    }
    let prep = pooled.preprocessor(oncolens_train::ImageInput::DEFAULT_CROP);
    let cfg = config(2, Strategy::FedAvg);
    let model_cfg = oncolens_train::model_config(&prep, cfg.modalities, &cfg.train);
    let w0 = {
        let _rng = oncolens_nn::rng::SeededRng::acquire(&device, 5);
        let init = oncolens_nn::MultimodalModel::new(&model_cfg, &device).unwrap();
        oncolens_nn::params::flatten(&init).unwrap()
    };

    let link = superlink::SuperLink::start();
    let plan = link.tmp.path().join("plan.npy");
    let npy = oncolens_flower::NdArray::from_f32(vec![w0.len()], &w0).unwrap();
    std::fs::write(&plan, npy.to_npy()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut nodes = Vec::new();
    let mut fits = Vec::new();
    for (site, train, val) in &sites {
        let station = LocalStation::new(site.clone(), train.clone(), val.clone(), device.clone());
        let recorded = Arc::new(Mutex::new(Vec::new()));
        fits.push(recorded.clone());
        let mut client = Recording {
            inner: FlowerStation::new(station, &prep, &model_cfg, &cfg.train, 1).unwrap(),
            fits: recorded,
        };
        let url = link.url.clone();
        let options = oncolens_flower::NodeOptions {
            stop: Some(stop.clone()),
            poll_interval: std::time::Duration::from_millis(100),
            ..oncolens_flower::NodeOptions::default()
        };
        nodes.push(std::thread::spawn(move || {
            oncolens_flower::run_node(&url, &mut client, options)
        }));
    }
    let doc = link.run_server_app(
        &format!(
            "num-params={n} num-server-rounds=2 min-nodes=3 initial-npy=\"{}\" \
             max-output-values={n}",
            plan.display(),
            n = w0.len()
        ),
        &stop,
        std::time::Duration::from_secs(300),
    );
    for h in nodes {
        h.join().unwrap().expect("node failed");
    }
    drop(link);

    let got: Vec<f64> = doc["arrays"]["w"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no final weights in {doc}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), w0.len());
    // FedAvg of the last round: sum_i n_i w_i / sum_i n_i over the three stations.
    let last: Vec<(u64, Vec<f32>)> = fits
        .iter()
        .map(|f| {
            let f = f.lock().unwrap();
            assert_eq!(f.len(), 2, "every station trains in both rounds");
            f[1].clone()
        })
        .collect();
    let total: f64 = last.iter().map(|(n, _)| *n as f64).sum();
    let max_err = (0..w0.len())
        .map(|j| {
            let want: f64 = last
                .iter()
                .map(|(n, w)| *n as f64 * f64::from(w[j]))
                .sum::<f64>()
                / total;
            (got[j] - want).abs()
        })
        .fold(0f64, f64::max);
    assert!(max_err < 1e-5, "aggregated weights differ by {max_err}");
    let moved = got
        .iter()
        .zip(&w0)
        .any(|(g, w)| (g - f64::from(*w)).abs() > 1e-4);
    assert!(moved, "the federation did not change the model");
    assert!(
        doc["evaluate_metrics"]["2"]["loss"].as_f64().is_some(),
        "no evaluation loss in {doc}"
    );
}
