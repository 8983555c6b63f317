//! A tiny OpenAI-compatible stub for `cambrian eval` CLI tests (std only,
//! 127.0.0.1, HTTP/1.1 keep-alive, `/v1/chat/completions` and
//! `/v1/completions`, JSON or SSE).
//!
//! Answers are derived from the prompt: an item's input carries its key as
//! `key=<answer>` and its number as `#<n>`. Model `oracle` answers the key;
//! `coin` answers the key when n is even and "wrong" otherwise; `refuser`
//! says "I'm sorry, I can't help with that." Any other model answers the key.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Stub {
    pub base_url: String,
    pub requests: Arc<AtomicU64>,
    /// Requests per item number.
    pub per_item: Arc<Mutex<HashMap<u64, u64>>>,
}

pub fn start(delay: Duration) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let per_item = Arc::new(Mutex::new(HashMap::new()));
    let (r2, p2) = (requests.clone(), per_item.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (r3, p3) = (r2.clone(), p2.clone());
            std::thread::spawn(move || serve(conn, delay, r3, p3));
        }
    });
    Stub {
        base_url: format!("http://{addr}/v1"),
        requests,
        per_item,
    }
}

fn serve(
    conn: TcpStream,
    delay: Duration,
    requests: Arc<AtomicU64>,
    per_item: Arc<Mutex<HashMap<u64, u64>>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let model = req["model"].as_str().unwrap_or("").to_string();
        let text = match req.get("messages").and_then(|m| m.as_array()) {
            Some(msgs) => msgs
                .iter()
                .filter_map(|m| m["content"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            None => req["prompt"].as_str().unwrap_or("").to_string(),
        };
        let key = text
            .split("key=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("")
            .to_string();
        let n: u64 = text
            .split('#')
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        *per_item.lock().unwrap().entry(n).or_insert(0) += 1;
        let answer = match model.as_str() {
            "coin" if n % 2 == 1 => "wrong".to_string(),
            "refuser" => "I'm sorry, I can't help with that.".to_string(),
            _ => key,
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let chat = path.ends_with("/chat/completions");
        let stream = req["stream"].as_bool().unwrap_or(false);
        let (ctype, payload) = if stream {
            let delta = if chat {
                serde_json::json!({"id": "x", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": {"content": answer}, "finish_reason": null}]})
            } else {
                serde_json::json!({"id": "x", "object": "text_completion", "model": model, "choices": [{"index": 0, "text": answer, "finish_reason": null}]})
            };
            let fin = if chat {
                serde_json::json!({"id": "x", "object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})
            } else {
                serde_json::json!({"id": "x", "object": "text_completion", "model": model, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}], "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})
            };
            (
                "text/event-stream",
                format!("data: {delta}\n\ndata: {fin}\n\ndata: [DONE]\n\n"),
            )
        } else if chat {
            ("application/json", serde_json::json!({"id": "x", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}).to_string())
        } else {
            (
                "application/json",
                serde_json::json!({"id": "x", "object": "text_completion", "model": model,
                "choices": [{"index": 0, "text": answer, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})
                .to_string(),
            )
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            payload.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(payload.as_bytes()).is_err() {
            return;
        }
        let _ = out.flush();
    }
}

/// Write a JSONL test set of `n` items: input "Question #i key=ans<i>", expected "ans<i>".
pub fn write_tests(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let p = dir.join("tests.jsonl");
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&serde_json::json!({"id": format!("item-{i:04}"), "input": format!("Question #{i} key=ans{i} ?"), "expected": format!("ans{i}")}).to_string());
        s.push('\n');
    }
    std::fs::write(&p, s).unwrap();
    p
}
