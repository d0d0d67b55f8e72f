//! Plain HTTP requests for workflow `http` nodes, on the same HTTP stack as the providers
//! (reqwest with rustls and the platform's certificates).
//!
//! [`Fetch`] is what the workflow engine in Core calls (Core names no HTTP client);
//! [`HttpFetch`] is the real one. It guarantees a response body never grows past the
//! request's limit (checked against `Content-Length` first, then while reading), that only
//! `http` and `https` URLs are fetched, and that redirects are followed only within the same
//! origin (a node's headers may carry credentials meant for that host alone; a redirect
//! elsewhere comes back as the 3xx it is). Time limits and cancellation belong to the
//! caller: dropping the future abandons the request. [`redact_url`] is how a URL appears in
//! records and errors: without its user info, and with the values of query parameters whose
//! names suggest secrets hidden.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;

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
    /// A client that could not be set up (no TLS backend) fails each request saying so,
    /// rather than keeping the app from starting.
    client: Result<reqwest::Client, String>,
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

impl HttpFetch {
    pub fn new() -> Self {
        let same_origin = reqwest::redirect::Policy::custom(|attempt| {
            let from =
                attempt.previous().last().map(|u| (u.scheme().to_owned(), u.host_str().map(str::to_owned), u.port_or_known_default()));
            let to =
                (attempt.url().scheme().to_owned(), attempt.url().host_str().map(str::to_owned), attempt.url().port_or_known_default());
            if attempt.previous().len() >= 10 {
                attempt.error("more than 10 redirects")
            } else if from.as_ref() == Some(&to) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let client = reqwest::Client::builder()
            .redirect(same_origin)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("hearth-workflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("could not set up the HTTP client: {e}"));
        Self { client }
    }
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
            let client = self.client.as_ref().map_err(|e| FetchError::Invalid(e.clone()))?;
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
                // The innermost cause says what happened (connection refused, DNS, TLS).
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
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
