//! Errors of the Flower client node.

/// What can go wrong while talking to a SuperLink or decoding what it sent.
#[derive(Debug, thiserror::Error)]
pub enum FlowerError {
    /// The SuperLink answered an HTTP error status (its JSON error body is kept).
    #[error("SuperLink answered {status} to {endpoint}: {body}")]
    Http {
        /// Fleet endpoint, e.g. `/v1/fleet/pull-messages`.
        endpoint: String,
        /// HTTP status code.
        status: u16,
        /// Response body (Flower's JSON error, truncated).
        body: String,
    },
    /// The HTTP request could not be made (connection refused, timeout, TLS).
    #[error("cannot reach the SuperLink at {endpoint}: {message}")]
    Transport {
        /// Fleet endpoint.
        endpoint: String,
        /// Underlying error.
        message: String,
    },
    /// A response or object did not decode, or broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A `.npy` payload could not be read or written.
    #[error("npy: {0}")]
    Npy(String),
    /// Key generation, loading or signing failed.
    #[error("node key: {0}")]
    Key(String),
    /// Invalid options.
    #[error("invalid options: {0}")]
    Options(String),
}

/// The error a [`crate::FlowerClient`] returns; it is sent back to the ServerApp as a Flower
/// `Error` (code 2, `CLIENT_APP_RAISED_EXCEPTION`) and the node keeps serving.
pub type ClientError = Box<dyn std::error::Error + Send + Sync>;
