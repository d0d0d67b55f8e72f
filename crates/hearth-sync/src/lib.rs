//! Sync with the user's own Supabase project (or any PostgREST with Supabase's roles and
//! `auth.uid()`), so every device of one user converges and nothing is lost.
//!
//! The data flow, one round of [`Engine::sync_now`]:
//! 1. **Session** ([`auth`]): the access token from the keychain, refreshed through Supabase
//!    Auth a minute before it expires (or when the server refuses it).
//! 2. **Push** ([`rest`]): the outbox, oldest first, as whole client transactions in batches to
//!    the `sync_push` RPC with this device's client id and each transaction's `tx_seq`. The
//!    store then settles the answers ([`hearth_store::Store::acknowledge`]): applied and
//!    duplicate transactions leave the outbox, refused ones become dead letters.
//! 3. **Pull**: pages from the `sync_pull` RPC after the saved cursor, each applied with its
//!    cursor in one SQLite transaction and merged field by field, until caught up.
//!
//! [`Engine::run`] repeats rounds in the background: at once when the outbox has changes,
//! otherwise one cheap pull per idle interval, with exponential backoff while offline or
//! failing. [`Status`] says where things stand, for the CLI, the API and the UI.
//! [`schema`] holds the server side (`migrations/supabase/`) and applies it.
//!
//! This crate is the only user of the `postgrest` crate (and of a PostgreSQL client).

pub mod auth;
mod engine;
mod rest;
pub mod schema;

pub use hearth_store::LocalData;
use hearth_store::{Cursor, Pending, Quarantined, Rejection};
use hearth_types::Timestamp;
use serde::Serialize;

pub use auth::Session;
pub use engine::{Engine, Options, Progress, Round};

/// The version of the client protocol sent with each push; the server refuses older ones.
pub const PROTOCOL_VERSION: i32 = 1;

/// Where the project answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub rest_url: String,
    pub auth_url: Option<String>,
    pub anon_key: Option<String>,
}

impl Endpoints {
    /// A Supabase project: REST at `URL/rest/v1`, auth at `URL/auth/v1`.
    pub fn supabase(project_url: &str, anon_key: &str) -> Result<Self> {
        let base = check_url("project URL", project_url)?;
        Ok(Endpoints {
            rest_url: format!("{base}/rest/v1"),
            auth_url: Some(format!("{base}/auth/v1")),
            anon_key: Some(check_key(anon_key)?),
        })
    }

    /// Explicit roots, for a self-hosted PostgREST (and optionally a GoTrue).
    pub fn explicit(rest_url: &str, auth_url: Option<&str>, anon_key: Option<&str>) -> Result<Self> {
        Ok(Endpoints {
            rest_url: check_url("REST URL", rest_url)?,
            auth_url: auth_url.map(|u| check_url("auth URL", u)).transpose()?,
            anon_key: anon_key.map(check_key).transpose()?,
        })
    }
}

/// An http(s) URL with a host, without credentials, query or a trailing slash. `http://` only
/// reaches this machine: the session token, the password at sign-in and every synced row
/// travel on this connection, so anywhere else it must be TLS.
fn check_url(what: &str, url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let plain = url.strip_prefix("http://");
    let rest = url.strip_prefix("https://").or(plain);
    let host = rest.map(|r| r.split('/').next().unwrap_or(""));
    let ok = rest.zip(host).is_some_and(|(r, host)| {
        !host.is_empty() && !host.contains('@') && !r.contains('?') && !r.contains('#') && !r.contains(char::is_whitespace)
    });
    if !ok {
        return Err(Error::Invalid(format!("{what} must be an http(s) URL with a host and no credentials or query, got {url:?}")));
    }
    if plain.is_some() && !host.is_some_and(is_loopback_authority) {
        return Err(Error::Invalid(format!(
            "{what} {url:?} would send your session and data in clear text: use https:// (http:// is for this machine only: localhost, 127.0.0.1, [::1])"
        )));
    }
    Ok(url.to_owned())
}

/// Whether `host[:port]` names this machine.
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    hearth_types::is_loopback_host(host)
}

/// The anon key goes into a header: printable ASCII only.
fn check_key(key: &str) -> Result<String> {
    let key = key.trim();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Invalid("the anon key must be non-empty printable ASCII (copy it from the project's API settings)".into()));
    }
    Ok(key.to_owned())
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why sync could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sync is not connected: run `hearth sync connect` first")]
    NotConnected,
    #[error("not signed in to the sync server: run `hearth sync login`")]
    NotSignedIn,
    /// The server could not be reached (network down, DNS, refused, timed out).
    #[error("cannot reach {url}: {detail}")]
    Offline { url: String, detail: String },
    /// The server refused the session and it could not be refreshed.
    #[error("the sync server refused the session ({detail}); sign in again with `hearth sync login`")]
    Unauthorized { detail: String },
    /// Another account signed in than the one this device syncs for, and the user has not said
    /// what becomes of the data already here.
    #[error(
        "this device syncs for another account ({previous}); to sign in as someone else, say what becomes of the data on \
         this device: keep it here only (local_data = keep) or send it to the new account (local_data = push)"
    )]
    AccountChanged { previous: String },
    /// Sign-in refused (wrong email or password, unconfirmed user).
    #[error("sign-in refused: {0}")]
    SignIn(String),
    /// The server answered with an error status.
    #[error("the sync server answered {status}: {message}")]
    Server { status: u16, message: String },
    /// The server's schema is older or newer than this client speaks.
    #[error(
        "the server's sync schema needs an update: {0} (run `hearth supabase migrate` or paste `hearth supabase schema` into the SQL editor)"
    )]
    Schema(String),
    /// An answer that is not what the protocol says.
    #[error("the sync server sent an unexpected answer: {0}")]
    Protocol(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] hearth_store::Error),
    #[error(transparent)]
    Secrets(#[from] hearth_secrets::SecretError),
    /// Applying the server schema failed.
    #[error("database: {0}")]
    Database(String),
}

impl Error {
    /// Whether trying again later may succeed (network, server trouble) rather than needing
    /// the user (sign in, fix the schema).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Offline { .. } | Error::Server { status: 500.., .. } | Error::Server { status: 408 | 429, .. })
    }
}

/// What the background loop is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Not connected, or not signed in: nothing runs.
    #[default]
    Stopped,
    Idle,
    Pushing,
    Pulling,
    /// The last round failed; the next waits for the backoff.
    BackingOff,
}

/// Where sync stands: everything `hearth sync status`, `GET /api/v1/sync` and the UI show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub connected: bool,
    pub rest_url: Option<String>,
    pub auth_url: Option<String>,
    pub client_id: Option<String>,
    pub signed_in: bool,
    pub user_id: Option<String>,
    pub email: Option<String>,
    /// When the access token expires (it is refreshed before).
    pub session_expires_at: Option<Timestamp>,
    pub pending: Pending,
    pub rejected: Vec<Rejection>,
    /// Pulled rows kept aside, not applied: they would have hung or broken this device.
    pub quarantined: Vec<Quarantined>,
    pub last_push_at: Option<Timestamp>,
    pub last_pull_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    pub cursor: Option<CursorView>,
    /// The server's newest version at the last pull.
    pub head: i64,
    pub activity: Activity,
}

/// The pull cursor, as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CursorView {
    pub version: i64,
    pub id: String,
}

impl From<&Cursor> for CursorView {
    fn from(c: &Cursor) -> Self {
        CursorView { version: c.version, id: c.id.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_derived_and_checked() {
        let e = Endpoints::supabase("https://abc.supabase.co/", "eyJ.anon").unwrap();
        assert_eq!(e.rest_url, "https://abc.supabase.co/rest/v1");
        assert_eq!(e.auth_url.as_deref(), Some("https://abc.supabase.co/auth/v1"));
        for bad in ["abc.supabase.co", "ftp://x", "https://user:pw@x", "https://x/?a=1", "https://"] {
            assert!(Endpoints::supabase(bad, "k").is_err(), "{bad}");
        }
        assert!(Endpoints::supabase("https://x", "a b").is_err(), "a key with a space cannot be a header");
        let own = Endpoints::explicit("http://127.0.0.1:3000", None, None).unwrap();
        assert_eq!((own.rest_url.as_str(), own.auth_url, own.anon_key), ("http://127.0.0.1:3000", None, None));
    }

    #[test]
    fn clear_text_is_only_for_this_machine() {
        for local in
            ["http://localhost:54321", "http://127.0.0.1:3000/rest/v1", "http://127.8.0.1", "http://[::1]:3000", "http://LOCALHOST"]
        {
            assert!(Endpoints::explicit(local, Some(local), None).is_ok(), "{local}");
        }
        for remote in ["http://db.example.com/rest/v1", "http://192.168.1.5:3000", "http://[2001:db8::1]:3000", "http://localhost.evil.com"]
        {
            let err = Endpoints::explicit(remote, None, None).unwrap_err().to_string();
            assert!(err.contains("clear text") && err.contains("https://"), "{remote}: {err}");
            let err = Endpoints::explicit("https://ok.example.com", Some(remote), None).unwrap_err().to_string();
            assert!(err.starts_with("auth URL"), "{remote}: {err}");
        }
        assert!(Endpoints::supabase("http://abc.supabase.co", "k").unwrap_err().to_string().contains("clear text"));
        assert!(Endpoints::explicit("https://db.example.com/rest/v1", Some("https://db.example.com/auth/v1"), None).is_ok());
    }
}
