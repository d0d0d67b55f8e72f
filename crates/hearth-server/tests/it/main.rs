//! The router driven in-process (no socket) with a scripted model: the guards, the error
//! shape, the OpenAI wire format and the reply event log; `tls.rs` serves it over HTTPS on a
//! socket, `connections.rs` shows the connection cap and the write timeout there. The real model and real clients
//! are exercised by `tests/api` (Python) in `make test`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hearth_core::Core;
use hearth_llm::ModelHost;
use hearth_llm::testing::ScriptedModel;
use hearth_server::{Api, ServerConfig};
use hearth_types::{ModelSource, NewModel};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

mod connections;
mod knowledge;
mod tls;

const TOKEN: &str = "test-token";

/// Answers model `m` with the same pieces of text ("Hello there").
fn scripted() -> ScriptedModel {
    ScriptedModel::new(["Hel", "lo", " there"]).only_model("m")
}

fn api() -> Api {
    api_with(Arc::new(scripted()), ServerConfig::new(TOKEN))
}

fn api_with(model: Arc<dyn ModelHost>, config: ServerConfig) -> Api {
    api_over(Arc::new(Core::in_memory().unwrap()), model, config)
}

/// The API over a Core the test keeps (to run what the app's runners would).
fn api_over(core: Arc<Core>, model: Arc<dyn ModelHost>, config: ServerConfig) -> Api {
    core.register_model(&NewModel {
        name: "m".into(),
        path: "/nonexistent/m.gguf".into(),
        size: 1,
        sha256: "0".repeat(64),
        architecture: "gemma3".into(),
        parameters: 1,
        quantization: "Q4_K_M".into(),
        context_length: Some(1024),
        chat_template: None,
        source: ModelSource::Import,
    })
    .unwrap();
    let describe: hearth_server::Describe = Arc::new(|_, _| Err(hearth_types::ValidationError::new("path", "not a model")));
    let models = Arc::new(hearth_core::ModelRouter::new(core.clone(), model));
    let services = hearth_core::workflow::Services {
        models: models.clone(),
        default_model: None,
        http: Arc::new(hearth_llm::fetch::HttpFetch::new()),
    };
    let workflows = Arc::new(hearth_core::workflow::WorkflowRuns::new(core.clone(), services));
    Api::new(core, models, workflows, describe, config)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(api: &Api, request: Request<Body>) -> Answer {
    let response = api.router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

fn request(method: &str, path: &str, body: Option<Value>) -> axum::http::request::Builder {
    let _ = body;
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:7337")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
}

async fn call(api: &Api, method: &str, path: &str, body: Option<Value>) -> Answer {
    let b = body.as_ref().map_or(Body::empty(), |v| Body::from(v.to_string()));
    send(api, request(method, path, body).body(b).unwrap()).await
}

fn check_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    let e = &answer.json()["error"];
    assert_eq!(e["code"], code, "{}", answer.body);
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(e["type"].is_string() && e.get("param").is_some(), "{}", answer.body);
}

#[tokio::test]
async fn health_needs_no_token_and_everything_else_does() {
    let api = api();
    let health = send(&api, Request::get("/health").header(header::HOST, "localhost").body(Body::empty()).unwrap()).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["status"], "ok");
    assert!(health.headers.contains_key("x-request-id"));

    for path in ["/v1/models", "/api/v1/workspaces", "/metrics", "/openapi.json", "/docs"] {
        let no_token = send(&api, Request::get(path).header(header::HOST, "localhost").body(Body::empty()).unwrap()).await;
        check_error(&no_token, 401, "unauthorized");
        let wrong = send(
            &api,
            Request::get(path).header(header::HOST, "localhost").header(header::AUTHORIZATION, "Bearer nope").body(Body::empty()).unwrap(),
        )
        .await;
        check_error(&wrong, 401, "unauthorized");
        assert_eq!(wrong.json()["error"]["type"], "authentication_error");
    }
}

#[tokio::test]
async fn other_hosts_are_refused_before_the_token_is_looked_at() {
    let api = api();
    for host in ["evil.example", "evil.example:7337", "localhost.evil.example"] {
        let answer = send(
            &api,
            Request::get("/v1/models")
                .header(header::HOST, host)
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        check_error(&answer, 403, "forbidden");
    }
    // A second Host header cannot smuggle a loopback name past the check.
    let two = send(&api, request("GET", "/v1/models", None).header(header::HOST, "evil.example").body(Body::empty()).unwrap()).await;
    check_error(&two, 403, "forbidden");
}

#[tokio::test]
async fn bad_bodies_get_the_error_shape() {
    let api = api();
    let malformed = send(&api, request("POST", "/v1/chat/completions", None).body(Body::from("{\"model\": ")).unwrap()).await;
    check_error(&malformed, 400, "invalid");
    let wrong_type = call(&api, "POST", "/v1/chat/completions", Some(json!({ "model": "m", "messages": "hi" }))).await;
    check_error(&wrong_type, 400, "invalid");
    let huge = send(&api, request("POST", "/v1/chat/completions", None).body(Body::from(vec![b' '; 17 << 20])).unwrap()).await;
    check_error(&huge, 413, "too_large");
    let n = call(
        &api,
        "POST",
        "/v1/chat/completions",
        Some(json!({ "model": "m", "n": 2, "messages": [{ "role": "user", "content": "hi" }] })),
    )
    .await;
    check_error(&n, 400, "invalid");
    assert_eq!(n.json()["error"]["param"], "n");
    let unknown =
        call(&api, "POST", "/v1/chat/completions", Some(json!({ "model": "nope", "messages": [{ "role": "user", "content": "hi" }] })))
            .await;
    check_error(&unknown, 404, "not_found");
    assert_eq!(unknown.json()["error"]["param"], "model");
    check_error(&call(&api, "GET", "/nowhere", None).await, 404, "not_found");
}

#[tokio::test]
async fn chat_completions_in_openai_format() {
    let api = api();
    let body = json!({ "model": "m", "messages": [{ "role": "user", "content": [{ "type": "text", "text": "hi" }] }], "future_field": 1 });
    let answer = call(&api, "POST", "/v1/chat/completions", Some(body.clone())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let v = answer.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["total_tokens"], 8);

    let mut streamed = body;
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({ "include_usage": true });
    let answer = call(&api, "POST", "/v1/chat/completions", Some(streamed)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let data: Vec<&str> = answer.body.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Hello there");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 3);
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn embeddings_as_floats_and_base64() {
    let api = api();
    let floats = call(&api, "POST", "/v1/embeddings", Some(json!({ "model": "m", "input": ["a", "b"] }))).await.json();
    let floats: Vec<f32> = serde_json::from_value(floats["data"][1]["embedding"].clone()).unwrap();
    assert_eq!(floats, vec![0.6, 0.8]);
    let b64 =
        call(&api, "POST", "/v1/embeddings", Some(json!({ "model": "m", "input": [1, 2, 3], "encoding_format": "base64" }))).await.json();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let decoded: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(decoded, vec![0.6, 0.8]);
}

/// (id, event name, data) of each server-sent event.
fn parse_sse(body: &str) -> Vec<(u64, String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_default().trim().to_owned();
            (field("id:").parse().unwrap(), field("event:"), serde_json::from_str(&field("data:")).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn sending_streams_numbered_events_that_resume_and_replay() {
    let api = api();
    let ws = call(&api, "POST", "/api/v1/workspaces", Some(json!({ "name": "Work", "handle": "work" }))).await;
    assert_eq!(ws.status, StatusCode::CREATED, "{}", ws.body);
    let chat = call(&api, "POST", "/api/v1/workspaces/work/chats", Some(json!({ "title": "t", "model": "m" }))).await.json();
    let path = format!("/api/v1/chats/{}/messages", chat["id"].as_str().unwrap());

    let streamed = send(
        &api,
        request("POST", &path, None)
            .header(header::ACCEPT, "text/event-stream")
            .body(Body::from(json!({ "content": "hi" }).to_string()))
            .unwrap(),
    )
    .await;
    let events = parse_sse(&streamed.body);
    let names: Vec<&str> = events.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(names, ["message_start", "delta", "delta", "delta", "message_end"]);
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    let end = &events[4].2;
    assert_eq!(end["message"]["content"], "Hello there");
    assert_eq!(end["message"]["status"], "complete");

    // Resume after event 2: exactly the later events.
    let reply_id = end["message"]["id"].as_str().unwrap();
    let resumed = send(
        &api,
        request("GET", &format!("/api/v1/replies/{reply_id}/events"), None).header("last-event-id", "2").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(parse_sse(&resumed.body), events[2..].to_vec());

    // The same idempotency key twice: one question, one reply, the same ids.
    let first = send(
        &api,
        request("POST", &path, None).header("idempotency-key", "k1").body(Body::from(json!({ "content": "again" }).to_string())).unwrap(),
    )
    .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let second = send(
        &api,
        request("POST", &path, None).header("idempotency-key", "k1").body(Body::from(json!({ "content": "again" }).to_string())).unwrap(),
    )
    .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(first.json()["message"]["id"], second.json()["message"]["id"]);
    assert_eq!(first.json()["reply"]["id"], second.json()["reply"]["id"]);
    let events_url = first.json()["events"].as_str().unwrap().to_owned();
    let done = send(&api, request("GET", &events_url, None).body(Body::empty()).unwrap()).await;
    assert_eq!(parse_sse(&done.body).last().unwrap().1, "message_end");
    let thread = call(&api, "GET", &path, None).await.json();
    let questions = thread["messages"].as_array().unwrap().iter().filter(|m| m["content"] == "again").count();
    assert_eq!(questions, 1);
}

/// Every operation in the document is served: asked with the token (each path parameter
/// `x`, an empty JSON body), none gets the router's own "no such route" 404 or a 405. The
/// router registers its routes from the handlers' annotations (`documented_routes`), so a
/// route cannot be served without being in the document either; and the document is the
/// committed `ui/openapi.json` (`the_ui_is_typed_against_this_document`), so a route cannot
/// leave it unnoticed.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let api = api();
    let doc = call(&api, "GET", "/openapi.json", None).await.json();
    let mut served = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let concrete: String = path.split('/').map(|part| if part.starts_with('{') { "x" } else { part }).collect::<Vec<_>>().join("/");
            let request = request(&method.to_uppercase(), &concrete, None).body(Body::from("{}")).unwrap();
            let response = api.router().oneshot(request).await.unwrap();
            let status = response.status();
            let stream = response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
            // An event stream may never end: its status is the answer.
            let body = if stream {
                String::new()
            } else {
                String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes()).into_owned()
            };
            let unrouted = status == StatusCode::METHOD_NOT_ALLOWED || (status == StatusCode::NOT_FOUND && body.contains("no such route"));
            assert!(!unrouted, "{method} {path} is documented but not served: {status} {body}");
            served.push(format!("{method} {path}"));
        }
    }
    // The document is the whole API, not a part of it: both wire formats, the app's own
    // resources and the server's pages are in it.
    for op in ["post /v1/chat/completions", "get /v1/models/{model}", "post /api/v1/chats/{chat}/messages", "get /health", "get /docs"] {
        assert!(served.iter().any(|s| s == op), "{op} missing from the document");
    }
    let docs = call(&api, "GET", "/docs", None).await;
    assert!(docs.body.contains("/v1/chat/completions") && docs.body.starts_with("<!doctype html>"));
}

/// The UI's TypeScript types are generated from `ui/openapi.json` (`npm run gen:api`, and
/// `npm run check:api` diffs them); this keeps that file the server's own document.
/// `HEARTH_UPDATE_OPENAPI=1` rewrites it.
#[tokio::test]
async fn the_ui_is_typed_against_this_document() {
    let api = api();
    let served = call(&api, "GET", "/openapi.json", None).await;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/openapi.json");
    if std::env::var_os("HEARTH_UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, &served.body).unwrap();
    }
    let kept = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        served.body == kept,
        "ui/openapi.json is not the server's /openapi.json: run `HEARTH_UPDATE_OPENAPI=1 cargo test -p hearth-server \
         the_ui_is_typed_against_this_document`, then `npm run gen:api` in ui/"
    );
}

#[tokio::test]
async fn the_ui_is_served_without_the_token_and_with_a_strict_policy() {
    let api = api();
    let page = send(&api, Request::builder().uri("/").header(header::HOST, "127.0.0.1").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
    // Only the pages are open: the API next to them still wants the token, and a missing
    // asset is a 404 in the API's shape.
    let api_call =
        send(&api, Request::builder().uri("/api/v1/workspaces").header(header::HOST, "127.0.0.1").body(Body::empty()).unwrap()).await;
    check_error(&api_call, 401, "unauthorized");
    let missing =
        send(&api, Request::builder().uri("/assets/nope.js").header(header::HOST, "127.0.0.1").body(Body::empty()).unwrap()).await;
    check_error(&missing, 404, "not_found");
    // Another site's page cannot load it through a rebound name either.
    let rebound = send(&api, Request::builder().uri("/").header(header::HOST, "evil.example").body(Body::empty()).unwrap()).await;
    assert_eq!(rebound.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_shutdown_ends_the_endless_sync_status_stream() {
    // The UI keeps this stream open all the time; a graceful stop must not wait for it.
    let api = api();
    let response = api.router().oneshot(request("GET", "/api/v1/sync/events", None).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: status"), "{first:?}");
    api.shutdown().await;
    let rest = tokio::time::timeout(std::time::Duration::from_secs(5), body.collect()).await;
    assert!(rest.expect("the stream ended at shutdown").is_ok());
}

#[tokio::test]
async fn past_the_in_flight_limit_clients_are_told_to_retry() {
    let api = api_with(Arc::new(ScriptedModel::endless()), ServerConfig { max_in_flight: 1, ..ServerConfig::new(TOKEN) });
    let body = json!({ "model": "m", "stream": true, "messages": [{ "role": "user", "content": "hi" }] }).to_string();
    // The first stream stays open (its body is held, not read to the end).
    let open = api.router().oneshot(request("POST", "/v1/chat/completions", None).body(Body::from(body.clone())).unwrap()).await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let refused = send(&api, request("POST", "/v1/chat/completions", None).body(Body::from(body.clone())).unwrap()).await;
    check_error(&refused, 429, "busy");
    assert_eq!(refused.headers.get(header::RETRY_AFTER).unwrap(), "1");
    assert_eq!(refused.json()["error"]["type"], "rate_limit_error");
    // Other heavy work counts against the same limit.
    let embed = json!({ "model": "m", "input": "hi" });
    for (method, path, body) in [
        ("POST", "/v1/embeddings", Some(embed)),
        ("POST", "/api/v1/models/m/load", None),
        ("POST", "/api/v1/sync/now", None),
        ("POST", "/api/v1/providers/p/test", None),
    ] {
        check_error(&call(&api, method, path, body).await, 429, "busy");
    }
    // Dropping the open stream (the client went away) frees its place.
    drop(open);
    let mut again = None;
    for _ in 0..200 {
        let answer =
            api.router().oneshot(request("POST", "/v1/chat/completions", None).body(Body::from(body.clone())).unwrap()).await.unwrap();
        if answer.status() == StatusCode::OK {
            again = Some(answer);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(again.is_some(), "the place was not freed");
    api.shutdown().await;
}

/// Sends that arrive together at the limit: exactly as many start as there is room for. The
/// room is taken before the messages are stored and held by the reply, not checked first and
/// taken after the store write (which let every send that arrived during that write through).
#[tokio::test]
async fn sends_arriving_together_at_the_limit_do_not_all_start() {
    let api = api_with(Arc::new(ScriptedModel::endless()), ServerConfig { max_in_flight: 2, ..ServerConfig::new(TOKEN) });
    call(&api, "POST", "/api/v1/workspaces", Some(json!({ "name": "Work", "handle": "work" }))).await;
    let chat = call(&api, "POST", "/api/v1/workspaces/work/chats", Some(json!({ "title": "t", "model": "m" }))).await.json();
    let path = format!("/api/v1/chats/{}/messages", chat["id"].as_str().unwrap());
    // One task polls them all: each send runs up to its store write before the next begins.
    let sends = (0..6).map(|i| call(&api, "POST", &path, Some(json!({ "content": format!("hi {i}") }))));
    let answers = futures_util::future::join_all(sends).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    statuses.sort_unstable();
    // Answering again counts against the same room.
    let question = answers.iter().find(|a| a.status == StatusCode::ACCEPTED).unwrap().json()["message"]["id"].as_str().unwrap().to_owned();
    let again = call(&api, "POST", &format!("/api/v1/messages/{question}/reply"), Some(json!({}))).await;
    // Ended before asserting: endless replies left running would keep the test from ending.
    api.shutdown().await;
    assert_eq!(statuses, [202, 202, 429, 429, 429, 429], "{:?}", answers.iter().map(|a| &a.body).collect::<Vec<_>>());
    check_error(&again, 429, "busy");
}
