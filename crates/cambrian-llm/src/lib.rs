//! OpenAI-compatible client (chat, completions, SSE) with server quirks of vLLM, TGI, llama.cpp and Ollama.

pub mod message;
pub use message::{ChatMessage, Role};
