//! Who may talk to the server: the bearer token, the Host allowlist and CORS.
//!
//! A server on loopback is still reachable from every web page the user opens: a page can
//! send requests to `127.0.0.1`, and through DNS rebinding can make its own hostname point
//! there. So every route but `/health` and the UI's own pages (which hold no data) needs the
//! token (a page cannot know it), a request whose `Host` is not a loopback name or a
//! configured one is refused before anything else (a rebinding page sends its own hostname),
//! and CORS allows only configured origins.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;
use crate::error::ApiError;

const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// The host part of a `Host` header (`name:port`, `[v6]:port`), lowercased.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let (name, port) = match host.find(']') {
        Some(end) if host.starts_with('[') => host.split_at(end + 1),
        _ => host.split_at(host.find(':').unwrap_or(host.len())),
    };
    // Anything after the name must be a port; otherwise the whole header is the "name".
    if port.is_empty() || (port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit())) { name.to_owned() } else { host.clone() }
}

/// Whether `host` (a Host header) names this server: a loopback name or a configured one.
pub(crate) fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = host_name(host);
    LOOPBACK_NAMES.contains(&name.as_str()) || extra.iter().any(|e| host_name(e) == name)
}

/// Refuses requests for other hosts (DNS rebinding). HTTP/1.1 requires a Host header, so a
/// request without one is refused too.
pub(crate) async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(h), None) => h.to_str().ok().map(str::to_owned),
        (None, _) => request.uri().authority().map(|a| a.to_string()),
        // Two Host headers: ambiguous, so refused.
        (Some(_), Some(_)) => None,
    };
    match host {
        Some(h) if host_allowed(&h, &state.config.allowed_hosts) => next.run(request).await,
        _ => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this server answers only requests addressed to localhost (start it with --allowed-host to add a name)",
        )
        .into_response(),
    }
}

/// Requires the bearer token on every route but `/health` and the UI's pages (`ui.rs`). CORS preflights carry no
/// credentials by design; the CORS layer (outside this one) answers every OPTIONS request
/// itself, so none reaches here.
pub(crate) async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let public_page = crate::ui::is_ui_path(path) && matches!(*request.method(), Method::GET | Method::HEAD);
    if path == "/health" || public_page {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), state.config.token.as_bytes()) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Compares without an early exit, so timing does not reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// CORS: deny by default; allow the configured origins. (The desktop window loads the UI from
/// this server, so it is same-origin and needs no exception; Tauri's own origins, which every
/// Tauri app on the machine shares, are not allowed.)
pub(crate) fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().map(String::as_str).filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            "idempotency-key".parse().unwrap(),
            "last-event-id".parse().unwrap(),
        ])
        .expose_headers(["x-request-id".parse::<header::HeaderName>().unwrap()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_allowlist() {
        let check = |host: &str, extra: &[&str], expected: bool| {
            let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            assert_eq!(host_allowed(host, &extra), expected, "{host}");
        };
        check("127.0.0.1:7337", &[], true);
        check("localhost", &[], true);
        check("LOCALHOST:80", &[], true);
        check("[::1]:7337", &[], true);
        check("evil.example", &[], false);
        check("evil.example:7337", &[], false);
        check("localhost.evil.example", &[], false);
        check("127.0.0.1.evil.example", &[], false);
        check("hearth.lan:7337", &["hearth.lan"], true);
        check("[::1]evil", &[], false);
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
