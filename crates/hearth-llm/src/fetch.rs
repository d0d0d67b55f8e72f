//! Plain HTTP requests for workflow `http` nodes, on the same HTTP stack as the providers
//! (reqwest with rustls and the platform's certificates).
//!
//! [`Fetch`] is what the workflow engine in Core calls (Core names no HTTP client);
//! [`HttpFetch`] is the real one. It guarantees a response body never grows past the
//! request's limit (checked against `Content-Length` first, then while reading), that only
//! `http` and `https` URLs are fetched, and that redirects are followed only within the same
//! origin (a node's headers may carry credentials meant for that host alone; a redirect
//! elsewhere comes back as the 3xx it is). Unless a request sets `allow_local`, it reaches
//! public addresses only (`guard.rs`: loopback, private, link-local, cloud metadata and the
//! other special ranges are refused, for IP literals before connecting and for names at
//! resolution), so a workflow that arrived by import, sync or the API cannot probe the
//! machine or its network. Neither client uses a proxy: one could reach what the guard
//! refuses. Time limits and cancellation belong to the caller: dropping the future abandons
//! the request.
//!
//! [`redact_url`] is how a URL appears in records and errors: without its user info, and
//! with the values of query parameters whose names suggest secrets hidden. [`origin`] and
//! [`encode_url_value`] let the engine build a URL from a template with the parser that
//! fetches it, so the two cannot disagree about where a URL goes.

mod guard;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// One request.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Sent when not empty.
    pub body: String,
    /// The largest body accepted, in bytes.
    pub max_bytes: u64,
    /// Whether local and private network addresses may be reached (see the module docs).
    pub allow_local: bool,
}

/// What came back.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchResponse {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Invalid(String),
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the response is larger than the {limit} byte limit")]
    TooLarge { limit: u64 },
    #[error("the response broke off: {0}")]
    Broken(String),
    /// The host is, or resolves only to, local or private network addresses, and the
    /// request did not set `allow_local`.
    #[error("{}", local_message(host, addresses))]
    LocalAddress { host: String, addresses: Vec<IpAddr> },
}

fn local_message(host: &str, addresses: &[IpAddr]) -> String {
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    let listed: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    if literal.is_some_and(|ip| addresses == [ip]) {
        format!("refused to connect to {host}: it is a local or private network address")
    } else {
        format!("refused to connect to {host}: it resolves only to local or private network addresses ({})", listed.join(", "))
    }
}

impl From<guard::Refused> for FetchError {
    fn from(r: guard::Refused) -> Self {
        FetchError::LocalAddress { host: r.host, addresses: r.addresses }
    }
}

/// A future of a fetch.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<FetchResponse, FetchError>> + Send + 'a>>;

/// Something that fetches URLs.
pub trait Fetch: Send + Sync + std::fmt::Debug {
    fn fetch(&self, request: FetchRequest) -> FetchFuture<'_>;
}

/// The real client.
#[derive(Clone, Debug)]
pub struct HttpFetch {
    /// Reaches public addresses only. A client that could not be set up (no TLS backend)
    /// fails each request saying so, rather than keeping the app from starting.
    public: Result<reqwest::Client, String>,
    /// Reaches any address, for requests that set `allow_local`. A client of its own, so
    /// that no pooled connection to a local address is ever reused for a guarded request.
    any: Result<reqwest::Client, String>,
}

/// Query parameters whose values are hidden in records: names containing one of these.
const SECRET_PARAMS: &[&str] = &["key", "token", "secret", "password", "passwd", "auth", "sig", "credential"];

/// A URL as records and errors show it (see the module docs). Text that is not a URL is
/// returned as it is.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else { return url.to_owned() };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.iter().any(|s| k.to_ascii_lowercase().contains(s));
                (k.into_owned(), if secret { "REDACTED".to_owned() } else { v.into_owned() })
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The origin of an `http` or `https` URL (`https://host` or `https://host:port`, the port
/// left out when it is the scheme's default), as the fetch's own parser reads it; `None`
/// for anything else.
pub fn origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some_and(|h| !h.is_empty()))
        .then(|| parsed.origin().ascii_serialization())
}

/// What [`encode_url_value`] leaves as it is: letters, digits and `-._~` (RFC 3986's
/// unreserved characters).
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A value made safe to place anywhere after a URL's host: every character that could end
/// or start a part of the URL (`/ ? # @ : & = +`, spaces, `%` ...) is percent-encoded, so
/// the value stays data inside the path segment, query value or fragment it lands in.
pub fn encode_url_value(value: &str) -> String {
    utf8_percent_encode(value, URL_VALUE).to_string()
}

impl HttpFetch {
    pub fn new() -> Self {
        Self { public: client(true), any: client(false) }
    }
}

/// A client that follows redirects within the same origin only; `guarded`: one that reaches
/// public addresses only (see the module docs).
fn client(guarded: bool) -> Result<reqwest::Client, String> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let from = attempt.previous().last().map(|u| (u.scheme().to_owned(), u.host_str().map(str::to_owned), u.port_or_known_default()));
        let to = (attempt.url().scheme().to_owned(), attempt.url().host_str().map(str::to_owned), attempt.url().port_or_known_default());
        // Same-origin hops cannot reach a new host today; the check stays so that widening
        // the redirect rule can never let a hop skip the guard that the first request passed.
        let refused = if guarded { guard::check_literal(attempt.url()).err() } else { None };
        if let Some(refused) = refused {
            attempt.error(refused)
        } else if attempt.previous().len() >= 10 {
            attempt.error("more than 10 redirects")
        } else if from.as_ref() == Some(&to) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let mut builder = reqwest::Client::builder()
        .redirect(policy)
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("hearth-workflow/", env!("CARGO_PKG_VERSION")));
    if guarded {
        builder = builder.dns_resolver(guard::PublicOnly);
    }
    builder.build().map_err(|e| format!("could not set up the HTTP client: {e}"))
}

impl Default for HttpFetch {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetch for HttpFetch {
    fn fetch(&self, request: FetchRequest) -> FetchFuture<'_> {
        Box::pin(async move {
            let url = reqwest::Url::parse(&request.url)
                .map_err(|e| FetchError::Invalid(format!("{:?} is not a URL: {e}", redact_url(&request.url))))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(FetchError::Invalid(format!("only http and https URLs can be fetched, not {:?}", url.scheme())));
            }
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(|_| FetchError::Invalid(format!("{:?} is not an HTTP method", request.method)))?;
            if !request.allow_local {
                guard::check_literal(&url)?;
            }
            let client = if request.allow_local { &self.any } else { &self.public };
            let client = client.as_ref().map_err(|e| FetchError::Invalid(e.clone()))?;
            let is_head = method == reqwest::Method::HEAD;
            let mut builder = client.request(method, url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if !request.body.is_empty() {
                builder = builder.body(request.body.clone());
            }
            // A bad header name or value is the request's fault, not the server's.
            let built = builder.build().map_err(|e| FetchError::Invalid(format!("the request cannot be sent: {e}")))?;
            let unreachable = |e: reqwest::Error| {
                // The innermost cause says what happened (connection refused, DNS, TLS),
                // unless the guard refused the host on the way.
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    if let Some(refused) = s.downcast_ref::<guard::Refused>() {
                        return FetchError::from(refused.clone());
                    }
                    reason = s.to_string();
                    source = s.source();
                }
                FetchError::Unreachable { url: redact_url(&request.url), reason }
            };
            let response = client.execute(built).await.map_err(unreachable)?;
            let limit = request.max_bytes;
            // A HEAD response announces the length of a body it does not send.
            if !is_head && response.content_length().is_some_and(|n| n > limit) {
                return Err(FetchError::TooLarge { limit });
            }
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| FetchError::Broken(e.to_string()))?;
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(FetchError::TooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(FetchResponse { status, headers, body })
        })
    }
}

#[cfg(test)]
mod tests;
