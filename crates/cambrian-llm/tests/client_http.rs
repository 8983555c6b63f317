//! The client over real HTTP on 127.0.0.1 (a tiny axum server per test).

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use cambrian_llm::{
    Api, ApiKey, ChatMessage, Client, Endpoint, GenRequest, Input, LlmError, Role, Timeouts,
};
use std::time::Duration;

async fn serve(app: Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}/v1/")
}

fn msgs() -> Vec<ChatMessage> {
    vec![ChatMessage {
        role: Role::User,
        content: "hi".into(),
    }]
}

fn req<'a>(m: &'a [ChatMessage], stream: bool) -> GenRequest<'a> {
    GenRequest {
        api: Api::Chat,
        model: "m",
        input: Input::Messages(m),
        temperature: 0.0,
        max_tokens: 4,
        seed: None,
        stream,
    }
}

#[tokio::test]
async fn bearer_key_is_sent_and_never_debug_printed() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|h: HeaderMap| async move {
            let auth = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let body = format!(
                r#"{{"choices":[{{"message":{{"content":"{auth}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":1,"completion_tokens":1}}}}"#
            );
            ([(header::CONTENT_TYPE, "application/json")], body)
        }),
    );
    let base = serve(app).await;
    let ep = Endpoint::new(&base, Some(ApiKey::new("sk-top-secret"))).unwrap();
    assert!(!format!("{ep:?}").contains("sk-top-secret"));
    let client = Client::new(Timeouts::default(), 4).unwrap();
    let m = msgs();
    let c = client.complete(&ep, &req(&m, false)).await.unwrap();
    assert_eq!(c.answer.text, "Bearer sk-top-secret");
    assert!(c.latency > Duration::ZERO);
    assert_eq!(c.ttft, None);
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    (header::RETRY_AFTER, "7"),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                r#"{"error":{"message":"slow down","type":"rate_limit"}}"#,
            )
                .into_response()
        }),
    );
    let base = serve(app).await;
    let client = Client::new(Timeouts::default(), 4).unwrap();
    let m = msgs();
    let e = client
        .complete(&Endpoint::new(&base, None).unwrap(), &req(&m, false))
        .await
        .unwrap_err();
    assert!(e.is_backpressure() && e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(matches!(e, LlmError::Http { status: 429, ref message, .. } if message == "slow down"));
}

#[tokio::test]
async fn stream_measures_ttft_and_unlabelled_sse_is_parsed() {
    let sse = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"yo\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(move || async move { ([(header::CONTENT_TYPE, "text/event-stream")], sse) }),
        )
        .route(
            "/v1/completions",
            post(move || async move { ([(header::CONTENT_TYPE, "text/plain")], sse) }),
        );
    let base = serve(app).await;
    let ep = Endpoint::new(&base, None).unwrap();
    let client = Client::new(Timeouts::default(), 4).unwrap();
    let m = msgs();
    let c = client.complete(&ep, &req(&m, true)).await.unwrap();
    assert_eq!(c.answer.text, "yo");
    assert!(c.streamed);
    let ttft = c.ttft.expect("ttft");
    assert!(ttft <= c.latency);
    let mut r = req(&m, true);
    r.api = Api::Completions;
    r.input = Input::Prompt("x");
    let c = client.complete(&ep, &r).await.unwrap();
    assert_eq!(c.answer.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn refused_connection_and_bad_urls() {
    // Bind then drop: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(Timeouts::default(), 1).unwrap();
    let m = msgs();
    let ep = Endpoint::new(&format!("http://127.0.0.1:{port}/v1"), None).unwrap();
    let e = client.complete(&ep, &req(&m, false)).await.unwrap_err();
    assert!(matches!(e, LlmError::Connect { .. }), "{e:?}");
    assert!(Endpoint::new("ftp://x/v1", None).is_err());
    assert!(Endpoint::new("not a url", None).is_err());
}
