//! The app's own web UI (`ui/dist`, built by Vite), served at `/` from inside the binary, so
//! `hearth serve` is the whole app for a browser and the desktop window loads the same pages.
//!
//! The pages and scripts are public (they hold no data and no token), so these routes are the
//! only ones besides `/health` that need no token: the UI asks for it, or takes it once from
//! `/?token=` and removes it from the address bar. Every page carries a content security
//! policy that allows the app's own origin only (scripts, styles, connections), no framing
//! and no referrer, so a token in the address never leaks to another site.
//!
//! A build without `ui/dist` (a bare `cargo build`) still serves `/`: a page saying how to
//! build the UI.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use tower_http::compression::CompressionLayer;

#[derive(RustEmbed)]
#[folder = "../../ui/dist/"]
#[allow_missing = true]
struct Assets;

/// The policy of every UI response: only this origin, for everything.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// Shown at `/` by a binary built without the UI.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Hearth</title>\
    <p>This build of Hearth has no UI: build it with <code>make build</code> (which runs \
    <code>npm run build</code> in <code>ui/</code> first). The API is here: <code>/openapi.json</code> and <code>/docs</code> describe it (with the token).";

/// Whether a path is one of the UI's (served without the token).
pub(crate) fn is_ui_path(path: &str) -> bool {
    path == "/" || path == "/index.html" || path.starts_with("/assets/") || path == "/favicon.svg"
}

/// The UI's routes, gzip-compressed for clients that accept it.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/favicon.svg", get(|| async { file("favicon.svg") }))
        .route("/assets/{*file}", get(|Path(f): Path<String>| async move { file(&format!("assets/{f}")) }))
        .layer(CompressionLayer::new())
}

async fn index() -> Response {
    match Assets::get("index.html") {
        Some(page) => with_headers(page.data.into_owned(), "text/html; charset=utf-8", "no-cache"),
        None => with_headers(NOT_BUILT.as_bytes().to_vec(), "text/html; charset=utf-8", "no-cache"),
    }
}

/// An asset by its path in `ui/dist`. Vite puts a content hash in every asset's name, so they
/// can be cached for good; anything else is looked at again each time.
fn file(path: &str) -> Response {
    let Some(asset) = Assets::get(path) else {
        return crate::error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file in the UI").into_response();
    };
    let mime = asset.metadata.mimetype().to_owned();
    let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    with_headers(asset.data.into_owned(), &mime, cache)
}

fn with_headers(body: Vec<u8>, content_type: &str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
