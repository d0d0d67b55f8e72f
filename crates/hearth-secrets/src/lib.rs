//! Hearth's secrets (provider API keys, the API token): the only crate that talks to the OS
//! keychain.
//!
//! A [`SecretStore`] keeps named secrets. [`Keychain`] is the real one: the Secret Service
//! over D-Bus on Linux (GNOME Keyring, KWallet), and the kernel's keyutils store where no
//! Secret Service answers (a headless server); [`Keychain::backend`] says which is in use.
//! [`MemoryStore`] is for unit tests. A [`Secret`] never shows its value in `Debug` or
//! `Display`, so a secret in a log line or an error message prints redacted.
//!
//! Every call may block (D-Bus round trips, an unlock prompt): async callers run them on a
//! blocking thread. A locked or absent keychain is an error ([`SecretError::Unavailable`]),
//! never a reason to write the secret anywhere else.
//!
//! Left out: keyutils keeps secrets only until reboot, and in a process without a session
//! keyring (some services, CI) its writes are refused; joining a session keyring at start
//! needs `keyctl`, which this crate does not do. Callers that need a secret to last (the API
//! token, in `hearth-host`'s `token.rs`) ask [`SecretStore::backend`] and keep it elsewhere.

mod memory;

use std::fmt;
use std::sync::Arc;

/// The value type lives with the domain nouns, so crates that only carry a secret (a remote
/// provider's key) do not build the keychain stack.
pub use hearth_types::Secret;
pub use memory::MemoryStore;

/// Why a secret could not be read or kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The keychain is locked, absent or refused access. Nothing was stored elsewhere.
    #[error("the {backend} keychain is not available: {detail}")]
    Unavailable { backend: &'static str, detail: String },
    /// A name the keychain cannot hold.
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
    /// The keychain answered something unexpected.
    #[error("the {backend} keychain failed: {detail}")]
    Backend { backend: &'static str, detail: String },
}

pub type Result<T, E = SecretError> = std::result::Result<T, E>;

/// Named secrets. Implementations are cheap to share and safe to call from any thread; calls
/// may block.
pub trait SecretStore: Send + Sync + fmt::Debug {
    fn get(&self, name: &str) -> Result<Option<Secret>>;
    fn set(&self, name: &str, secret: &Secret) -> Result<()>;
    /// Removes a secret; `false` when there was none.
    fn delete(&self, name: &str) -> Result<bool>;
    /// Which store this is, for `hearth doctor` ("secret-service", "keyutils", "memory").
    fn backend(&self) -> &'static str;
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(SecretError::InvalidName(name.to_owned()));
    }
    Ok(())
}

const SECRET_SERVICE: &str = "secret-service";

/// The OS keychain, under one service name (Hearth's secrets are `service`/`name` pairs).
pub struct Keychain {
    store: Arc<keyring_core::CredentialStore>,
    backend: &'static str,
    service: String,
}

impl fmt::Debug for Keychain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keychain").field("backend", &self.backend).field("service", &self.service).finish()
    }
}

impl Keychain {
    /// Opens the keychain: the Secret Service when one runs, else (a machine with no session
    /// bus or no Secret Service on it) the kernel keyutils store. A Secret Service that is
    /// there but locked is an error, not a reason to keep secrets elsewhere.
    pub fn open(service: &str) -> Result<Self> {
        match zbus_secret_service_keyring_store::Store::new() {
            Ok(store) => Self::probed(store, service),
            Err(e) => {
                tracing::info!(error = %e, "no Secret Service; using the kernel keyutils store");
                Self::keyutils(service)
            }
        }
    }

    /// The Secret Service only (no fallback).
    pub fn secret_service(service: &str) -> Result<Self> {
        let store = zbus_secret_service_keyring_store::Store::new().map_err(|e| map_error(SECRET_SERVICE, e))?;
        Self::probed(store, service)
    }

    /// Checks that the Secret Service takes writes: reads succeed even while it is locked,
    /// so a probe item is written and deleted. Each probe is an item of its own: Hearth
    /// processes open the keychain at the same moment (the app, `hearth chat`, a script's
    /// `hearth serve`), and with one shared name each could delete the item another was
    /// writing, which reads as a keychain that is not there.
    fn probed(store: Arc<keyring_core::CredentialStore>, service: &str) -> Result<Self> {
        static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("hearth-probe-{}-{n}-{nanos}", std::process::id());
        let probe = store.build(service, &name, None).and_then(|e| {
            e.set_password("probe")?;
            e.delete_credential()
        });
        probe.map_err(|e| map_error(SECRET_SERVICE, e))?;
        Ok(Self { store, backend: SECRET_SERVICE, service: service.to_owned() })
    }

    fn keyutils(service: &str) -> Result<Self> {
        const BACKEND: &str = "keyutils";
        let store: Arc<keyring_core::CredentialStore> = linux_keyutils_keyring_store::Store::new().map_err(|e| map_error(BACKEND, e))?;
        Ok(Self { store, backend: BACKEND, service: service.to_owned() })
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry> {
        check_name(name)?;
        self.store.build(&self.service, name, None).map_err(|e| map_error(self.backend, e))
    }
}

fn map_error(backend: &'static str, e: keyring_core::Error) -> SecretError {
    use keyring_core::Error as E;
    match e {
        E::NoStorageAccess(detail) => SecretError::Unavailable { backend, detail: detail.to_string() },
        E::PlatformFailure(detail) => SecretError::Unavailable { backend, detail: detail.to_string() },
        E::NoDefaultStore => SecretError::Unavailable { backend, detail: "no store".into() },
        other => SecretError::Backend { backend, detail: other.to_string() },
    }
}

impl SecretStore for Keychain {
    fn get(&self, name: &str) -> Result<Option<Secret>> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(self.backend, e)),
        }
    }

    fn set(&self, name: &str, secret: &Secret) -> Result<()> {
        self.entry(name)?.set_password(secret.expose()).map_err(|e| map_error(self.backend, e))
    }

    fn delete(&self, name: &str) -> Result<bool> {
        match self.entry(name)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_error(self.backend, e)),
        }
    }

    fn backend(&self) -> &'static str {
        self.backend
    }
}

#[cfg(test)]
mod tests;
