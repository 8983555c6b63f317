//! The records that flow between the runner and the scorers/statistics.
//!
//! The runner (`runner` module) turns [`PreparedItem`]s into [`ItemRun`]s,
//! one per (model, item), appended to the journal. Scoring and statistics
//! read `ItemRun`s only: re-scoring never needs a server.

use cambrian_llm::ChatMessage;
use serde::{Deserialize, Serialize};

/// One labeled example from the user's test set, after validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestItem {
    pub id: String,
    pub input: Input,
    /// String, number, list, or object (field extraction).
    pub expected: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// Item input: plain text (rendered through the prompt template) or chat messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Messages(Vec<ChatMessage>),
}

/// An item ready to send: the final messages (or prompt for `/v1/completions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedItem {
    pub id: String,
    pub messages: Vec<ChatMessage>,
    /// Set when the endpoint is driven through `/v1/completions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

/// Generation settings sent with every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenParams {
    pub temperature: f64,
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// The outcome of one request of one model on one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRun {
    /// The user's label for the model (the `NAME` of `--model NAME=URL`).
    pub model: String,
    pub item_id: String,
    /// The answer text (reasoning excluded); `None` on failure.
    pub text: Option<String>,
    /// Reasoning/thinking content, kept apart from the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// Time to first token (streaming only), milliseconds.
    pub ttft_ms: Option<f64>,
    /// Whole request latency, milliseconds (cache hits keep the original).
    pub latency_ms: Option<f64>,
    /// Set when no usable response arrived.
    pub error: Option<CallError>,
    /// Served from the response cache.
    pub cached: bool,
}

/// Why a request produced no usable response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallError {
    pub kind: CallErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallErrorKind {
    /// Connection refused/reset, DNS, TLS, a broken stream, HTTP errors after retries.
    Transport,
    /// Connect, first-byte or total timeout.
    Timeout,
    /// The server answered with an error body (4xx), e.g. context length exceeded.
    Rejected,
}
