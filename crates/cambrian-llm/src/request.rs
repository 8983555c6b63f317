//! Request bodies for `/v1/chat/completions` and `/v1/completions`.

use crate::message::ChatMessage;
use serde::{Deserialize, Serialize};

/// Which OpenAI-compatible endpoint to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// `POST {base}/chat/completions` with `messages`.
    #[default]
    Chat,
    /// `POST {base}/completions` with a raw `prompt` (no chat template applied
    /// by the server).
    Completions,
}

impl Api {
    /// The path appended to the `/v1` base URL.
    pub fn path(self) -> &'static str {
        match self {
            Api::Chat => "/chat/completions",
            Api::Completions => "/completions",
        }
    }
}

/// The input of a request.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Messages(&'a [ChatMessage]),
    Prompt(&'a str),
}

/// One generation request. Borrowed so a runner can send thousands without copying items.
#[derive(Debug, Clone, Copy)]
pub struct GenRequest<'a> {
    pub api: Api,
    pub model: &'a str,
    pub input: Input<'a>,
    pub temperature: f64,
    pub max_tokens: u32,
    pub seed: Option<u64>,
    pub stream: bool,
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<&'a [ChatMessage]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    temperature: f64,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    stream: bool,
    /// Ask for a final usage chunk when streaming (OpenAI, vLLM, llama.cpp,
    /// Ollama honour it; servers that do not know it ignore it).
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

impl GenRequest<'_> {
    /// The JSON body sent to the server.
    pub fn to_json(&self) -> Vec<u8> {
        let (messages, prompt) = match self.input {
            Input::Messages(m) => (Some(m), None),
            Input::Prompt(p) => (None, Some(p)),
        };
        let body = Body {
            model: self.model,
            messages,
            prompt,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            seed: self.seed,
            stream: self.stream,
            stream_options: self.stream.then_some(StreamOptions {
                include_usage: true,
            }),
        };
        // Serialising plain strings and numbers cannot fail; NaN temperature
        // becomes `null`, which the server rejects with a clear 4xx.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Role;

    #[test]
    fn chat_body_shape() {
        let msgs = [ChatMessage {
            role: Role::User,
            content: "hi".into(),
        }];
        let r = GenRequest {
            api: Api::Chat,
            model: "m",
            input: Input::Messages(&msgs),
            temperature: 0.0,
            max_tokens: 8,
            seed: Some(7),
            stream: true,
        };
        let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model":"m","messages":[{"role":"user","content":"hi"}],
                "temperature":0.0,"max_tokens":8,"seed":7,"stream":true,
                "stream_options":{"include_usage":true}})
        );
    }

    #[test]
    fn completions_body_shape() {
        let r = GenRequest {
            api: Api::Completions,
            model: "m",
            input: Input::Prompt("Q: 1+1\nA:"),
            temperature: 0.5,
            max_tokens: 4,
            seed: None,
            stream: false,
        };
        let v: serde_json::Value = serde_json::from_slice(&r.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model":"m","prompt":"Q: 1+1\nA:","temperature":0.5,"max_tokens":4,"stream":false})
        );
    }
}
