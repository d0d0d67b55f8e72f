//! Where `hearth supabase migrate` connects, and how: a `postgres://` URL read into a
//! [`Database`], its transport settled before a byte goes out.
//!
//! - TLS by default: a URL without `sslmode` gets `require`. TLS here is rustls, and it is
//!   always verified: the server's certificate must chain to a trusted root and name the host
//!   (or IP address) the URL names. So `require` means what libpq calls `verify-full`, and
//!   `verify-ca` and `verify-full` are accepted as the same. (The `postgres` crate's modes stop
//!   at `require`; checking the certificate is the TLS connector's job, and ours always does.)
//! - The trusted roots are the platform's (rustls-platform-verifier, as reqwest uses them), or,
//!   with `sslrootcert=PATH`, only the PEM certificates in that file: a server with its own
//!   certificate authority, as every Supabase project has, or a self-signed one.
//!   `sslrootcert=system` names the platform's, the default.
//! - Plain text (`sslmode=disable`, or `allow` and `prefer`, which fall back to it) goes only
//!   to this machine: a loopback address (127.0.0.0/8, ::1), `localhost`, or a Unix socket
//!   directory. Anywhere else the password and the data would cross networks where anyone on
//!   the path can read them (and a forged server can ask for the password in clear), so it is
//!   refused unless the caller passes [`Plaintext::Allowed`] (the CLI's `--insecure`), and
//!   then [`Database::warning`] has a line to show.
//! - PostgreSQL never offers TLS on a Unix socket: a URL whose hosts are all socket
//!   directories connects without it unless it asks otherwise.
//!
//! Left out: libpq's `key=value` connection strings and its `PG*` environment variables (only
//! URLs are read), and client certificates (`sslcert`, `sslkey`).

use std::fmt::Display;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use postgres::config::{Host, SslMode};
use rustls::CertificateError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls_platform_verifier::BuilderVerifierExt;

use crate::{Error, Result};

/// Whether plain text may go to a database that is not on this machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plaintext {
    /// Only to loopback addresses and Unix sockets.
    #[default]
    LoopbackOnly,
    /// Anywhere: the user trusts every network on the way (`--insecure`).
    Allowed,
}

/// A database to connect to, read from its URL. `Debug` shows no password (the `postgres`
/// crate's `Config` redacts it).
#[derive(Debug)]
pub struct Database {
    config: postgres::Config,
    roots: Roots,
    /// What may cross the network in clear text because the caller allowed it.
    warning: Option<String>,
}

/// The certificates a server's chain must end in.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Roots {
    Platform,
    File(PathBuf),
}

/// Where a URL's connections go, as far as eavesdroppers are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Every host is a Unix socket directory.
    UnixSocket,
    /// Loopback addresses, `localhost`, perhaps Unix sockets: this machine only.
    Loopback,
    /// At least one host elsewhere.
    Network,
}

/// The TLS mode to connect with; `exposed` when plain text may cross the network because
/// the caller allowed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Transport {
    mode: SslMode,
    exposed: bool,
}

/// Why a URL's `sslmode` is not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    UnknownMode,
    PlainOverNetwork,
}

impl Database {
    /// Reads a `postgres://` (or `postgresql://`) URL. Messages never repeat the URL, which
    /// holds the password.
    pub fn parse(url: &str, plaintext: Plaintext) -> Result<Self> {
        let (base, query) = split_query(url.trim())?;
        let (mut sslmode, mut sslrootcert, mut rest) = (None, None, Vec::new());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", value)) => sslmode = Some(decode("sslmode", value)?),
                Some(("sslrootcert", value)) => sslrootcert = Some(decode("sslrootcert", value)?),
                _ => rest.push(pair),
            }
        }
        // The `postgres` crate knows neither `sslrootcert` nor libpq's `verify-*` modes: both
        // are taken out above and applied here.
        let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
        let mut config =
            postgres::Config::from_str(&url).map_err(|e| Error::Invalid(format!("the database URL: {}", super::describe(&e))))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(Error::Invalid("the database URL names no host".into()));
        }
        let transport = match transport(sslmode.as_deref(), reach(config.get_hosts(), config.get_hostaddrs()), plaintext) {
            Ok(t) => t,
            Err(Refusal::UnknownMode) => {
                return Err(Error::Invalid(format!(
                    "sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not {:?}",
                    sslmode.unwrap_or_default()
                )));
            }
            Err(Refusal::PlainOverNetwork) => {
                return Err(Error::Invalid(format!(
                    "refusing sslmode={} to {}: the password and the data would cross the network in clear text. Leave \
                     sslmode out for verified TLS (with sslrootcert=PATH for a server with its own certificate authority), \
                     or pass --insecure if you trust every network between here and there",
                    sslmode.unwrap_or_default(),
                    hosts(&config)
                )));
            }
        };
        config.ssl_mode(transport.mode);
        let warning = transport.exposed.then(|| {
            format!(
                "sslmode={} to {} (--insecure): the password and the data may cross the network in clear text",
                sslmode.as_deref().unwrap_or_default(),
                hosts(&config)
            )
        });
        let roots = match sslrootcert {
            None => Roots::Platform,
            Some(path) if path == "system" => Roots::Platform,
            Some(path) => Roots::File(PathBuf::from(path)),
        };
        Ok(Database { config, roots, warning })
    }

    /// Whether the URL carries a password (in its user part or as `password=`).
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some_and(|p| !p.is_empty())
    }

    /// A line for the user when plain text may cross the network ([`Plaintext::Allowed`]).
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Opens a session (blocking: call it outside an async runtime).
    pub(crate) fn connect(&self) -> Result<postgres::Client> {
        let connected = if self.config.get_ssl_mode() == SslMode::Disable {
            self.config.connect(postgres::NoTls)
        } else {
            self.config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(self.tls()?))
        };
        connected.map_err(|e| Error::Database(self.explain(&e)))
    }

    fn tls(&self) -> Result<rustls::ClientConfig> {
        let setup = |e: rustls::Error| Error::Database(format!("setting up TLS: {e}"));
        // The provider is named, not taken from the process default, so that another crate
        // turning on rustls's `ring` feature cannot make the default ambiguous.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().map_err(setup)?;
        let builder = match &self.roots {
            Roots::Platform => builder.with_platform_verifier().map_err(setup)?,
            Roots::File(path) => builder.with_root_certificates(read_roots(path)?),
        };
        Ok(builder.with_no_client_auth())
    }

    /// The error, with what to do when the server's certificate was the trouble.
    fn explain(&self, e: &postgres::Error) -> String {
        let text = super::describe(e);
        match (certificate_error(e), &self.roots) {
            (Some(CertificateError::UnknownIssuer), Roots::Platform) => format!(
                "{text}: the server's certificate does not chain to a root this system trusts; for a server with its own \
                 certificate authority (a Supabase project's is under Database Settings, SSL Configuration), add \
                 sslrootcert=PATH to the URL"
            ),
            (Some(CertificateError::UnknownIssuer), Roots::File(path)) => {
                format!("{text}: the server's certificate does not chain to a certificate in {} (sslrootcert)", path.display())
            }
            (Some(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }), _) => {
                format!("{text}: the server's certificate is for another name; connect with a host name it was issued for")
            }
            _ => text,
        }
    }
}

/// The URL without its query, and the query. The query starts at the first `?` after the
/// first `@`, as the `postgres` crate reads URLs (a password may hold a bare `?`).
fn split_query(url: &str) -> Result<(&str, &str)> {
    let rest = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .ok_or_else(|| Error::Invalid("the database URL must start with postgres:// or postgresql://".into()))?;
    let start = url.len() - rest.len() + rest.find('@').map_or(0, |at| at + 1);
    Ok(match url[start..].find('?') {
        Some(q) => (&url[..start + q], &url[start + q + 1..]),
        None => (url, ""),
    })
}

fn decode(key: &str, value: &str) -> Result<String> {
    let decoded = percent_encoding::percent_decode_str(value).decode_utf8();
    Ok(decoded.map_err(|_| Error::Invalid(format!("{key} in the database URL is not UTF-8 once decoded")))?.into_owned())
}

/// Where connections go: to `hostaddr`s when the URL gives them (the host names then only
/// name the certificate), else to the hosts.
fn reach(hosts: &[Host], hostaddrs: &[IpAddr]) -> Reach {
    let local = |ip: &IpAddr| ip.to_canonical().is_loopback();
    let each: Vec<Reach> = if hostaddrs.is_empty() {
        hosts
            .iter()
            .map(|host| match host {
                Host::Unix(_) => Reach::UnixSocket,
                Host::Tcp(name) if hearth_types::is_loopback_host(name) => Reach::Loopback,
                Host::Tcp(_) => Reach::Network,
            })
            .collect()
    } else {
        hostaddrs.iter().map(|ip| if local(ip) { Reach::Loopback } else { Reach::Network }).collect()
    };
    if each.contains(&Reach::Network) {
        Reach::Network
    } else if each.contains(&Reach::Loopback) {
        Reach::Loopback
    } else {
        Reach::UnixSocket
    }
}

/// The decision: what `sslmode` the URL asked for (if any), where it goes, and whether the
/// caller allows plain text off this machine.
fn transport(asked: Option<&str>, reach: Reach, plaintext: Plaintext) -> std::result::Result<Transport, Refusal> {
    let mode = match asked {
        None if reach == Reach::UnixSocket => SslMode::Disable,
        None | Some("require" | "verify-ca" | "verify-full") => SslMode::Require,
        // libpq's `allow` tries plain text first; TLS first is never less safe.
        Some("allow" | "prefer") => SslMode::Prefer,
        Some("disable") => SslMode::Disable,
        Some(_) => return Err(Refusal::UnknownMode),
    };
    let exposed = mode != SslMode::Require && reach == Reach::Network;
    if exposed && plaintext == Plaintext::LoopbackOnly {
        return Err(Refusal::PlainOverNetwork);
    }
    Ok(Transport { mode, exposed })
}

/// The hosts for a message (never the user or password).
fn hosts(config: &postgres::Config) -> String {
    let names: Vec<String> = if config.get_hostaddrs().is_empty() {
        config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect()
    } else {
        config.get_hostaddrs().iter().map(IpAddr::to_string).collect()
    };
    names.join(", ")
}

/// The certificates of an `sslrootcert` file (PEM).
fn read_roots(path: &Path) -> Result<rustls::RootCertStore> {
    let bad = |e: &dyn Display| Error::Invalid(format!("sslrootcert {}: {e}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no PEM certificate in the file"));
    }
    Ok(roots)
}

/// The certificate problem rustls reported, somewhere in the error's chain (the TLS stream
/// wraps it in an `io::Error`).
fn certificate_error(e: &postgres::Error) -> Option<CertificateError> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let tls = s.downcast_ref::<rustls::Error>().or_else(|| {
            s.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref).and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(problem)) = tls {
            return Some(problem.clone());
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests;
