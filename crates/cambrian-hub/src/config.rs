//! Client settings as a plain struct. The CLI fills it from flags and the
//! environment (`HF_ENDPOINT`, `HF_TOKEN`); this crate never reads either.

use std::fmt;
use std::time::Duration;

/// Everything the client needs. `Debug` is implemented by hand so that the
/// token is never printed: it shows `Some("<redacted>")`.
#[derive(Clone)]
pub struct HubConfig {
    /// Base URL without a trailing `/`, e.g. `https://huggingface.co`.
    pub endpoint: String,
    /// Bearer token. Sent only to the endpoint's origin.
    pub token: Option<String>,
    /// Time allowed to establish the TCP (+TLS) connection.
    pub connect_timeout: Duration,
    /// Time from sending the request to receiving the response headers.
    pub first_byte_timeout: Duration,
    /// Time from sending the request to the end of the body.
    pub total_timeout: Duration,
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Backoff before retry `n` (0-based) is uniform in `[0, min(cap, base * 2^n)]`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest wait honoured for a `RateLimit` / `Retry-After` reset; longer
    /// announced waits are capped to this value.
    pub max_rate_limit_wait: Duration,
    /// Largest listing page / model-info body accepted (bytes).
    pub max_json_bytes: u64,
    /// When a server answers a ranged request with the whole file (200), the
    /// client reads at most `range.end` bytes of it; if `range.end` exceeds
    /// this limit the read fails instead.
    pub max_range_fallback_bytes: u64,
    pub user_agent: String,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            endpoint: "https://huggingface.co".to_string(),
            token: None,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(120),
            max_retries: 6,
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(300),
            max_json_bytes: 256 * 1024 * 1024,
            max_range_fallback_bytes: 64 * 1024 * 1024,
            user_agent: concat!("cambrian/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_cap", &self.backoff_cap)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("max_json_bytes", &self.max_json_bytes)
            .field("max_range_fallback_bytes", &self.max_range_fallback_bytes)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}
