//! The client node: register/activate, heartbeat, pull a message and its objects, call the
//! user's [`FlowerClient`], push the reply and its objects, deactivate/unregister on exit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::auth::NodeKey;
use crate::error::{ClientError, FlowerError};
use crate::fleet::{FleetClient, path};
use crate::npy::NdArray;
use crate::objects::{self, Inflater, MAX_ARRAY_CHUNK_SIZE, Record, RecordDict};
use crate::proto;
use crate::records::{Config, MetricValue, Metrics};

/// The Flower release whose Fleet API this crate implements and is tested against.
pub const FLOWER_VERSION: &str = "1.42.0";

/// Node id of the SuperLink (`SUPERLINK_NODE_ID`): the destination of every reply.
pub const SUPERLINK_NODE_ID: u64 = 1;

/// `ErrorCode.CLIENT_APP_RAISED_EXCEPTION`: sent when the user's client fails.
pub const ERROR_CLIENT_RAISED: i64 = 2;
/// `ErrorCode.UNKNOWN`: sent for messages this node cannot process.
pub const ERROR_UNKNOWN: i64 = 0;

/// Key of the weight FedAvg averages with (`weighted_by_key`).
pub const NUM_EXAMPLES_KEY: &str = "num-examples";

/// What a station returns from local training.
#[derive(Debug, Clone, PartialEq)]
pub struct FitResult {
    /// Updated arrays, in the order (and with the names) they were received.
    pub parameters: Vec<NdArray>,
    /// Number of local training examples: the FedAvg weight.
    pub num_examples: u64,
    /// Further metrics (every node of a run must report the same keys).
    pub metrics: Metrics,
}

/// What a station returns from local evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluateResult {
    /// Loss on the local evaluation data (sent as metric `loss`).
    pub loss: f64,
    /// Number of local evaluation examples.
    pub num_examples: u64,
    /// Further metrics.
    pub metrics: Metrics,
}

/// A station's learning code, called for Flower's `train`, `evaluate` and `query` messages.
pub trait FlowerClient {
    /// Local training on the global `parameters` (the message's first `ArrayRecord`, in order).
    fn fit(&mut self, parameters: Vec<NdArray>, config: &Config) -> Result<FitResult, ClientError>;

    /// Local evaluation of the global `parameters`.
    fn evaluate(
        &mut self,
        parameters: Vec<NdArray>,
        config: &Config,
    ) -> Result<EvaluateResult, ClientError>;

    /// A `query` message; the default refuses it (the ServerApp receives an error reply).
    fn query(&mut self, config: &Config) -> Result<Metrics, ClientError> {
        let _ = config;
        Err("this oncolens station does not answer query messages".into())
    }
}

/// How a node connects and when it stops.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Leave after this many `train` replies, once no message came for `linger`.
    pub max_rounds: Option<u64>,
    /// How long to stay after `max_rounds`, so the ServerApp can collect the last reply and
    /// send evaluation (leaving earlier makes the reply "Node Unavailable").
    pub linger: Duration,
    /// Leave when no message came for this long.
    pub idle_timeout: Option<Duration>,
    /// Leave when this flag becomes true (checked between messages).
    pub stop: Option<Arc<AtomicBool>>,
    /// Pause between two empty `pull-messages`.
    pub poll_interval: Duration,
    /// Heartbeat interval announced to the SuperLink (10 s to 1800 s); heartbeats are sent at
    /// 80 % of it.
    pub heartbeat_interval: Duration,
    /// Timeout of one HTTP call.
    pub request_timeout: Duration,
    /// Retries of a Fleet call on transport errors and 502/503/504.
    pub retries: u32,
    /// The node key; `None` draws a fresh one.
    pub key: Option<NodeKey>,
    /// Register the key through the Fleet API (insecure SuperLinks without
    /// `--enable-supernode-auth`). With node authentication the key is registered beforehand
    /// (`flwr supernode register`) and this must be false.
    pub self_register: bool,
    /// Sent as `flwr-package-version`; `None` sends no runtime-version headers.
    pub flower_version: Option<String>,
    /// Largest `ArrayChunk` pushed.
    pub max_chunk_size: usize,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            max_rounds: None,
            linger: Duration::from_secs(10),
            idle_timeout: None,
            stop: None,
            poll_interval: Duration::from_millis(200),
            heartbeat_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            retries: 3,
            key: None,
            self_register: true,
            flower_version: Some(FLOWER_VERSION.to_string()),
            max_chunk_size: MAX_ARRAY_CHUNK_SIZE,
        }
    }
}

/// What a node did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSummary {
    /// Node id the SuperLink gave.
    pub node_id: u64,
    /// `train` messages answered.
    pub train_messages: u64,
    /// `evaluate` messages answered.
    pub evaluate_messages: u64,
    /// `query` messages answered.
    pub query_messages: u64,
    /// Replies that carried an error (client failure, unsupported message).
    pub error_replies: u64,
    /// Messages dropped (expired, run no longer running, push refused).
    pub dropped_messages: u64,
    /// Runs seen, in order.
    pub runs: Vec<u64>,
    /// HTTP body bytes sent (requests).
    pub bytes_sent: u64,
    /// HTTP body bytes received (responses).
    pub bytes_received: u64,
    /// Heartbeats acknowledged.
    pub heartbeats: u64,
}

/// The kind of message a call to [`FlowerNode::poll_once`] handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// A `train` message (replied).
    Train,
    /// An `evaluate` message (replied).
    Evaluate,
    /// A `query` message (replied).
    Query,
    /// Another message type (an error reply was sent).
    Other,
    /// A message that was dropped without reply.
    Dropped,
}

struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// A connected client node.
pub struct FlowerNode {
    fleet: FleetClient,
    node_id: u64,
    options: NodeOptions,
    heartbeat: Option<Heartbeat>,
    heartbeats: Arc<AtomicU64>,
    heartbeat_error: Arc<Mutex<Option<String>>>,
    summary: NodeSummary,
    seen_runs: HashSet<u64>,
    closed: bool,
}

impl FlowerNode {
    /// Registers (when `self_register`) and activates a node at the SuperLink at `url`, and
    /// starts heartbeating.
    pub fn connect(url: &str, options: NodeOptions) -> Result<Self, FlowerError> {
        let hb = options.heartbeat_interval.as_secs_f64();
        if !(10.0..=1800.0).contains(&hb) {
            return Err(FlowerError::Options(format!(
                "heartbeat interval {hb} s is outside Flower's [10, 1800] s"
            )));
        }
        let key = match &options.key {
            Some(k) => k.clone(),
            None => NodeKey::generate()?,
        };
        let key = Arc::new(key);
        let fleet = FleetClient::new(
            url,
            key.clone(),
            options.request_timeout,
            options.flower_version.clone(),
            options.retries,
        )?;
        let public_key = key.public_key_pem().to_vec();
        if options.self_register {
            let _: proto::RegisterNodeFleetResponse = fleet.call(
                path::REGISTER_NODE,
                &proto::RegisterNodeFleetRequest {
                    public_key: public_key.clone(),
                },
            )?;
        }
        let activated: proto::ActivateNodeResponse = fleet.call(
            path::ACTIVATE_NODE,
            &proto::ActivateNodeRequest {
                public_key,
                heartbeat_interval: hb,
            },
        )?;
        let node_id = activated.node_id;
        let heartbeats = Arc::new(AtomicU64::new(0));
        let heartbeat_error = Arc::new(Mutex::new(None));
        let heartbeat = spawn_heartbeat(
            fleet.clone(),
            node_id,
            options.heartbeat_interval,
            heartbeats.clone(),
            heartbeat_error.clone(),
        );
        Ok(FlowerNode {
            fleet,
            node_id,
            options,
            heartbeat: Some(heartbeat),
            heartbeats,
            heartbeat_error,
            summary: NodeSummary {
                node_id,
                ..NodeSummary::default()
            },
            seen_runs: HashSet::new(),
            closed: false,
        })
    }

    /// The node id the SuperLink gave.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// Counters so far.
    pub fn summary(&self) -> NodeSummary {
        let mut s = self.summary.clone();
        let (sent, received) = self.fleet.traffic();
        s.bytes_sent = sent;
        s.bytes_received = received;
        s.heartbeats = self.heartbeats.load(Ordering::Relaxed);
        s
    }

    fn node(&self) -> Option<proto::Node> {
        Some(proto::Node {
            node_id: self.node_id,
        })
    }

    /// `GetRun`: the run's FAB id/version and configuration overrides.
    pub fn get_run(&self, run_id: u64) -> Result<proto::Run, FlowerError> {
        let resp: proto::GetRunResponse = self.fleet.call(
            path::GET_RUN,
            &proto::GetRunRequest {
                node: self.node(),
                run_id,
            },
        )?;
        resp.run
            .ok_or_else(|| FlowerError::Protocol("GetRun answered no run".into()))
    }

    /// Pulls at most one message, answers it and pushes the reply. `Ok(None)` when no message
    /// was waiting.
    pub fn poll_once(
        &mut self,
        client: &mut dyn FlowerClient,
    ) -> Result<Option<Handled>, FlowerError> {
        if let Some(e) = self
            .heartbeat_error
            .lock()
            .map(|g| g.clone())
            .unwrap_or(None)
        {
            return Err(FlowerError::Protocol(format!("heartbeat failed: {e}")));
        }
        let pulled: proto::PullMessagesResponse = self.fleet.call(
            path::PULL_MESSAGES,
            &proto::PullMessagesRequest {
                node: self.node(),
                message_ids: Vec::new(),
            },
        )?;
        let (Some(msg), Some(tree)) = (
            pulled.messages_list.into_iter().next(),
            pulled.message_object_trees.into_iter().next(),
        ) else {
            return Ok(None);
        };
        let started = Instant::now();
        let metadata = msg
            .metadata
            .ok_or_else(|| FlowerError::Protocol("pulled message has no metadata".into()))?;
        let run_id = metadata.run_id;
        if self.seen_runs.insert(run_id) {
            self.summary.runs.push(run_id);
        }

        let objects = match self.pull_objects(run_id, &tree) {
            Ok(o) => o,
            Err(e) if is_run_gone(&e) => {
                self.summary.dropped_messages += 1;
                return Ok(Some(Handled::Dropped));
            }
            Err(e) => return Err(e),
        };
        let _: proto::ConfirmMessageReceivedResponse = self.fleet.call(
            path::CONFIRM_MESSAGE_RECEIVED,
            &proto::ConfirmMessageReceivedRequest {
                node: self.node(),
                run_id,
                message_object_id: metadata.message_id.clone(),
            },
        )?;

        let decoded = Inflater::new(&objects).message(&tree.object_id);
        let category = metadata
            .message_type
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        let (handled, outcome) = match decoded {
            Err(e) => (
                Handled::Other,
                Err((ERROR_UNKNOWN, format!("cannot decode message: {e}"))),
            ),
            Ok(d) if d.error.is_some() => {
                // Nothing to answer: the ServerApp sent an error.
                self.summary.dropped_messages += 1;
                return Ok(Some(Handled::Dropped));
            }
            Ok(d) => {
                let content = d.content.unwrap_or_default();
                dispatch(client, &category, &content)
            }
        };

        let reply_error = match &outcome {
            Ok(_) => None,
            Err((code, reason)) => Some(proto::Error {
                code: *code,
                reason: reason.clone(),
            }),
        };
        let reply_content = outcome.ok();
        match self.push_reply(
            &metadata,
            reply_content.as_ref(),
            reply_error.as_ref(),
            started.elapsed().as_secs_f64(),
        ) {
            Ok(true) => {}
            Ok(false) => {
                self.summary.dropped_messages += 1;
                return Ok(Some(Handled::Dropped));
            }
            Err(e) if is_run_gone(&e) => {
                self.summary.dropped_messages += 1;
                return Ok(Some(Handled::Dropped));
            }
            Err(e) => return Err(e),
        }
        if reply_error.is_some() {
            self.summary.error_replies += 1;
        }
        match handled {
            Handled::Train => self.summary.train_messages += 1,
            Handled::Evaluate => self.summary.evaluate_messages += 1,
            Handled::Query => self.summary.query_messages += 1,
            Handled::Other | Handled::Dropped => {}
        }
        Ok(Some(handled))
    }

    fn pull_objects(
        &self,
        run_id: u64,
        tree: &proto::ObjectTree,
    ) -> Result<HashMap<String, Vec<u8>>, FlowerError> {
        let mut ids = Vec::new();
        objects::tree_ids_post_order(tree, &mut ids);
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            if out.contains_key(&id) {
                continue;
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut delay = Duration::from_millis(50);
            let content = loop {
                let resp: proto::PullObjectResponse = self.fleet.call(
                    path::PULL_OBJECT,
                    &proto::PullObjectRequest {
                        node: self.node(),
                        run_id,
                        object_id: id.clone(),
                    },
                )?;
                if !resp.object_found {
                    return Err(FlowerError::Protocol(format!(
                        "object {id} not found at the SuperLink"
                    )));
                }
                if resp.object_available {
                    break resp.object_content;
                }
                if Instant::now() >= deadline {
                    return Err(FlowerError::Protocol(format!(
                        "object {id} did not become available within 60 s"
                    )));
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(1));
            };
            if objects::object_id(&content) != id {
                return Err(FlowerError::Protocol(format!(
                    "object {id}: content does not hash to its id"
                )));
            }
            out.insert(id, content);
        }
        Ok(out)
    }

    /// Builds and pushes the reply; false when the message expired before the reply was ready.
    fn push_reply(
        &self,
        incoming: &proto::Metadata,
        content: Option<&RecordDict>,
        error: Option<&proto::Error>,
        runtime_s: f64,
    ) -> Result<bool, FlowerError> {
        let now = unix_now();
        let ttl = incoming.created_at + incoming.ttl - now;
        if ttl <= 0.0 {
            return Ok(false);
        }
        let mut metadata = proto::Metadata {
            run_id: incoming.run_id,
            message_id: String::new(),
            src_node_id: self.node_id,
            dst_node_id: incoming.src_node_id,
            reply_to_message_id: incoming.message_id.clone(),
            group_id: incoming.group_id.clone(),
            ttl,
            message_type: incoming.message_type.clone(),
            created_at: now,
            src_task_id: incoming.dst_task_id,
            dst_task_id: incoming.src_task_id,
        };
        if metadata.dst_node_id == 0 {
            metadata.dst_node_id = SUPERLINK_NODE_ID;
        }
        let built = objects::build_message(&metadata, content, error, self.options.max_chunk_size);
        metadata.message_id = built.id.clone();
        let message = proto::Message {
            metadata: Some(metadata),
            // Content travels as objects; the message itself carries an empty RecordDict.
            content: error.is_none().then(proto::RecordDict::default),
            error: error.cloned(),
        };
        let pushed: proto::PushMessagesResponse = self.fleet.call(
            path::PUSH_MESSAGES,
            &proto::PushMessagesRequest {
                node: self.node(),
                messages_list: vec![message],
                message_object_trees: vec![built.tree()],
                clientapp_runtime_list: vec![runtime_s],
            },
        )?;
        let wanted: HashSet<&str> = pushed.objects_to_push.iter().map(String::as_str).collect();
        let mut order = Vec::new();
        built.post_order(&mut order);
        let mut done = HashSet::new();
        for obj in order {
            if !wanted.contains(obj.id.as_str()) || !done.insert(obj.id.as_str()) {
                continue;
            }
            let resp: proto::PushObjectResponse = self.fleet.call(
                path::PUSH_OBJECT,
                &proto::PushObjectRequest {
                    node: self.node(),
                    run_id: incoming.run_id,
                    object_id: obj.id.clone(),
                    object_content: obj.content.clone(),
                    session_id: pushed.session_id.clone(),
                },
            )?;
            if !resp.stored {
                return Err(FlowerError::Protocol(format!(
                    "SuperLink did not store object {}",
                    obj.id
                )));
            }
        }
        Ok(true)
    }

    /// Serves messages until a stop condition of the options holds.
    pub fn serve(&mut self, client: &mut dyn FlowerClient) -> Result<NodeSummary, FlowerError> {
        let mut last_activity = Instant::now();
        loop {
            if self.stop_requested() {
                break;
            }
            match self.poll_once(client)? {
                Some(_) => last_activity = Instant::now(),
                None => {
                    let idle = last_activity.elapsed();
                    if let Some(max) = self.options.max_rounds
                        && self.summary.train_messages >= max
                        && idle >= self.options.linger
                    {
                        break;
                    }
                    if let Some(limit) = self.options.idle_timeout
                        && idle >= limit
                    {
                        break;
                    }
                    self.sleep_interruptible(self.options.poll_interval);
                }
            }
        }
        Ok(self.summary())
    }

    fn stop_requested(&self) -> bool {
        self.options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    fn sleep_interruptible(&self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end && !self.stop_requested() {
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
        }
    }

    /// Stops heartbeating, deactivates and (when self-registered) unregisters the node.
    pub fn shutdown(mut self) -> Result<NodeSummary, FlowerError> {
        let result = self.close();
        result.map(|()| self.summary())
    }

    fn close(&mut self) -> Result<(), FlowerError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if let Some(hb) = self.heartbeat.take() {
            let _ = hb.stop.send(());
            let _ = hb.thread.join();
        }
        let deactivated: Result<proto::DeactivateNodeResponse, _> = self.fleet.call(
            path::DEACTIVATE_NODE,
            &proto::DeactivateNodeRequest {
                node_id: self.node_id,
            },
        );
        if self.options.self_register {
            let _: proto::UnregisterNodeFleetResponse = self.fleet.call(
                path::UNREGISTER_NODE,
                &proto::UnregisterNodeFleetRequest {
                    node_id: self.node_id,
                },
            )?;
        }
        deactivated.map(|_| ())
    }
}

impl Drop for FlowerNode {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Connects to the SuperLink at `url`, serves `client` until a stop condition of `options`
/// holds, then deactivates and unregisters the node.
pub fn run_node(
    url: &str,
    client: &mut dyn FlowerClient,
    options: NodeOptions,
) -> Result<NodeSummary, FlowerError> {
    let mut node = FlowerNode::connect(url, options)?;
    let served = node.serve(client);
    let closed = node.shutdown();
    match (served, closed) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e),
        (Ok(_), Ok(summary)) => Ok(summary),
    }
}

type Outcome = Result<RecordDict, (i64, String)>;

fn dispatch(
    client: &mut dyn FlowerClient,
    category: &str,
    content: &RecordDict,
) -> (Handled, Outcome) {
    let empty = Config::new();
    let config = content.first_config().unwrap_or(&empty);
    let (arrays_key, named) = content
        .first_arrays()
        .map(|(k, a)| (k.to_string(), a.to_vec()))
        .unwrap_or_else(|| ("arrays".to_string(), Vec::new()));
    let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
    let params: Vec<NdArray> = named.into_iter().map(|(_, a)| a).collect();
    let client_err = |e: ClientError| (ERROR_CLIENT_RAISED, e.to_string());
    match category {
        "train" => {
            let outcome = client
                .fit(params, config)
                .map_err(client_err)
                .and_then(|r| {
                    if r.parameters.len() != names.len() && !names.is_empty() {
                        return Err((
                            ERROR_CLIENT_RAISED,
                            format!(
                                "fit returned {} arrays for {} received",
                                r.parameters.len(),
                                names.len()
                            ),
                        ));
                    }
                    let arrays: Vec<(String, NdArray)> = r
                        .parameters
                        .into_iter()
                        .enumerate()
                        .map(|(i, a)| (names.get(i).cloned().unwrap_or_else(|| i.to_string()), a))
                        .collect();
                    let metrics = with_num_examples(r.metrics, r.num_examples);
                    Ok(RecordDict {
                        items: vec![
                            (arrays_key, Record::Arrays(arrays)),
                            ("metrics".into(), Record::Metrics(metrics)),
                        ],
                    })
                });
            (Handled::Train, outcome)
        }
        "evaluate" => {
            let outcome = client
                .evaluate(params, config)
                .map_err(client_err)
                .map(|r| {
                    let mut metrics = Metrics::new().with_f64("loss", r.loss);
                    for (k, v) in r.metrics.iter() {
                        metrics.insert(k, v.clone());
                    }
                    let metrics = with_num_examples(metrics, r.num_examples);
                    RecordDict {
                        items: vec![("metrics".into(), Record::Metrics(metrics))],
                    }
                });
            (Handled::Evaluate, outcome)
        }
        "query" => {
            let outcome = client
                .query(config)
                .map_err(client_err)
                .map(|m| RecordDict {
                    items: vec![("metrics".into(), Record::Metrics(m))],
                });
            (Handled::Query, outcome)
        }
        other => (
            Handled::Other,
            Err((
                ERROR_UNKNOWN,
                format!("message type {other:?} is not supported by this node"),
            )),
        ),
    }
}

fn with_num_examples(metrics: Metrics, n: u64) -> Metrics {
    let mut m = metrics;
    let v = i64::try_from(n).map_or(MetricValue::Uint(n), MetricValue::Int);
    m.insert(NUM_EXAMPLES_KEY, v);
    m
}

fn is_run_gone(e: &FlowerError) -> bool {
    // FLEET_RUN_STATUS_NOT_ALLOWED and similar: the run finished or was stopped meanwhile.
    matches!(e, FlowerError::Http { status, .. } if matches!(status, 400 | 403 | 404 | 409 | 410 | 422))
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn spawn_heartbeat(
    fleet: FleetClient,
    node_id: u64,
    interval: Duration,
    count: Arc<AtomicU64>,
    error: Arc<Mutex<Option<String>>>,
) -> Heartbeat {
    let (tx, rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let secs = interval.as_secs_f64();
        let mut failures = 0u32;
        loop {
            // Flower sends at 80 % of the interval with +-10 % jitter.
            let jitter: f64 = rand::random::<f64>() * 0.2 - 0.1;
            let wait = Duration::from_secs_f64(secs * (0.8 + jitter));
            match rx.recv_timeout(wait) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let res: Result<proto::SendNodeHeartbeatResponse, _> = fleet.call(
                path::SEND_NODE_HEARTBEAT,
                &proto::SendNodeHeartbeatRequest {
                    node: Some(proto::Node { node_id }),
                    heartbeat_interval: secs,
                },
            );
            match res {
                Ok(r) if r.success => {
                    failures = 0;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {
                    if let Ok(mut g) = error.lock() {
                        *g = Some("the SuperLink does not recognise this node".into());
                    }
                    return;
                }
                Err(e) => {
                    failures += 1;
                    if failures >= 5
                        && let Ok(mut g) = error.lock()
                    {
                        *g = Some(e.to_string());
                        return;
                    }
                }
            }
        }
    });
    Heartbeat { stop: tx, thread }
}
