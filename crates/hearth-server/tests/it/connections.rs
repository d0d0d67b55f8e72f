//! The server's own limits on a real socket: connections open at once, and how long a write
//! may wait on a client that stopped reading.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_llm::{CancellationToken, ChatEvent, ChatModel, ChatRequest, ChatStream, EmbedInput, LlmError, ModelHost};
use hearth_server::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Streams 64 KiB pieces as fast as they are taken, until cancelled.
struct Firehose;

impl ChatModel for Firehose {
    fn chat(&self, _: ChatRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let watch = cancel.clone();
        std::thread::spawn(move || {
            let piece = "x".repeat(64 * 1024);
            while !watch.is_cancelled() {
                match tx.try_send(Ok(ChatEvent::Delta(piece.clone()))) {
                    Ok(()) => {}
                    Err(std::sync::mpsc::TrySendError::Full(_)) => std::thread::sleep(Duration::from_millis(1)),
                    Err(std::sync::mpsc::TrySendError::Disconnected(_)) => break,
                }
            }
        });
        Ok(ChatStream::new(rx, cancel))
    }

    fn embed(&self, _: &str, _: &[EmbedInput]) -> Result<hearth_llm::Embeddings, LlmError> {
        Ok(hearth_llm::Embeddings::default())
    }
}

impl ModelHost for Firehose {
    fn load(&self, _: &str) -> Result<(), LlmError> {
        Ok(())
    }
    fn unload(&self) {}
    fn loaded(&self) -> Option<String> {
        None
    }
}

/// Serves an API with `config` on a loopback port until the returned sender is dropped.
async fn serving(model: Arc<dyn ModelHost>, config: ServerConfig) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(hearth_server::serve(
        listener,
        crate::api_with(model, config),
        None,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(2),
    ));
    (addr, stop)
}

/// Sends one request on `stream` and reads what comes back within a second: the status line
/// and headers (empty when the server closed the connection without answering).
async fn ask(stream: &mut TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut answer)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&answer[..n]).into_owned(),
        _ => String::new(),
    }
}

const HEALTH: &str = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";

fn stream_request() -> String {
    let body = r#"{"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#;
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        crate::TOKEN,
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_new_connection_is_closed_until_one_leaves() {
    let (addr, _stop) = serving(Arc::new(Firehose), ServerConfig { max_connections: 2, ..ServerConfig::new(crate::TOKEN) }).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert!(ask(&mut first, HEALTH).await.starts_with("HTTP/1.1 200"));
    assert!(ask(&mut second, HEALTH).await.starts_with("HTTP/1.1 200"));
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert_eq!(ask(&mut third, HEALTH).await, "", "the third connection is closed without an answer");

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = TcpStream::connect(addr).await.unwrap();
        if ask(&mut again, HEALTH).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the place of the closed connection was never freed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_client_stops_reading_ends_and_frees_its_place() {
    let config = ServerConfig { max_in_flight: 1, write_timeout: Duration::from_millis(300), ..ServerConfig::new(crate::TOKEN) };
    let (addr, _stop) = serving(Arc::new(Firehose), config).await;
    // A client that asks for a stream and then reads nothing more, keeping its socket open.
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    assert!(ask(&mut stalled, &stream_request()).await.starts_with("HTTP/1.1 200"));
    // Once the socket's buffers are full, the server's writes wait; past the write timeout
    // the connection ends, the model request is cancelled and its place is free.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut next = TcpStream::connect(addr).await.unwrap();
        let answer = ask(&mut next, &stream_request()).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
        assert!(Instant::now() < deadline, "the stalled stream still holds its place");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(stalled);
}
