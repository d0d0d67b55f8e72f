//! Who may talk to the server: the bearer token, the Host allowlist and CORS.
//!
//! A server on loopback is still reachable from every web page the user opens: a page can
//! send requests to `127.0.0.1`, and through DNS rebinding can make its own hostname point
//! there. So every route but `/health` and the UI's own pages (which hold no data) needs the
//! token (a page cannot know it), a request whose `Host` is not a loopback name or a
//! configured one is refused before anything else (a rebinding page sends its own hostname),
//! and CORS allows only configured origins, never `*`.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_types::ValidationError;
use subtle::ConstantTimeEq;
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
        Some(token) if token_matches(token, &state.config.token) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Refuses a request whose `Origin` is neither this server's own (a loopback or allowed
/// host: the UI it serves) nor a configured CORS origin: a web page the user opens, reaching
/// loopback (through DNS rebinding too). MCP's transport requires this check; requests without
/// an `Origin` (programs, not browsers) pass, and the token still decides.
pub(crate) async fn check_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let allowed = match request.headers().get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|origin| {
            let own = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
            state.config.cors_origins.iter().any(|o| o == origin) || own.is_some_and(|host| host_allowed(host, &state.config.allowed_hosts))
        }),
    };
    if allowed {
        next.run(request).await
    } else {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "requests from this web page's origin are refused").into_response()
    }
}

/// Compares in constant time (`subtle`), so timing does not reveal how much of a guess was
/// right. Only the length can show, and every token Hearth makes has the same one.
fn token_matches(presented: &str, token: &str) -> bool {
    presented.as_bytes().ct_eq(token.as_bytes()).into()
}

/// Checks an origin given for CORS: `scheme://host[:port]`, exactly as a browser sends it.
/// `*` is refused: the token alone keeps other web pages out, and a wildcard would let any
/// page the user opens read the API's answers (every chat, every key's last four) once it
/// holds or guesses the token, or send requests the token rides along with.
pub fn check_cors_origin(origin: &str) -> Result<(), ValidationError> {
    let invalid = |why: String| Err(ValidationError::new("cors_origin", why));
    if origin.contains('*') {
        return invalid(format!(
            "{origin:?}: a wildcard would let any web page use the API; name each origin that may (e.g. http://localhost:5173)"
        ));
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return invalid(format!("{origin:?} is not an origin (scheme://host[:port], e.g. http://localhost:5173)"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if !matches!(scheme, "http" | "https")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@'])
        || HeaderValue::from_str(origin).is_err()
    {
        return invalid(format!("{origin:?} is not an origin (scheme://host[:port], no path, e.g. http://localhost:5173)"));
    }
    Ok(())
}

/// CORS: deny by default; allow the configured origins. (The desktop window loads the UI from
/// this server, so it is same-origin and needs no exception; Tauri's own origins, which every
/// Tauri app on the machine shares, are not allowed.)
pub(crate) fn cors(origins: &[String]) -> CorsLayer {
    // Callers check origins with `check_cors_origin` first; a wildcard that slips past is
    // dropped here rather than allowed (tower-http would also panic on it).
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .map(String::as_str)
        .filter(|o| check_cors_origin(o).is_ok())
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
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
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "abcd"));
        assert!(!token_matches("", "abc"));
    }

    #[test]
    fn cors_origins_are_exact_origins_never_a_wildcard() {
        let check = |origin: &str, ok: bool| assert_eq!(check_cors_origin(origin).is_ok(), ok, "{origin}");
        check("http://localhost:5173", true);
        check("https://app.example.com", true);
        check("https://app.example.com/", true);
        check("*", false);
        check("https://*.example.com", false);
        check("null", false);
        check("app.example.com", false);
        check("https://app.example.com/path", false);
        check("ftp://app.example.com", false);
        check("https://", false);
        assert!(check_cors_origin("*").unwrap_err().reason.contains("any web page"));
        // A wildcard that reached the layer anyway is dropped, not a panic at start.
        let _ = cors(&["*".to_owned(), "http://localhost:5173".to_owned()]);
    }
}
