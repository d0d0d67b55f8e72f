//! Hearth's core: the one facade every surface (CLI, HTTP API, desktop shell) calls.
//!
//! [`Core`] owns the store and turns user intentions into store actions: create a workspace,
//! continue a chat, edit a message into a new branch, search. Inputs arrive already typed
//! (the edges parse handles, ids and timezones with `hearth-types`), and each use case runs as
//! one store action, so it commits (with its outbox rows) or changes nothing.
//!
//! Core names no foreign system: no SQLite, no HTTP, no model runtime, no keychain. It reaches
//! them through their adapter crates (`hearth-store`, `hearth-sync`, `hearth-sandbox`) or is
//! handed them: the model a reply runs on (`&dyn ChatModel`), its [`CoreServices`] at
//! [`Core::open`] (the secret store, opened on first use, which `hearth_host::open_core`
//! makes the OS keychain; the providers' HTTP runtime; sync's options), and a workflow run's
//! models and HTTP client (`workflow::Services`).

mod error;
mod jobs;
mod knowledge;
mod mcp;
mod models;
mod providers;
mod reply;
mod router;
mod services;
mod sync;
mod tools;
pub mod workflow;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use hearth_store::{OpenOptions, Store};
use hearth_types::{
    Chat, ChatId, ChatPatch, Handle, Message, MessageId, MessagePatch, MessageStatus, NewChat, NewMessage, NewWorkspace, Role, SearchHit,
    Thread, ValidationError, Workspace, WorkspaceId, WorkspacePatch, non_blank,
};

pub use error::{Error, ErrorCode, Result};
pub use jobs::{JobContext, JobOutcome, JobRunner, STALE as JOB_STALE, Stopped};
pub use knowledge::{EMBEDDING_SETTING, Embedder, MAX_FILE_BYTES, MAX_FILES, MAX_TEXT_BYTES, Retrieval};
pub use mcp::{McpLaunch, McpServer, McpTransport, NewMcpServer, check_server_name};

/// The setting that holds how long an idle local model stays loaded, in whole seconds.
pub const KEEP_ALIVE_SETTING: &str = "model_keep_alive_secs";
/// The setting that, when `true`, lets every workflow http node reach local and private
/// network addresses (read when a run starts; a node can also allow it for itself).
pub const ALLOW_LOCAL_NETWORK_SETTING: &str = "workflows.allow_local_network";
/// Whether other agents may use Hearth's MCP tools that change things (running a
/// workflow); off unless the user turns it on. Read by `hearth-mcp` when a session starts.
pub const MCP_WRITES_SETTING: &str = "mcp.allow_writes";
pub use hearth_secrets::{Secret, SecretError, SecretStore};
pub use hearth_store::{Appended, SCHEMA_VERSION, sqlite_version};
pub use providers::since_days;
pub use reply::{KNOWLEDGE_SETTING, Reply, ReplyRequest, ReplyStep, StartedReply, knowledge_enabled};
pub use router::{ModelEntry, ModelRouter, Target};
pub use services::{CoreServices, SecretsOpener};
pub use sync::{
    SupabaseDatabase, SupabasePlaintext, SyncEndpoints, SyncEngine, SyncError, SyncLocalData, SyncOptions, SyncProgress, SyncRound,
    SyncStatus, supabase_schema,
};
pub use tools::{
    ALLOWED_TOOLS_SETTING, Approval, ApprovalRequest, Approver, FETCH_TOOL_SETTING, MAX_ROUNDS as MAX_TOOL_ROUNDS, NoApprover,
    RESULT_BYTES as TOOL_RESULT_BYTES, ServerHealth, TOOLS_SETTING, ToolHost, ToolOutput, ToolSpec, check_arguments, tools_enabled,
};

/// Settings Core keeps itself; writing them as plain settings would bypass their checks.
const RESERVED_SETTINGS: &[&str] = &["default_model", workflow::SECRET_NAMES_SETTING, mcp::SERVERS_SETTING];

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "hearth.db";

/// Where Core keeps its data and how patient it is with a locked database.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub data_dir: PathBuf,
    pub busy_timeout: Duration,
}

impl CoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into(), busy_timeout: OpenOptions::default().busy_timeout }
    }
}

/// A workspace named the way people name it: by id or by handle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkspaceRef {
    Id(WorkspaceId),
    Handle(Handle),
}

impl FromStr for WorkspaceRef {
    type Err = ValidationError;
    /// A UUID is an id; anything else must be a valid handle.
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        match WorkspaceId::from_str(s) {
            Ok(id) => Ok(WorkspaceRef::Id(id)),
            Err(_) => Handle::parse(s).map(WorkspaceRef::Handle).map_err(|e| ValidationError::new("workspace", e.reason)),
        }
    }
}

/// What a person (or a script) adds to a chat.
#[derive(Clone, Debug, PartialEq)]
pub struct AddMessage {
    pub role: Role,
    pub content: String,
    /// Where in the tree: `None` continues the branch on screen (the chat's active leaf).
    pub parent_id: Option<MessageId>,
    pub idempotency_key: Option<String>,
}

impl AddMessage {
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into(), parent_id: None, idempotency_key: None }
    }

    /// Refuses empty content and a blank idempotency key (trimming the key).
    fn checked(&self) -> Result<Self> {
        if self.content.trim().is_empty() {
            return Err(ValidationError::new("content", "must not be empty").into());
        }
        let key = self.idempotency_key.as_deref().map(|k| non_blank("idempotency_key", k)).transpose()?;
        Ok(Self { idempotency_key: key, ..self.clone() })
    }
}

/// Appends a checked message inside a store action. Without an explicit parent it continues
/// the branch on screen, read in the same transaction.
fn append(w: &mut hearth_store::Writer<'_>, chat: ChatId, add: &AddMessage) -> hearth_store::Result<Appended> {
    let parent_id = match add.parent_id {
        Some(p) => Some(p),
        None => w.read().chat(chat)?.active_leaf_id,
    };
    let new =
        NewMessage { idempotency_key: add.idempotency_key.clone(), ..NewMessage::new(chat, parent_id, add.role, add.content.clone()) };
    w.append_message(&new)
}

/// The workspace setting that names its fallback chain: models to try, in order, when the
/// chat's model fails before answering (`["openai/gpt-4o-mini", "gemma-3-270m"]`).
pub const FALLBACK_SETTING: &str = "fallback_models";

/// A workspace's fallback chain, from its settings.
pub fn fallback_models(settings: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    settings
        .get(FALLBACK_SETTING)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|m| m.as_str()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Refuses a fallback chain that is not a list of model names, a knowledge or tools switch
/// that is not a boolean, and an embedding model that is not a provider's.
fn check_settings(settings: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
    if let Some(chain) = settings.get(FALLBACK_SETTING) {
        let ok = chain.as_array().is_some_and(|a| a.iter().all(|m| m.as_str().is_some_and(|m| !m.trim().is_empty())));
        if !ok {
            return Err(ValidationError::new("settings", format!("{FALLBACK_SETTING} must be a list of model names")).into());
        }
    }
    for switch in [reply::KNOWLEDGE_SETTING, tools::TOOLS_SETTING] {
        if settings.get(switch).is_some_and(|v| !v.is_boolean()) {
            return Err(ValidationError::new("settings", format!("{switch} must be true or false")).into());
        }
    }
    knowledge::check_embedding_setting(settings.get(knowledge::EMBEDDING_SETTING))?;
    Ok(())
}

/// The state of the local database, for `hearth doctor` and the status API.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StoreStatus {
    pub path: PathBuf,
    pub schema_version: u32,
    /// Problems SQLite's integrity check found; empty when the file is sound.
    pub integrity_problems: Vec<String>,
    pub pending_changes: u64,
}

/// The facade. Cheap to share behind an `Arc`; every method is safe to call from any thread.
pub struct Core {
    store: std::sync::Arc<Store>,
    secrets: std::sync::OnceLock<std::result::Result<std::sync::Arc<dyn hearth_secrets::SecretStore>, hearth_secrets::SecretError>>,
    open_secrets: SecretsOpener,
    remotes: providers::Remotes,
    sync_options: SyncOptions,
    sync: std::sync::OnceLock<std::sync::Arc<SyncEngine>>,
    /// The model that embeds knowledge, once the composition root hands one over.
    embedder: std::sync::RwLock<Option<knowledge::Embedder>>,
    /// Each recently searched workspace's chunk vectors, in memory (`knowledge/vectors.rs`).
    vectors: knowledge::VectorCache,
    /// The data folder (`None` for an in-memory Core): where uploaded documents are kept.
    data_dir: Option<PathBuf>,
    /// The jobs this process runs now, each with its stop flag (`jobs.rs`).
    jobs: std::sync::Mutex<std::collections::HashMap<hearth_types::JobId, std::sync::Arc<std::sync::atomic::AtomicU8>>>,
    /// The tools replies may call, once the composition root attaches them (`tools.rs`).
    tools: std::sync::RwLock<Option<std::sync::Arc<dyn ToolHost>>>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("store", &self.store).field("secrets", &self.secrets.get()).finish_non_exhaustive()
    }
}

impl Core {
    /// Opens (creating if needed) the data directory and its database, with the services the
    /// entry point picked (`hearth_host::open_core` gives the OS keychain): Core names no
    /// keychain itself.
    pub fn open(config: &CoreConfig, services: CoreServices) -> Result<Self> {
        let options = OpenOptions { busy_timeout: config.busy_timeout, backup_dir: Some(config.data_dir.join("backups")) };
        let store = Store::open_with(config.data_dir.join(DATABASE_FILE), &options)?;
        tracing::info!(db = %store.path().display(), "opened the store");
        Ok(Self { data_dir: Some(config.data_dir.clone()), ..Self::over(store, services) })
    }

    /// A Core over a private in-memory database and a memory secret store, for tests.
    pub fn in_memory() -> Result<Self> {
        Ok(Self::over(Store::open_in_memory()?, CoreServices::in_memory()))
    }

    fn over(store: Store, services: CoreServices) -> Self {
        let CoreServices { secrets, http, sync } = services;
        Self {
            store: std::sync::Arc::new(store),
            secrets: std::sync::OnceLock::new(),
            open_secrets: secrets,
            remotes: providers::Remotes::new(http),
            sync_options: sync,
            sync: std::sync::OnceLock::new(),
            jobs: std::sync::Mutex::default(),
            embedder: std::sync::RwLock::default(),
            data_dir: None,
            vectors: knowledge::VectorCache::default(),
            tools: std::sync::RwLock::default(),
        }
    }

    pub fn database_path(&self) -> &Path {
        self.store.path()
    }

    // ------------------------------------------------------------ workspaces

    pub fn create_workspace(&self, new: &NewWorkspace) -> Result<Workspace> {
        let new = NewWorkspace { name: non_blank("name", &new.name)?, ..new.clone() };
        check_settings(&new.settings)?;
        Ok(self.store.write(|w| w.create_workspace(&new))?)
    }

    pub fn workspaces(&self) -> Result<Vec<Workspace>> {
        Ok(self.store.read(|r| r.workspaces())?)
    }

    pub fn workspace(&self, ws: &WorkspaceRef) -> Result<Workspace> {
        Ok(self.store.read(|r| match ws {
            WorkspaceRef::Id(id) => r.workspace(*id),
            WorkspaceRef::Handle(h) => r.workspace_by_handle(h),
        })?)
    }

    pub fn update_workspace(&self, ws: &WorkspaceRef, patch: &WorkspacePatch) -> Result<Workspace> {
        let mut patch = patch.clone();
        patch.name = patch.name.map(|n| non_blank("name", &n)).transpose()?;
        if let Some(settings) = &patch.settings {
            check_settings(settings)?;
        }
        let id = self.workspace(ws)?.id;
        Ok(self.store.write(|w| w.update_workspace(id, &patch))?)
    }

    pub fn rename_workspace(&self, ws: &WorkspaceRef, name: &str) -> Result<Workspace> {
        self.update_workspace(ws, &WorkspacePatch { name: Some(name.to_owned()), ..Default::default() })
    }

    /// Deletes the workspace and its chats.
    pub fn delete_workspace(&self, ws: &WorkspaceRef) -> Result<()> {
        let id = self.workspace(ws)?.id;
        Ok(self.store.write(|w| w.delete_workspace(id))?)
    }

    // ------------------------------------------------------------ chats

    pub fn create_chat(&self, ws: &WorkspaceRef, title: &str, model: Option<String>) -> Result<Chat> {
        let workspace_id = self.workspace(ws)?.id;
        let new = NewChat { workspace_id, title: title.trim().to_owned(), model };
        Ok(self.store.write(|w| w.create_chat(&new))?)
    }

    /// The chats of a workspace, pinned first, then most recently active.
    pub fn chats(&self, ws: &WorkspaceRef, include_archived: bool) -> Result<Vec<Chat>> {
        let id = self.workspace(ws)?.id;
        Ok(self.store.read(|r| r.chats(id, include_archived))?)
    }

    pub fn chat(&self, id: ChatId) -> Result<Chat> {
        Ok(self.store.read(|r| r.chat(id))?)
    }

    pub fn update_chat(&self, id: ChatId, patch: &ChatPatch) -> Result<Chat> {
        let mut patch = patch.clone();
        patch.title = patch.title.map(|t| t.trim().to_owned());
        Ok(self.store.write(|w| w.update_chat(id, &patch))?)
    }

    pub fn rename_chat(&self, id: ChatId, title: &str) -> Result<Chat> {
        self.update_chat(id, &ChatPatch { title: Some(title.to_owned()), ..Default::default() })
    }

    pub fn delete_chat(&self, id: ChatId) -> Result<()> {
        Ok(self.store.write(|w| w.delete_chat(id))?)
    }

    // ------------------------------------------------------------ messages

    /// Adds a message. Without an explicit parent it continues the branch on screen, decided
    /// inside the same transaction so two quick sends cannot both attach to the same leaf.
    pub fn add_message(&self, chat: ChatId, add: &AddMessage) -> Result<Appended> {
        let add = add.checked()?;
        Ok(self.store.write(|w| append(w, chat, &add))?)
    }

    /// Edits a message the only way Hearth does: as a new sibling branch with the new text,
    /// which becomes the branch on screen. The original stays, one `<` away.
    pub fn edit_message(&self, id: MessageId, content: &str) -> Result<Message> {
        if content.trim().is_empty() {
            return Err(ValidationError::new("content", "must not be empty").into());
        }
        Ok(self.store.write(|w| {
            let original = w.read().message(id)?;
            let new = NewMessage {
                model: original.model.clone(),
                provider: original.provider.clone(),
                status: MessageStatus::Complete,
                ..NewMessage::new(original.chat_id, original.parent_id, original.role, content)
            };
            Ok(w.append_message(&new)?.message)
        })?)
    }

    /// Changes a reply in place as it streams and finishes.
    pub fn update_message(&self, id: MessageId, patch: &MessagePatch) -> Result<Message> {
        Ok(self.store.write(|w| w.update_message(id, patch))?)
    }

    /// Deletes a message and the replies under it.
    pub fn delete_message(&self, id: MessageId) -> Result<()> {
        Ok(self.store.write(|w| w.delete_message(id))?)
    }

    pub fn message(&self, id: MessageId) -> Result<Message> {
        Ok(self.store.read(|r| r.message(id))?)
    }

    /// The chat along the branch on screen, root first.
    pub fn thread(&self, chat: ChatId) -> Result<Thread> {
        Ok(self.store.read(|r| r.thread(chat))?)
    }

    /// Shows the branch through `message` (the `<`/`>` switcher).
    pub fn switch_branch(&self, chat: ChatId, message: MessageId) -> Result<Thread> {
        Ok(self.store.write(|w| w.switch_branch(chat, message))?)
    }

    /// `message` and its siblings, oldest first (the branches of the `< 2/3 >` switcher).
    pub fn siblings(&self, message: MessageId) -> Result<Vec<Message>> {
        Ok(self.store.read(|r| r.siblings(message))?)
    }

    /// The model that answers in a chat: the chat's own, else its workspace's default, else
    /// the default model.
    pub fn reply_model(&self, chat: ChatId) -> Result<String> {
        let chat = self.chat(chat)?;
        if let Some(m) = chat.model.filter(|m| !m.is_empty()) {
            return Ok(m);
        }
        let ws = self.workspace(&WorkspaceRef::Id(chat.workspace_id))?;
        if let Some(m) = ws.default_model.filter(|m| !m.is_empty()) {
            return Ok(m);
        }
        self.default_model()?.map(|m| m.name).ok_or_else(|| hearth_llm::LlmError::NoDefaultModel.into())
    }

    // ------------------------------------------------------------ search and status

    /// Messages matching `query`, best first.
    pub fn search(&self, query: &str, ws: Option<&WorkspaceRef>, limit: u32) -> Result<Vec<SearchHit>> {
        let scope = ws.map(|w| self.workspace(w)).transpose()?.map(|w| w.id);
        let limit = limit.clamp(1, 500);
        Ok(self.store.read(|r| r.search(query, scope, limit))?)
    }

    /// Local settings (they never sync), by key.
    pub fn settings(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        Ok(self.store.read(|r| r.settings())?)
    }

    pub fn set_setting(&self, key: &str, value: &serde_json::Value) -> Result<()> {
        let key = non_blank("key", key)?;
        if RESERVED_SETTINGS.contains(&key.as_str()) {
            return Err(ValidationError::new(
                "key",
                format!(
                    "{key:?} is managed by Hearth (the default model through the models API, workflow secrets through the secrets API)"
                ),
            )
            .into());
        }
        if [ALLOW_LOCAL_NETWORK_SETTING, MCP_WRITES_SETTING, FETCH_TOOL_SETTING].contains(&key.as_str()) && !value.is_boolean() {
            return Err(ValidationError::new("value", format!("{key} must be true or false")).into());
        }
        tools::check_setting(&key, value)?;
        Ok(self.store.write(|w| w.set_setting(&key, value))?)
    }

    /// Schema version, integrity and pending changes of the database.
    pub fn store_status(&self) -> Result<StoreStatus> {
        Ok(StoreStatus {
            path: self.store.path().to_owned(),
            schema_version: self.store.schema_version()?,
            integrity_problems: self.store.integrity_check()?,
            pending_changes: self.store.read(|r| r.outbox_len())?,
        })
    }
}

#[cfg(test)]
mod tests;
