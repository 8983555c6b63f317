//! Errors and warnings of the Hub client.
//!
//! No variant ever carries the bearer token: requests carry it in a header
//! that is never copied into an error, and URLs never contain it.

use cambrian_types::ErrorKind;
use std::time::Duration;

/// A problem with one optional field of a record that was tolerated: the
/// field was set to `None` (or left empty) and parsing went on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldWarning {
    /// JSON path of the field, e.g. `safetensors.total` or `tags[3]`.
    pub field: String,
    pub reason: String,
}

/// A problem with one item of a listing page. `field: None` means the whole
/// item was skipped (e.g. it had no string `id`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemWarning {
    /// 0-based position of the item in its page.
    pub index: usize,
    pub id: Option<String>,
    pub field: Option<String>,
    pub reason: String,
}

/// A record that cannot be used at all (not an object, no string `id`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    pub reason: String,
}

/// Everything that can go wrong talking to the Hub.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("invalid Hub client configuration: {reason}")]
    Config { reason: String },

    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },

    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },

    #[error("{phase} timeout after {after:?} for {url}")]
    Timeout {
        url: String,
        phase: &'static str,
        after: Duration,
    },

    #[error("HTTP {status} from {url}{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Http {
        url: String,
        status: u16,
        detail: Option<String>,
    },

    #[error("rate limited by {url} (HTTP 429); the announced reset was {wait:?}")]
    RateLimited { url: String, wait: Option<Duration> },

    #[error("response body from {url} broke off: {reason}")]
    Body { url: String, reason: String },

    #[error("invalid JSON from {url} at byte {offset} (line {line}, column {column}): {reason}")]
    InvalidJson {
        url: String,
        offset: u64,
        line: usize,
        column: usize,
        reason: String,
    },

    #[error("unexpected response from {url}: {reason}")]
    Unexpected { url: String, reason: String },

    #[error("{url} is larger than the allowed {limit} bytes{}", size.map(|s| format!(" ({s} bytes)")).unwrap_or_default())]
    TooLarge {
        url: String,
        limit: u64,
        size: Option<u64>,
    },

    #[error(
        "giving up on {url} after {attempts} attempts: {}",
        last_without_url(last, url)
    )]
    GaveUp {
        url: String,
        attempts: u32,
        last: Box<HubError>,
    },
}

/// `last`'s message without the URL that [`HubError::GaveUp`] already names
/// ("could not connect to URL: …" → "could not connect: …").
fn last_without_url(last: &HubError, url: &str) -> String {
    let mut m = last.to_string();
    if url.is_empty() {
        return m;
    }
    for joint in [" to ", " for ", " from ", " by "] {
        m = m.replace(&format!("{joint}{url}"), "");
    }
    m
}

impl HubError {
    /// The user-facing kind (and so the CLI exit code) of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HubError::Config { .. } | HubError::InvalidRequest { .. } => ErrorKind::Usage,
            HubError::Http { status: 404, .. } => ErrorKind::NotFound,
            HubError::Http { .. }
            | HubError::Connect { .. }
            | HubError::Timeout { .. }
            | HubError::RateLimited { .. }
            | HubError::Body { .. }
            | HubError::Unexpected { .. } => ErrorKind::Remote,
            HubError::InvalidJson { .. } | HubError::TooLarge { .. } => ErrorKind::BadInput,
            HubError::GaveUp { last, .. } => last.kind(),
        }
    }

    /// Whether retrying the same request may succeed: connection errors,
    /// timeouts, broken bodies, invalid JSON (truncated bodies look like
    /// that), 408, 429 and 5xx. `GaveUp` is not transient: it already was
    /// retried.
    pub fn is_transient(&self) -> bool {
        match self {
            HubError::Connect { .. }
            | HubError::Timeout { .. }
            | HubError::RateLimited { .. }
            | HubError::Body { .. }
            | HubError::InvalidJson { .. }
            | HubError::Unexpected { .. } => true,
            HubError::Http { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The HTTP status, if the error is an HTTP status error.
    pub fn status(&self) -> Option<u16> {
        match self {
            HubError::Http { status, .. } => Some(*status),
            HubError::RateLimited { .. } => Some(429),
            HubError::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }

    /// A short suggestion for the user, when there is a useful one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            HubError::GaveUp { last, .. } => last.hint(),
            HubError::Connect { .. } | HubError::Timeout { .. } => Some(
                "check the network or the endpoint (HF_ENDPOINT / --endpoint); cambrian works offline with `cambrian import`",
            ),
            HubError::Http {
                status: 401 | 403, ..
            } => Some(
                "the repository may be private or gated: accept its terms on the Hub and set HF_TOKEN",
            ),
            HubError::Http { status: 404, .. } => Some("check the model id and revision"),
            HubError::RateLimited { .. } => {
                Some("wait and retry, or set HF_TOKEN for a higher rate limit")
            }
            HubError::TooLarge { .. } => Some("the file is larger than the configured limit"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> HubError {
        HubError::Http {
            url: "u".into(),
            status,
            detail: None,
        }
    }

    #[test]
    fn gave_up_names_the_url_once() {
        let url = "http://127.0.0.1:1/api/models?limit=1000";
        let e = HubError::GaveUp {
            url: url.into(),
            attempts: 7,
            last: Box::new(HubError::Connect {
                url: url.into(),
                reason: "tcp connect error: Connection refused (os error 111)".into(),
            }),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "giving up on {url} after 7 attempts: could not connect: tcp connect error: Connection refused (os error 111)"
            )
        );
        let e = HubError::GaveUp {
            url: url.into(),
            attempts: 3,
            last: Box::new(HubError::Http {
                url: url.into(),
                status: 503,
                detail: None,
            }),
        };
        assert_eq!(
            e.to_string(),
            format!("giving up on {url} after 3 attempts: HTTP 503")
        );
    }

    #[test]
    fn kinds_and_transience() {
        assert_eq!(http(404).kind(), ErrorKind::NotFound);
        assert_eq!(http(403).kind(), ErrorKind::Remote);
        assert_eq!(
            HubError::Config { reason: "x".into() }.kind(),
            ErrorKind::Usage
        );
        let bad_json = HubError::InvalidJson {
            url: "u".into(),
            offset: 3,
            line: 1,
            column: 4,
            reason: "r".into(),
        };
        assert!(bad_json.is_transient());
        assert_eq!(bad_json.kind(), ErrorKind::BadInput);
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(http(s).is_transient(), "{s}");
        }
        for s in [400, 401, 403, 404, 416] {
            assert!(!http(s).is_transient(), "{s}");
        }
        let gave_up = HubError::GaveUp {
            url: "u".into(),
            attempts: 3,
            last: Box::new(http(503)),
        };
        assert!(!gave_up.is_transient());
        assert_eq!(gave_up.kind(), ErrorKind::Remote);
        assert_eq!(gave_up.status(), Some(503));
        assert!(http(401).hint().unwrap().contains("HF_TOKEN"));
    }
}
