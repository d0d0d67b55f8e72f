//! The remote client against HTTP fakes: wiremock for whole answers (429 with Retry-After,
//! 5xx, a slow first byte, refused keys, HTML), and a raw socket where a connection must break
//! or close at a chosen byte.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth_llm::remote::{Breaker, HttpRuntime, Protocol, Remote, RemoteConfig, RetryPolicy, Timeouts};
use hearth_llm::{
    CancellationToken, ChatEvent, ChatMessage, ChatModel, ChatRequest, FinishReason, LlmError, RemoteFailure, SamplingParams,
};
use hearth_types::Role;
use hearth_types::Secret;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-KEEPTHISSECRET-4242";

fn sse(deltas: &[&str]) -> String {
    let mut body = String::new();
    for d in deltas {
        body.push_str(&format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":{}}},\"finish_reason\":null}}]}}\n\n",
            serde_json::json!(d)
        ));
    }
    body.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    body.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
    body
}

fn stream_ok(deltas: &[&str]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(sse(deltas), "text/event-stream")
}

fn config(base_url: String) -> RemoteConfig {
    RemoteConfig {
        name: "fake".into(),
        protocol: Protocol::OpenAi,
        base_url,
        headers: vec![("X-Title".into(), "Hearth tests".into())],
        key: Some(Secret::new(KEY)),
        needs_key: true,
        timeouts: Timeouts { connect: Duration::from_secs(2), first_byte: Duration::from_secs(5), idle: Duration::from_secs(5) },
        retry: RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        },
    }
}

fn remote(config: RemoteConfig) -> Remote {
    Remote::new(config, Arc::new(HttpRuntime::new()), Arc::new(Breaker::new(3, Duration::from_secs(60)))).unwrap()
}

fn ask() -> ChatRequest {
    ChatRequest::new("gpt-test", vec![ChatMessage::new(Role::User, "Hi")], SamplingParams::greedy(16))
}

/// Runs a whole chat on a blocking thread (the client blocks, as the ChatModel trait does).
async fn chat(remote: &Remote) -> Result<(String, Vec<Result<ChatEvent, LlmError>>), LlmError> {
    let remote = remote.clone();
    tokio::task::spawn_blocking(move || {
        let stream = remote.chat(ask(), CancellationToken::new())?;
        let events: Vec<_> = stream.collect();
        let text = events.iter().filter_map(|e| if let Ok(ChatEvent::Delta(d)) = e { Some(d.as_str()) } else { None }).collect();
        Ok((text, events))
    })
    .await
    .unwrap()
}

fn failure(e: LlmError) -> RemoteFailure {
    match e {
        LlmError::Remote { provider, failure } => {
            assert_eq!(provider, "fake", "errors name the provider");
            failure
        }
        other => panic!("not a remote failure: {other:?}"),
    }
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn a_streamed_reply_sends_the_key_and_extra_headers_and_reports_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("x-title", "Hearth tests"))
        .respond_with(stream_ok(&["Hel", "lo"]))
        .mount(&server)
        .await;
    let (text, events) = chat(&remote(config(format!("{}/v1", server.uri())))).await.unwrap();
    assert_eq!(text, "Hello");
    match events.last() {
        Some(Ok(ChatEvent::Finished { reason: FinishReason::Stop, usage, timings })) => {
            assert_eq!((usage.prompt_tokens, usage.completion_tokens), (4, 2));
            assert!(timings.total_ms >= timings.time_to_first_token_ms);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1").set_body_string(r#"{"error":{"message":"slow down"}}"#))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(stream_ok(&["ok"])).mount(&server).await;
    let started = Instant::now();
    let (text, _) = chat(&remote(config(server.uri()))).await.unwrap();
    assert_eq!(text, "ok");
    assert_eq!(requests(&server).await, 2);
    // Honouring the header is behaviour, not speed: the retry cannot have come sooner.
    assert!(started.elapsed() >= Duration::from_secs(1), "retried before Retry-After: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_retry_after_beyond_the_policy_fails_at_once_so_a_fallback_can_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600")).mount(&server).await;
    let e = chat(&remote(config(server.uri()))).await.unwrap_err();
    assert_eq!(failure(e), RemoteFailure::RateLimited { retry_after: Some(Duration::from_secs(3600)) });
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_and_then_the_breaker_holds_calls_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string(r#"{"error":{"message":"overloaded, try later"}}"#))
        .mount(&server)
        .await;
    let remote = remote(config(server.uri()));
    let e = chat(&remote).await.unwrap_err();
    assert_eq!(failure(e), RemoteFailure::Server { status: 503, message: "overloaded, try later".into() });
    assert_eq!(requests(&server).await, 3, "the first attempt and two retries");
    // The breaker counts failed calls, not attempts: two more calls make three, which opens it,
    // and the next call is not sent at all.
    for _ in 0..2 {
        assert!(matches!(failure(chat(&remote).await.unwrap_err()), RemoteFailure::Server { status: 503, .. }));
    }
    assert_eq!(requests(&server).await, 9);
    let e = chat(&remote).await.unwrap_err();
    assert!(matches!(failure(e), RemoteFailure::CircuitOpen { .. }));
    assert_eq!(requests(&server).await, 9);
}

#[tokio::test]
async fn a_slow_first_byte_times_out_and_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(stream_ok(&["late"]).set_delay(Duration::from_secs(3))).mount(&server).await;
    let mut config = config(server.uri());
    config.timeouts.first_byte = Duration::from_millis(200);
    config.retry.max_retries = 1;
    let e = chat(&remote(config)).await.unwrap_err();
    assert!(matches!(failure(e), RemoteFailure::Timeout { phase: "the answer", .. }));
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_refused_key_is_named_not_retried_and_never_echoed() {
    let server = MockServer::start().await;
    let echo = format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}","type":"invalid_request_error"}}}}"#);
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(401).set_body_string(echo.clone())).mount(&server).await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(400).set_body_string(echo)).mount(&server).await;
    let remote = remote(config(server.uri()));
    let e = chat(&remote).await.unwrap_err();
    let message = e.to_string();
    assert!(message.contains("provider fake") && message.contains("key was refused"), "{message}");
    assert_eq!(failure(e), RemoteFailure::KeyRefused { status: 401 });
    assert_eq!(requests(&server).await, 1);
    // A provider that echoes the key in an error body: the message keeps none of it.
    let listed = tokio::task::spawn_blocking(move || remote.list_models()).await.unwrap().unwrap_err().to_string();
    assert!(listed.contains("Incorrect API key provided") && !listed.contains("KEEPTHISSECRET"), "{listed}");
}

#[tokio::test]
async fn html_instead_of_the_api_is_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html><body>Welcome to nginx!</body></html>", "text/html"))
        .mount(&server)
        .await;
    let e = chat(&remote(config(server.uri()))).await.unwrap_err();
    assert!(matches!(failure(e), RemoteFailure::BadResponse(m) if m.contains("HTML") && m.contains("base URL")));
    assert_eq!(requests(&server).await, 1, "a wrong base URL is not retried");
}

#[tokio::test]
async fn a_json_answer_to_a_stream_request_is_read_whole_and_models_are_listed() {
    let server = MockServer::start().await;
    let answer = serde_json::json!({
        "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": "whole" } }],
        "usage": { "prompt_tokens": 2, "completion_tokens": 1 }
    });
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_json(answer)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": [{"id": "b"}, {"id": "a"}]})))
        .mount(&server)
        .await;
    let remote = remote(config(server.uri()));
    assert_eq!(chat(&remote).await.unwrap().0, "whole");
    assert_eq!(tokio::task::spawn_blocking(move || remote.list_models()).await.unwrap().unwrap(), vec!["a", "b"]);
}

#[tokio::test]
async fn anthropic_requests_carry_its_headers_and_path() {
    let server = MockServer::start().await;
    let body = include_str!("../src/remote/testdata/anthropic_text.sse");
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&server)
        .await;
    let config = RemoteConfig { protocol: Protocol::Anthropic, ..config(format!("{}/v1", server.uri())) };
    let (text, _) = chat(&remote(config)).await.unwrap();
    assert_eq!(text, "Hello there, caf\u{e9}!");
}

#[tokio::test]
async fn a_provider_that_needs_a_key_is_not_called_without_one() {
    let server = MockServer::start().await;
    let e = chat(&remote(RemoteConfig { key: None, ..config(server.uri()) })).await.unwrap_err();
    assert_eq!(failure(e), RemoteFailure::NoKey);
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn redirects_are_followed_within_the_provider_and_never_to_another_host() {
    let elsewhere = MockServer::start().await;
    let body = include_str!("../src/remote/testdata/anthropic_text.sse");
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")).mount(&elsewhere).await;
    let provider = MockServer::start().await;
    let target = format!("{}/v1/messages", elsewhere.uri());
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", target.as_str()))
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/old/messages"))
        .respond_with(ResponseTemplate::new(308).insert_header("location", "/new/messages"))
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/new/messages"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&provider)
        .await;
    // Anthropic's key travels in `x-api-key`, which reqwest's own policy would forward.
    let anthropic = |base: String| remote(RemoteConfig { protocol: Protocol::Anthropic, ..config(base) });

    let (text, _) = chat(&anthropic(format!("{}/old", provider.uri()))).await.unwrap();
    assert_eq!(text, "Hello there, caf\u{e9}!", "same scheme, host and port: followed, key and all");

    let e = chat(&anthropic(format!("{}/v1", provider.uri()))).await.unwrap_err();
    assert_eq!(failure(e), RemoteFailure::Redirected { status: 307, to: target });
    assert_eq!(requests(&elsewhere).await, 0, "nothing, and so no key, reached the other host");
    assert_eq!(requests(&provider).await, 3, "two for the move, one refused redirect, not retried");
}

// ------------------------------------------------------------------ raw sockets

/// A one-route HTTP server on a socket: `answer(connection number, stream)` writes whatever
/// bytes the test needs after the request was read.
fn raw_server(answer: impl Fn(usize, &mut TcpStream) + Send + 'static) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            read_request(&mut stream);
            let n = seen.fetch_add(1, Ordering::SeqCst);
            answer(n, &mut stream);
        }
    });
    (url, count)
}

fn read_request(stream: &mut TcpStream) {
    hearth_llm::testing::read_request(stream);
}

/// Chunked transfer encoding, so that closing the socket mid-body is a broken connection,
/// not the end of the body.
fn chunk(stream: &mut TcpStream, data: &str) {
    write!(stream, "{:x}\r\n{data}\r\n", data.len()).unwrap();
    stream.flush().unwrap();
}

const STREAM_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

fn delta(text: &str) -> String {
    format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n")
}

#[tokio::test]
async fn a_connection_cut_mid_stream_keeps_the_text_and_is_not_retried() {
    let (url, count) = raw_server(|_, stream| {
        stream.write_all(STREAM_HEAD.as_bytes()).unwrap();
        chunk(stream, &delta("Hel"));
        chunk(stream, &delta("lo"));
        chunk(stream, "data: {\"choi"); // half an event, then the line drops
        stream.shutdown(std::net::Shutdown::Both).unwrap();
    });
    let (text, events) = chat(&remote(config(url))).await.unwrap();
    assert_eq!(text, "Hello");
    match events.last() {
        Some(Err(e)) => assert!(matches!(failure(e.clone()), RemoteFailure::Interrupted(_)), "{e}"),
        other => panic!("the stream should end with the error: {other:?}"),
    }
    assert_eq!(count.load(Ordering::SeqCst), 1, "tokens had streamed: no silent retry");
}

#[tokio::test]
async fn a_connection_cut_before_any_token_is_retried() {
    let (url, count) = raw_server(|n, stream| {
        stream.write_all(STREAM_HEAD.as_bytes()).unwrap();
        if n == 0 {
            stream.shutdown(std::net::Shutdown::Both).unwrap();
            return;
        }
        chunk(stream, &sse(&["second ", "try"]));
        chunk(stream, "");
    });
    let (text, events) = chat(&remote(config(url))).await.unwrap();
    assert_eq!(text, "second try");
    assert!(matches!(events.last(), Some(Ok(ChatEvent::Finished { reason: FinishReason::Stop, .. }))));
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cancelling_closes_the_connection() {
    let (closed_tx, closed_rx) = std::sync::mpsc::channel();
    let (url, _) = raw_server(move |_, stream| {
        stream.write_all(STREAM_HEAD.as_bytes()).unwrap();
        chunk(stream, &delta("first"));
        // Keep the reply open, and wait for the client to hang up.
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0; 64];
        let closed = matches!(stream.read(&mut buf), Ok(0));
        closed_tx.send(closed).unwrap();
    });
    let remote = remote(config(url));
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let events = tokio::task::spawn_blocking(move || {
        let mut stream = remote.chat(ask(), token.clone()).unwrap();
        let first = stream.next().unwrap().unwrap();
        token.cancel();
        let rest: Vec<_> = stream.collect();
        (first, rest)
    })
    .await
    .unwrap();
    assert_eq!(events.0, ChatEvent::Delta("first".into()));
    assert!(matches!(events.1.last(), Some(Ok(ChatEvent::Finished { reason: FinishReason::Cancelled, .. }))), "{:?}", events.1);
    let closed = tokio::task::spawn_blocking(move || closed_rx.recv_timeout(Duration::from_secs(30))).await.unwrap().unwrap();
    assert!(closed, "the server saw the connection close");
}

#[tokio::test]
async fn an_unreachable_provider_is_retried_then_reported() {
    // A port with nothing listening: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = chat(&remote(config(format!("http://127.0.0.1:{port}/v1")))).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(failure(e), RemoteFailure::Unreachable(_)), "{text}");
    assert!(text.contains("could not connect"), "{text}");
}

#[tokio::test]
async fn embeddings_come_from_the_provider_in_input_order() {
    let server = MockServer::start().await;
    let answer = serde_json::json!({
        "object": "list",
        "data": [
            { "object": "embedding", "index": 1, "embedding": [0.0, 3.0] },
            { "object": "embedding", "index": 0, "embedding": [4.0, 0.0] },
        ],
        "usage": { "prompt_tokens": 5, "total_tokens": 5 }
    });
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(wiremock::matchers::body_partial_json(serde_json::json!({ "model": "embed-small", "input": ["one", "two"] })))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    let openai = remote(config(format!("{}/v1", server.uri())));
    let inputs = vec![hearth_llm::EmbedInput::Text("one".into()), hearth_llm::EmbedInput::Text("two".into())];
    let embedded = tokio::task::spawn_blocking(move || openai.embed("embed-small", &inputs)).await.unwrap().unwrap();
    assert_eq!(embedded.vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]], "in input order, unit length");
    assert_eq!(embedded.prompt_tokens, 5);
    // Anthropic has no embeddings API: said so, without a request.
    let anthropic = RemoteConfig { protocol: Protocol::Anthropic, ..config(server.uri()) };
    let refused = tokio::task::spawn_blocking(move || remote(anthropic).embed("m", &[])).await.unwrap();
    assert!(matches!(refused, Err(LlmError::Unsupported(_))), "{refused:?}");
}
