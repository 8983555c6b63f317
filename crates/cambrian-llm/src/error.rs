//! Errors of one request to an OpenAI-compatible server.
//!
//! The variants separate what the caller must treat differently: back-pressure
//! (429/503, retry after a pause and shrink concurrency), timeouts (which
//! phase), a server that rejected the request (4xx: retrying will not help),
//! a broken connection, and a response that is not OpenAI-compatible.

use std::time::Duration;

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// TCP/TLS connection not established in time.
    Connect,
    /// Connected, but no response headers (or, when streaming, no first body
    /// chunk) arrived in time.
    FirstByte,
    /// The whole request (including reading the body) took too long.
    Total,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::FirstByte => "first-byte",
            TimeoutPhase::Total => "total",
        })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// The base URL could not be used.
    #[error("invalid base URL {url:?}: {message}")]
    InvalidUrl { url: String, message: String },

    /// Connection refused/reset, DNS or TLS failure before any response.
    #[error("could not connect to {url}: {message}")]
    Connect { url: String, message: String },

    #[error("{phase} timeout after {} ms", after.as_millis())]
    Timeout {
        phase: TimeoutPhase,
        after: Duration,
    },

    /// The server answered with an HTTP error status. `message` is taken from
    /// the error body (OpenAI, vLLM, TGI, llama.cpp and Ollama shapes).
    #[error("HTTP {status}: {message}")]
    Http {
        status: u16,
        message: String,
        /// The error type/code from the body when there is one
        /// (`invalid_request_error`, `validation`, ...).
        error_type: Option<String>,
        /// Parsed `Retry-After` header (seconds or HTTP date).
        retry_after: Option<Duration>,
    },

    /// The server reported an error inside a 200 response: an `error` object
    /// in the body or an error event in the stream (vLLM and llama.cpp do
    /// this, e.g. when the context is exceeded mid-stream).
    #[error("server reported an error: {message}")]
    ServerError { message: String },

    /// The connection broke while reading the body.
    #[error("connection broken while reading the response: {message}")]
    Transport { message: String },

    /// The response was not an OpenAI-compatible completion.
    #[error("unexpected response: {message}")]
    Protocol { message: String },
}

impl LlmError {
    /// 429 and 503: the server asks us to slow down.
    pub fn is_backpressure(&self) -> bool {
        matches!(
            self,
            LlmError::Http {
                status: 429 | 503,
                ..
            }
        )
    }

    /// Whether a retry may succeed: back-pressure, 5xx, broken or refused
    /// connections and timeouts. 4xx (other than 429/408) and protocol errors
    /// will not get better.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Http { status, .. } => *status == 429 || *status == 408 || *status >= 500,
            LlmError::Connect { .. } | LlmError::Transport { .. } | LlmError::Timeout { .. } => {
                true
            }
            LlmError::InvalidUrl { .. }
            | LlmError::ServerError { .. }
            | LlmError::Protocol { .. } => false,
        }
    }

    /// The pause the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// HTTP status, when the server answered with one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            LlmError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}
