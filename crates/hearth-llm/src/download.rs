//! Fetching a catalog model (`hearth_types::CatalogModel`) into the models folder: the
//! archive it is published in is downloaded with resume, both the archive and the model
//! file inside it are checked against their pinned SHA-256, and only then does the model
//! file appear under its final name.
//!
//! Files, for a model whose final path is `DEST`:
//! - `DEST.download`: the archive as far as it came. A killed process, a cut connection or
//!   a cancel leave it in place, and the next fetch asks the server for the rest (an HTTP
//!   `Range` request; a server that ignores it sends the whole file again, and the partial
//!   file is restarted). A wrong hash deletes it, so the next fetch starts clean.
//! - `DEST.partial`: the model file while it is unpacked and hashed; renamed to `DEST` when
//!   its hash matches, deleted otherwise.
//!
//! So `DEST` only ever holds the published bytes, and nothing is registered from a broken
//! download. A full disk deletes both partial files (they are useless until space is freed)
//! and says how much room the model needs. [`ModelFetch`] runs one such download at a time
//! in the background for the app, with a status to poll (bytes, rate, time left) and a
//! cancel; [`download_model`] is the download itself, for the CLI.

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_types::CatalogModel;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::CancellationToken;
use crate::remote::error_chain;

/// How often a wait looks at the cancel flag.
const TICK: Duration = Duration::from_millis(200);
/// A connection that sends nothing for this long is given up (the partial file stays).
const STALL: Duration = Duration::from_secs(60);

/// Why a fetch did not end with the model in place.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("the download was cancelled; fetch again to resume")]
    Cancelled,
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("the download broke off after {received} of {total} bytes ({reason}); fetch again to resume")]
    Broken { received: u64, total: u64, reason: String },
    #[error("the downloaded {what} has SHA-256 {actual}, not the published {expected}; it was deleted, so the next fetch starts over")]
    WrongHash { what: &'static str, expected: String, actual: String },
    #[error("the disk is full: the model needs about {needed_mb} MB free in {dir}; the partial download was deleted")]
    DiskFull { dir: PathBuf, needed_mb: u64 },
    #[error("the downloaded archive is not usable ({0}); it was deleted, so the next fetch starts over")]
    BadArchive(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

/// Where a fetch is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Downloading,
    /// Hashing the archive and unpacking the model.
    Verifying,
}

/// A progress report: bytes of the archive on disk out of its full size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub stage: Stage,
    pub received: u64,
    pub total: u64,
}

/// The archive's partial file next to `dest`.
pub fn archive_path(dest: &Path) -> PathBuf {
    sibling(dest, "download")
}

fn sibling(dest: &Path, suffix: &str) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dest.with_file_name(name)
}

/// A client for downloads: no overall timeout (a model takes minutes on a slow line), but a
/// bounded connect.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder().connect_timeout(Duration::from_secs(20)).build().map_err(|e| format!("setting up HTTPS: {e}"))
}

/// Downloads `model`'s archive from `url` (the catalog's, or a mirror), checks it and puts
/// the model file at `dest` (see the module docs). `progress` is called as bytes arrive.
pub async fn download_model(
    client: &reqwest::Client,
    url: &str,
    model: &CatalogModel,
    dest: &Path,
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<(), DownloadError> {
    let dir = dest.parent().unwrap_or(Path::new(".")).to_owned();
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, model, format!("creating {}", dir.display()), e))?;
    let archive = archive_path(dest);
    let result = async {
        fetch_archive(client, url, model, &archive, progress, cancel).await?;
        progress(Progress { stage: Stage::Verifying, received: model.archive_bytes, total: model.archive_bytes });
        let (model, archive, dest) = (*model, archive.clone(), dest.to_owned());
        tokio::task::spawn_blocking(move || unpack(&model, &archive, &dest))
            .await
            .map_err(|e| DownloadError::Io { context: "checking the download".into(), source: std::io::Error::other(e.to_string()) })?
    }
    .await;
    if let Err(DownloadError::DiskFull { .. }) = &result {
        // Useless until space is freed, and they hold the space that is missing.
        let _ = std::fs::remove_file(&archive);
        let _ = std::fs::remove_file(sibling(dest, "partial"));
    }
    result
}

/// Brings `archive` to its full size: resumes what is there, restarts what cannot resume.
async fn fetch_archive(
    client: &reqwest::Client,
    url: &str,
    model: &CatalogModel,
    archive: &Path,
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<(), DownloadError> {
    let total = model.archive_bytes;
    let mut have = std::fs::metadata(archive).map(|m| m.len()).unwrap_or(0);
    if have > total {
        have = 0;
    }
    if have == total {
        return Ok(());
    }
    let mut request = client.get(url);
    if have > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let unreachable = |e: reqwest::Error| DownloadError::Unreachable { url: url.to_owned(), reason: error_chain(&e) };
    let response = or_cancel(request.send(), cancel).await?.map_err(unreachable)?;
    let status = response.status();
    let start = match status.as_u16() {
        206 if content_range_start(&response) == Some(have) => have,
        // The server sent the whole file (no range support) or an unexpected range: start over.
        200 | 206 => 0,
        // The partial file is not a prefix the server can continue (it changed): start over.
        416 if have > 0 => {
            let _ = std::fs::remove_file(archive);
            return Box::pin(fetch_archive(client, url, model, archive, progress, cancel)).await;
        }
        code => return Err(DownloadError::Status { url: crate::fetch::redact_url(url), status: code }),
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(start > 0)
        .truncate(start == 0)
        .open(archive)
        .await
        .map_err(|e| io_error(archive, model, format!("opening {}", archive.display()), e))?;
    let mut received = start;
    progress(Progress { stage: Stage::Downloading, received, total });
    let mut body = response.bytes_stream();
    let mut idle = Duration::ZERO;
    loop {
        if cancel.is_cancelled() {
            let _ = file.flush().await;
            return Err(DownloadError::Cancelled);
        }
        let chunk = match tokio::time::timeout(TICK, body.next()).await {
            Err(_) => {
                idle += TICK;
                if idle >= STALL {
                    let _ = file.flush().await;
                    return Err(DownloadError::Broken { received, total, reason: format!("no data for {} s", STALL.as_secs()) });
                }
                continue;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                let _ = file.flush().await;
                return Err(DownloadError::Broken { received, total, reason: error_chain(&e) });
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        idle = Duration::ZERO;
        if received + chunk.len() as u64 > total {
            drop(file);
            let _ = std::fs::remove_file(archive);
            return Err(DownloadError::BadArchive(format!("the server sent more than the published {total} bytes")));
        }
        file.write_all(&chunk).await.map_err(|e| io_error(archive, model, format!("writing {}", archive.display()), e))?;
        received += chunk.len() as u64;
        progress(Progress { stage: Stage::Downloading, received, total });
    }
    file.flush().await.map_err(|e| io_error(archive, model, format!("writing {}", archive.display()), e))?;
    file.sync_all().await.map_err(|e| io_error(archive, model, format!("writing {}", archive.display()), e))?;
    if received != total {
        return Err(DownloadError::Broken { received, total, reason: "the connection closed early".into() });
    }
    Ok(())
}

/// Checks the archive, unpacks the model beside `dest` while hashing it, and renames it into
/// place when both hashes match. Blocking.
fn unpack(model: &CatalogModel, archive: &Path, dest: &Path) -> Result<(), DownloadError> {
    let (_, actual) = sha256_file(archive).map_err(|e| io_error(archive, model, format!("reading {}", archive.display()), e))?;
    if actual != model.archive_sha256 {
        let _ = std::fs::remove_file(archive);
        return Err(DownloadError::WrongHash { what: "archive", expected: model.archive_sha256.into(), actual });
    }
    let partial = sibling(dest, "partial");
    let bad = |reason: String| {
        let _ = std::fs::remove_file(archive);
        DownloadError::BadArchive(reason)
    };
    let file = std::fs::File::open(archive).map_err(|e| io_error(archive, model, format!("reading {}", archive.display()), e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let mut member = zip.by_name(model.member).map_err(|e| bad(format!("{}: {e}", model.member)))?;
    let written = (|| -> std::io::Result<(u64, String)> {
        let mut out = std::fs::File::create(&partial)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = member.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            size += n as u64;
        }
        out.sync_all()?;
        Ok((size, format!("{:x}", hasher.finalize())))
    })();
    let (size, actual) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(io_error(&partial, model, format!("unpacking {}", model.member), e));
        }
    };
    if size != model.bytes || actual != model.sha256 {
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(archive);
        return Err(DownloadError::WrongHash { what: "model file", expected: model.sha256.into(), actual });
    }
    std::fs::rename(&partial, dest).map_err(|e| io_error(dest, model, format!("moving the model to {}", dest.display()), e))?;
    let _ = std::fs::remove_file(archive);
    Ok(())
}

/// An IO error, or [`DownloadError::DiskFull`] when that is what it is.
fn io_error(path: &Path, model: &CatalogModel, context: String, source: std::io::Error) -> DownloadError {
    if matches!(source.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) {
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        // The archive and the unpacked model sit side by side until the rename.
        let needed_mb = (model.archive_bytes + model.bytes).div_ceil(1_000_000);
        return DownloadError::DiskFull { dir, needed_mb };
    }
    DownloadError::Io { context, source }
}

/// A file's size and SHA-256 (lower-case hex), read in 1 MiB blocks. The model registry
/// (`hearth_llama::describe`) hashes with it too.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((size, format!("{:x}", hasher.finalize())));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    // `Content-Range: bytes START-END/TOTAL`
    let value = response.headers().get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    value.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// Awaits `fut`, giving up when `cancel` is set.
async fn or_cancel<F: Future>(fut: F, cancel: &CancellationToken) -> Result<F::Output, DownloadError> {
    let mut fut = std::pin::pin!(fut);
    loop {
        if cancel.is_cancelled() {
            return Err(DownloadError::Cancelled);
        }
        if let Ok(out) = tokio::time::timeout(TICK, &mut fut).await {
            return Ok(out);
        }
    }
}

/// What [`ModelFetch`] is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchState {
    Idle,
    Downloading,
    Verifying,
    Done,
    Failed,
    Cancelled,
}

/// A snapshot of a background fetch.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchStatus {
    pub state: FetchState,
    /// Bytes of the archive on disk (also when idle: a partial download to resume).
    pub received_bytes: u64,
    pub total_bytes: u64,
    /// Measured over this attempt; `None` until bytes have come.
    pub bytes_per_second: Option<f64>,
    pub eta_seconds: Option<u64>,
    pub error: Option<String>,
}

/// Registers the model once its file is in place (Core's registry); an error fails the fetch.
pub type Register = Arc<dyn Fn(&Path) -> Result<(), String> + Send + Sync>;

/// One background download of a catalog model at a time, for the app's API.
#[derive(Clone)]
pub struct ModelFetch {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    model: CatalogModel,
    dest: PathBuf,
    register: Register,
    status: Mutex<FetchStatus>,
    running: Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

impl std::fmt::Debug for ModelFetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelFetch").field("url", &self.inner.url).field("dest", &self.inner.dest).finish_non_exhaustive()
    }
}

impl ModelFetch {
    /// A fetch of `model` from `url` to `dest`, idle until [`ModelFetch::start`].
    pub fn new(model: CatalogModel, url: String, dest: PathBuf, register: Register) -> Self {
        let status = FetchStatus {
            state: FetchState::Idle,
            received_bytes: 0,
            total_bytes: model.archive_bytes,
            bytes_per_second: None,
            eta_seconds: None,
            error: None,
        };
        Self { inner: Arc::new(Inner { url, model, dest, register, status: Mutex::new(status), running: Mutex::new(None) }) }
    }

    pub fn model(&self) -> &CatalogModel {
        &self.inner.model
    }

    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Where the model file goes.
    pub fn dest(&self) -> &Path {
        &self.inner.dest
    }

    pub fn status(&self) -> FetchStatus {
        let mut status = self.inner.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // What is on disk is the truth between attempts (a partial download another run left);
        // once done, the archive is gone and the download was whole.
        if matches!(status.state, FetchState::Idle | FetchState::Failed | FetchState::Cancelled) {
            status.received_bytes = std::fs::metadata(archive_path(&self.inner.dest)).map(|m| m.len()).unwrap_or(0);
        }
        status
    }

    /// Starts (or resumes) the download on the current Tokio runtime; a running one goes on.
    pub fn start(&self) -> FetchStatus {
        let mut running = self.inner.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, task)) = running.as_ref()
            && !task.is_finished()
        {
            return self.status();
        }
        let cancel = CancellationToken::new();
        self.set(|s| {
            s.state = FetchState::Downloading;
            s.error = None;
            s.bytes_per_second = None;
            s.eta_seconds = None;
        });
        let this = self.clone();
        let token = cancel.clone();
        let task = tokio::spawn(async move { this.run(token).await });
        *running = Some((cancel, task));
        drop(running);
        self.status()
    }

    /// Stops a running download; its partial file stays for the next start.
    pub fn cancel(&self) -> FetchStatus {
        if let Some((cancel, _)) = self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            cancel.cancel();
        }
        self.status()
    }

    /// Cancels a running download and waits for it to let go of its files.
    pub async fn shutdown(&self) {
        let running = self.inner.running.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((cancel, task)) = running {
            cancel.cancel();
            let _ = task.await;
        }
    }

    fn set(&self, change: impl FnOnce(&mut FetchStatus)) {
        change(&mut self.inner.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    async fn run(&self, cancel: CancellationToken) {
        let began = Instant::now();
        let resumed_from = std::fs::metadata(archive_path(&self.inner.dest)).map(|m| m.len()).unwrap_or(0);
        let report = |p: Progress| {
            self.set(|s| {
                s.received_bytes = p.received;
                s.total_bytes = p.total;
                s.state = match p.stage {
                    Stage::Downloading => FetchState::Downloading,
                    Stage::Verifying => FetchState::Verifying,
                };
                let secs = began.elapsed().as_secs_f64();
                let fresh = p.received.saturating_sub(resumed_from.min(p.received));
                if secs > 0.2 && fresh > 0 {
                    let rate = fresh as f64 / secs;
                    s.bytes_per_second = Some(rate);
                    s.eta_seconds = Some((p.total.saturating_sub(p.received) as f64 / rate).ceil() as u64);
                }
            })
        };
        let result = match client() {
            Ok(client) => download_model(&client, &self.inner.url, &self.inner.model, &self.inner.dest, &report, &cancel).await,
            Err(e) => Err(DownloadError::Unreachable { url: self.inner.url.clone(), reason: e }),
        };
        let result = match result {
            Ok(()) => {
                let (register, dest) = (self.inner.register.clone(), self.inner.dest.clone());
                match tokio::task::spawn_blocking(move || register(&dest)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("the model was downloaded but could not be registered: {e}")),
                    Err(e) => Err(format!("registering the model: {e}")),
                }
            }
            Err(DownloadError::Cancelled) => {
                self.set(|s| s.state = FetchState::Cancelled);
                tracing::info!("model download cancelled");
                return;
            }
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => {
                tracing::info!(model = self.inner.model.name, "model downloaded and registered");
                self.set(|s| {
                    s.state = FetchState::Done;
                    s.received_bytes = s.total_bytes;
                    s.eta_seconds = Some(0);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "model download failed");
                self.set(|s| {
                    s.state = FetchState::Failed;
                    s.error = Some(e);
                    s.bytes_per_second = None;
                    s.eta_seconds = None;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
