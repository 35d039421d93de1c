//! Fleet API transport: `POST /v1/fleet/<method>` with `application/protobuf` bodies, signed
//! node headers and Flower's runtime-version headers (flwr 1.40+; SuperLink's FastAPI server).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::auth::NodeKey;
use crate::error::FlowerError;

/// Media type of Fleet request and response bodies.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/protobuf";

/// Fleet API paths (flwr 1.42 `flwr/supernode/fleet_http_client.py`).
pub mod path {
    /// RegisterNode
    pub const REGISTER_NODE: &str = "/v1/fleet/register-node";
    /// ActivateNode
    pub const ACTIVATE_NODE: &str = "/v1/fleet/activate-node";
    /// DeactivateNode
    pub const DEACTIVATE_NODE: &str = "/v1/fleet/deactivate-node";
    /// UnregisterNode
    pub const UNREGISTER_NODE: &str = "/v1/fleet/unregister-node";
    /// SendNodeHeartbeat
    pub const SEND_NODE_HEARTBEAT: &str = "/v1/fleet/send-node-heartbeat";
    /// PullMessages
    pub const PULL_MESSAGES: &str = "/v1/fleet/pull-messages";
    /// PushMessages
    pub const PUSH_MESSAGES: &str = "/v1/fleet/push-messages";
    /// GetRun
    pub const GET_RUN: &str = "/v1/fleet/get-run";
    /// PushObject
    pub const PUSH_OBJECT: &str = "/v1/fleet/push-object";
    /// PullObject
    pub const PULL_OBJECT: &str = "/v1/fleet/pull-object";
    /// ConfirmMessageReceived
    pub const CONFIRM_MESSAGE_RECEIVED: &str = "/v1/fleet/confirm-message-received";
}

/// Bytes of HTTP bodies sent and received (headers not counted).
#[derive(Debug, Default)]
pub struct Traffic {
    /// Request body bytes.
    pub sent: AtomicU64,
    /// Response body bytes.
    pub received: AtomicU64,
}

/// A Fleet API client bound to one SuperLink and one node key. Cheap to clone (shared agent).
#[derive(Clone)]
pub struct FleetClient {
    agent: ureq::Agent,
    base: String,
    key: Arc<NodeKey>,
    version: Option<String>,
    traffic: Arc<Traffic>,
    retries: u32,
}

impl FleetClient {
    /// `url` is `http://host:port` (insecure SuperLink) or `https://host:port`; a bare
    /// `host:port` means `http://`. `version` is sent as `flwr-package-version` (the Flower
    /// release whose protocol this node speaks); `None` sends no runtime-version headers.
    pub fn new(
        url: &str,
        key: Arc<NodeKey>,
        timeout: Duration,
        version: Option<String>,
        retries: u32,
    ) -> Result<Self, FlowerError> {
        let url = url.trim().trim_end_matches('/');
        if url.is_empty() {
            return Err(FlowerError::Options("empty SuperLink URL".into()));
        }
        let base = if url.starts_with("http://") || url.starts_with("https://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Ok(FleetClient {
            agent,
            base,
            key,
            version,
            traffic: Arc::new(Traffic::default()),
            retries,
        })
    }

    /// The SuperLink base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Body bytes sent and received so far.
    pub fn traffic(&self) -> (u64, u64) {
        (
            self.traffic.sent.load(Ordering::Relaxed),
            self.traffic.received.load(Ordering::Relaxed),
        )
    }

    /// One unary Fleet call. Transport failures and 502/503/504 are retried `retries` times with
    /// exponential backoff (0.25 s, 0.5 s, ...).
    pub fn call<Req, Resp>(&self, path: &str, request: &Req) -> Result<Resp, FlowerError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let body = request.encode_to_vec();
        let mut delay = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            match self.call_once(path, &body) {
                Ok(bytes) => {
                    return Resp::decode(bytes.as_slice()).map_err(|e| {
                        FlowerError::Protocol(format!("{path}: undecodable response: {e}"))
                    });
                }
                Err(e) if attempt < self.retries && is_transient(&e) => {
                    attempt += 1;
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(4));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn call_once(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, FlowerError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .agent
            .post(&url)
            .header("content-type", PROTOBUF_MEDIA_TYPE)
            .header("accept", PROTOBUF_MEDIA_TYPE);
        for (name, value) in self.key.auth_headers()? {
            req = req.header(name, value);
        }
        if let Some(v) = &self.version {
            req = req
                .header("flwr-package-name", "flwr")
                .header("flwr-package-version", v.as_str())
                .header("flwr-component-name", "SuperNode");
        }
        let transport = |e: ureq::Error| FlowerError::Transport {
            endpoint: url.clone(),
            message: e.to_string(),
        };
        let mut resp = req.send(body).map_err(transport)?;
        self.traffic
            .sent
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(transport)?;
        self.traffic
            .received
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if !(200..300).contains(&status) {
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            text.truncate(2000);
            return Err(FlowerError::Http {
                endpoint: path.to_string(),
                status,
                body: text,
            });
        }
        Ok(bytes)
    }
}

fn is_transient(e: &FlowerError) -> bool {
    match e {
        FlowerError::Transport { .. } => true,
        FlowerError::Http { status, .. } => matches!(status, 502..=504),
        _ => false,
    }
}
