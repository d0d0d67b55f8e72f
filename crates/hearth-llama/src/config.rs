//! What the engine is told and what it reports: its configuration, the models it can load
//! and how a name becomes one, and its status. Shared by the handle (`engine.rs`) and the
//! worker thread (`worker.rs`), which otherwise know nothing of each other's insides.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hearth_llm::LlmError;

/// How the engine runs models.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// CPU threads for decoding; `None` uses every core.
    pub threads: Option<u32>,
    /// How many requests can be decoded together (sequences in one batch).
    pub slots: u32,
    /// Context length per request; `None` picks what the model and memory allow.
    pub context_per_slot: Option<u32>,
    /// Most tokens in one decode step (prompt chunks plus one token per generating request).
    pub batch_size: u32,
    /// Unload the model after this long without requests.
    pub keep_alive: Duration,
    /// Reuse the cached prefix a new prompt shares with an earlier one.
    pub prefix_cache: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { threads: None, slots: 4, context_per_slot: None, batch_size: 512, keep_alive: Duration::from_secs(300), prefix_cache: true }
    }
}

/// A model the engine can load: its registry name and its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    pub name: String,
    pub path: PathBuf,
}

/// Turns a model name from a request into a file (the registry lives in the store).
pub type Resolver = Arc<dyn Fn(&str) -> Result<ModelSpec, LlmError> + Send + Sync>;

/// What the engine holds right now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStatus {
    pub loaded: Option<String>,
    pub context_per_slot: u32,
    pub slots: u32,
    pub active_requests: u32,
}
