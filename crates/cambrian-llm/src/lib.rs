//! OpenAI-compatible client (chat, completions, SSE) with the server quirks of
//! vLLM, TGI, llama.cpp and Ollama.
//!
//! Only this crate talks to inference servers. It sends one request at a
//! time ([`Client::complete`]), parses JSON and SSE answers into an
//! [`Answer`] (answer text and reasoning kept apart, finish reason, usage),
//! measures latency and time to first token, classifies failures
//! ([`LlmError`]: back-pressure, timeouts by phase, rejections, broken
//! streams, non-OpenAI responses), and offers an AIMD concurrency limiter
//! per endpoint ([`AimdLimiter`]). Retries and scheduling belong to the caller
//! (the eval runner). API keys are passed in as values and never logged.

pub mod client;
pub mod error;
pub mod limiter;
pub mod message;
pub mod reasoning;
pub mod request;
pub mod response;

pub use client::{ApiKey, Client, Endpoint, Timeouts};
pub use error::{LlmError, TimeoutPhase};
pub use limiter::{AimdLimiter, Permit};
pub use message::{ChatMessage, Role};
pub use request::{Api, GenRequest, Input};
pub use response::{Answer, Completion, Usage};
