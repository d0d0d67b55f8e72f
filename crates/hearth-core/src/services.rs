//! What Core is handed rather than builds: its secret store, the runtime remote providers run
//! on, and how sync runs. The entry point picks each (`hearth_host::open_core`: the OS
//! keychain); Core builds only what sits on its own store, the sync engine, on first use.

use std::sync::Arc;

use hearth_llm::remote::HttpRuntime;
use hearth_secrets::{SecretError, SecretStore};

use crate::SyncOptions;

/// Opens the secret store on first use (the keychain may prompt or be slow to answer, and
/// most commands never need it).
pub type SecretsOpener = Arc<dyn Fn() -> Result<Arc<dyn SecretStore>, SecretError> + Send + Sync>;

/// Core's services, handed to [`Core::open`](crate::Core::open).
pub struct CoreServices {
    /// Where provider keys, workflow secrets and the sync session live.
    pub secrets: SecretsOpener,
    /// The runtime remote provider calls run on (it starts with the first provider call).
    pub http: Arc<HttpRuntime>,
    /// How the sync engine runs: batch sizes, polling, backoff, timeouts.
    pub sync: SyncOptions,
}

impl CoreServices {
    /// `secrets`, a runtime of their own for provider calls, and sync's default options.
    pub fn new(secrets: SecretsOpener) -> Self {
        Self { secrets, http: Arc::new(HttpRuntime::new()), sync: SyncOptions::default() }
    }

    /// A fresh in-memory secret store and the defaults, for tests and throwaway Cores.
    pub fn in_memory() -> Self {
        Self::new(memory_secrets())
    }
}

impl std::fmt::Debug for CoreServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreServices").field("http", &self.http).field("sync", &self.sync).finish_non_exhaustive()
    }
}

/// A fresh in-memory secret store as a [`SecretsOpener`].
fn memory_secrets() -> SecretsOpener {
    let store: Arc<dyn SecretStore> = Arc::new(hearth_secrets::MemoryStore::new());
    Arc::new(move || Ok(store.clone()))
}
