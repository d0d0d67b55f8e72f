//! Sessions: Supabase Auth (GoTrue) sign-in, refresh and sign-out, and tokens handed over
//! directly for a self-hosted PostgREST that mints its own JWTs.
//!
//! A [`Session`] lives in the OS keychain as one JSON secret, never in the database. Its
//! expiry and user come from the JWT's own claims (read, not verified: the server verifies).

use std::time::Duration;

use base64::Engine as _;
use hearth_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The tokens of one signed-in user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds since the Unix epoch; `None` for a token without `exp`.
    pub expires_at: Option<i64>,
    pub user_id: String,
    pub email: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are credentials: never in logs.
        f.debug_struct("Session").field("user_id", &self.user_id).field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<i64>,
    email: Option<String>,
}

impl Session {
    /// A session from tokens given directly. The access token must be a JWT with a `sub`.
    pub fn from_tokens(access_token: &str, refresh_token: Option<&str>) -> Result<Self> {
        let access_token = access_token.trim();
        let claims = claims(access_token)?;
        let user_id = claims.sub.ok_or_else(|| Error::Invalid("the access token has no `sub` claim (the user id)".into()))?;
        Ok(Session {
            access_token: access_token.to_owned(),
            refresh_token: refresh_token.map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned),
            expires_at: claims.exp,
            user_id,
            email: claims.email,
        })
    }

    /// Whether the token expires within `margin` of `now` (seconds since the epoch).
    pub fn expires_within(&self, now: i64, margin: Duration) -> bool {
        self.expires_at.is_some_and(|exp| exp - now <= margin.as_secs() as i64)
    }

    pub fn expiry(&self) -> Option<Timestamp> {
        self.expires_at.and_then(|s| Timestamp::from_second(s).ok())
    }
}

/// The claims of a JWT, unverified.
fn claims(jwt: &str) -> Result<Claims> {
    let bad = |why: &str| Error::Invalid(format!("the access token is not a JWT: {why}"));
    let mut parts = jwt.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad("it needs three dot-separated parts"));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad("its payload is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| bad("its payload is not JSON claims"))
}

/// GoTrue's answer to a token grant.
#[derive(Deserialize)]
struct Grant {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    expires_at: Option<i64>,
    user: Option<GrantUser>,
}

#[derive(Deserialize)]
struct GrantUser {
    id: String,
    email: Option<String>,
}

/// A client for Supabase Auth at one root (`https://PROJECT.supabase.co/auth/v1`).
#[derive(Clone, Debug)]
pub struct AuthClient {
    http: reqwest011::Client,
    root: String,
    anon_key: Option<String>,
}

impl AuthClient {
    pub fn new(root: &str, anon_key: Option<&str>, timeout: Duration) -> Result<Self> {
        let http = reqwest011::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Invalid(format!("cannot build the HTTP client: {e}")))?;
        Ok(AuthClient { http, root: root.trim_end_matches('/').to_owned(), anon_key: anon_key.map(str::to_owned) })
    }

    /// Signs in with email and password (the password grant).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Session> {
        let body = serde_json::json!({ "email": email, "password": password });
        self.grant("password", body).await
    }

    /// Trades a refresh token for a new session (Supabase rotates the refresh token too).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        self.grant("refresh_token", serde_json::json!({ "refresh_token": refresh_token })).await
    }

    /// Ends the session on the server. A token it no longer knows is already signed out.
    pub async fn sign_out(&self, access_token: &str) -> Result<()> {
        let url = format!("{}/logout", self.root);
        let response = self.request(&url).bearer_auth(access_token).send().await.map_err(|e| offline(&url, &e))?;
        let status = response.status().as_u16();
        if status < 300 || status == 401 || status == 403 || status == 404 {
            return Ok(());
        }
        Err(Error::Server { status, message: message(&read_body(&url, response, 1024 * 1024).await.unwrap_or_default()) })
    }

    fn request(&self, url: &str) -> reqwest011::RequestBuilder {
        let mut req = self.http.post(url).header("content-type", "application/json");
        if let Some(key) = &self.anon_key {
            req = req.header("apikey", key);
        }
        req
    }

    async fn grant(&self, kind: &str, body: serde_json::Value) -> Result<Session> {
        let url = format!("{}/token?grant_type={kind}", self.root);
        let response = self.request(&url).body(body.to_string()).send().await.map_err(|e| offline(&url, &e))?;
        let status = response.status().as_u16();
        let text = read_body(&url, response, 1024 * 1024).await?;
        match status {
            200..=299 => {}
            400 | 401 | 403 | 422 => {
                let why = message(&text);
                return Err(if kind == "password" { Error::SignIn(why) } else { Error::Unauthorized { detail: why } });
            }
            _ => return Err(Error::Server { status, message: message(&text) }),
        }
        let grant: Grant = serde_json::from_str(&text).map_err(|e| Error::Protocol(format!("auth answer: {e}")))?;
        let mut session = Session::from_tokens(&grant.access_token, grant.refresh_token.as_deref())?;
        if let Some(user) = grant.user {
            session.user_id = user.id;
            session.email = user.email.or(session.email);
        }
        let now = Timestamp::now().as_second();
        session.expires_at = grant.expires_at.or(grant.expires_in.map(|s| now + s)).or(session.expires_at);
        Ok(session)
    }
}

/// The most a sync or auth answer may hold. A pull page is at most 5,000 rows; this leaves
/// room for long messages while a broken or hostile server cannot make the app hold gigabytes.
pub(crate) const MAX_BODY_BYTES: usize = 128 * 1024 * 1024;

/// The body of `response` as text, refused past `limit` bytes (checked against the announced
/// length first, then while reading).
pub(crate) async fn read_body(url: &str, mut response: reqwest011::Response, limit: usize) -> Result<String> {
    let too_large = || Error::Protocol(format!("the answer from {url} is larger than {} MiB", limit / (1024 * 1024)));
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| offline(url, &e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| Error::Protocol(format!("the answer from {url} is not UTF-8")))
}

/// A request that got no answer, with the whole cause chain (DNS, refused, reset, timeout).
pub(crate) fn offline(url: &str, e: &reqwest011::Error) -> Error {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    Error::Offline { url: url.split('?').next().unwrap_or(url).to_owned(), detail }
}

/// The human part of an error body from GoTrue or PostgREST (`msg`, `message`,
/// `error_description`, `error`), else the body itself, shortened.
pub(crate) fn message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        for key in ["msg", "message", "error_description", "error"] {
            if let Some(m) = v.get(key).and_then(|m| m.as_str()) {
                return m.to_owned();
            }
        }
    }
    let body = body.trim();
    if body.is_empty() { "no details".into() } else { body.chars().take(300).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        format!("{}.{}.sig", b64(br#"{"alg":"HS256"}"#), b64(claims.to_string().as_bytes()))
    }

    /// A server on a loopback port that answers each connection with `head` and then `body_len`
    /// bytes of `x`, in chunks.
    fn serve_once(head: &'static str, body_len: usize) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(head.as_bytes());
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = body_len;
            while left > 0 {
                let n = left.min(chunk.len());
                if conn.write_all(&chunk[..n]).is_err() {
                    return; // the client gave up reading: what the cap is for
                }
                left -= n;
            }
        });
        url
    }

    #[test]
    fn an_answer_past_the_size_cap_is_refused_without_reading_it_all() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = reqwest011::Client::new();
        let get = |url: String| rt.block_on(async { read_body(&url, client.get(&url).send().await.unwrap(), 1024 * 1024).await });
        // No length announced: the reading stops at the cap.
        let endless = serve_once("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 8 * 1024 * 1024);
        let err = get(endless).unwrap_err().to_string();
        assert!(err.contains("larger than 1 MiB"), "{err}");
        // A length past the cap is refused before the body.
        let announced = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n", 16);
        assert!(get(announced).unwrap_err().to_string().contains("larger than 1 MiB"));
        // Under the cap, the body whole.
        let small = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 1000);
        assert_eq!(get(small).unwrap().len(), 1000);
    }

    #[test]
    fn a_session_reads_its_user_and_expiry_from_the_token() {
        let token = jwt(serde_json::json!({ "sub": "u-1", "exp": 1000, "email": "a@b.c", "role": "authenticated" }));
        let s = Session::from_tokens(&token, Some(" r1 ")).unwrap();
        assert_eq!(
            (s.user_id.as_str(), s.expires_at, s.email.as_deref(), s.refresh_token.as_deref()),
            ("u-1", Some(1000), Some("a@b.c"), Some("r1"))
        );
        assert!(s.expires_within(941, Duration::from_secs(60)));
        assert!(!s.expires_within(939, Duration::from_secs(60)));
        assert!(!format!("{s:?}").contains(&token), "tokens stay out of Debug");
    }

    #[test]
    fn tokens_that_are_not_jwts_are_refused_with_the_reason() {
        for (token, why) in [("abc", "three"), ("a.!!.c", "base64"), (&jwt(serde_json::json!({ "exp": 1 }))[..], "sub")] {
            let err = Session::from_tokens(token, None).unwrap_err().to_string();
            assert!(err.contains(why), "{token}: {err}");
        }
    }

    #[test]
    fn error_bodies_become_their_message() {
        assert_eq!(
            message(r#"{"code":400,"error_code":"invalid_credentials","msg":"Invalid login credentials"}"#),
            "Invalid login credentials"
        );
        assert_eq!(message(r#"{"error":"invalid_grant","error_description":"Refresh Token Not Found"}"#), "Refresh Token Not Found");
        assert_eq!(message(r#"{"code":"PGRST301","message":"JWT expired"}"#), "JWT expired");
        assert_eq!(message(""), "no details");
    }
}
