//! What callers hand in to create or change things. Fields are already-validated types, so
//! the store and Core never see a raw handle or timezone; optional fields in a patch mean
//! "leave as is".

use serde_json::{Map, Value};

use crate::{ChatId, Handle, MessageId, MessageStatus, ModelSource, Role, Timezone, ValidationError, WorkspaceId};

/// A new workspace. `name` must not be blank (see [`NewWorkspace::new`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NewWorkspace {
    pub name: String,
    pub handle: Handle,
    pub description: String,
    pub tone: String,
    pub timezone: Timezone,
    pub system_prompt: String,
    pub knowledge_base: String,
    pub default_model: Option<String>,
    pub settings: Map<String, Value>,
}

impl NewWorkspace {
    /// A workspace with a name and handle and every other field at its default.
    pub fn new(name: &str, handle: Handle) -> Result<Self, ValidationError> {
        Ok(Self {
            name: non_blank("name", name)?,
            handle,
            description: String::new(),
            tone: String::new(),
            timezone: Timezone::utc(),
            system_prompt: String::new(),
            knowledge_base: String::new(),
            default_model: None,
            settings: Map::new(),
        })
    }
}

impl NewWorkspace {
    /// Takes every field the patch sets (its name and handle aside: a new workspace has
    /// its own); the others keep their defaults.
    pub fn with_fields(self, patch: WorkspacePatch) -> Self {
        Self {
            description: patch.description.unwrap_or(self.description),
            tone: patch.tone.unwrap_or(self.tone),
            timezone: patch.timezone.unwrap_or(self.timezone),
            system_prompt: patch.system_prompt.unwrap_or(self.system_prompt),
            knowledge_base: patch.knowledge_base.unwrap_or(self.knowledge_base),
            default_model: patch.default_model.unwrap_or(self.default_model),
            settings: patch.settings.unwrap_or(self.settings),
            ..self
        }
    }
}

/// Changes to a workspace; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    pub handle: Option<Handle>,
    pub description: Option<String>,
    pub tone: Option<String>,
    pub timezone: Option<Timezone>,
    pub system_prompt: Option<String>,
    pub knowledge_base: Option<String>,
    /// `Some(None)` clears the default model.
    pub default_model: Option<Option<String>>,
    pub settings: Option<Map<String, Value>>,
}

/// A new chat in a workspace.
#[derive(Clone, Debug, PartialEq)]
pub struct NewChat {
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub model: Option<String>,
}

/// Changes to a chat; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatPatch {
    pub title: Option<String>,
    /// `Some(None)` goes back to the workspace's default model.
    pub model: Option<Option<String>>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
}

/// A message to add under `parent_id` (`None`: a root message).
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub parent_id: Option<MessageId>,
    pub role: Role,
    pub content: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub status: MessageStatus,
    /// A client-chosen key: sending again with the same key in the same chat returns the
    /// first message instead of adding another.
    pub idempotency_key: Option<String>,
    /// A `tool` message's call (see [`crate::Message::tool_call_id`]).
    pub tool_call_id: Option<String>,
}

impl NewMessage {
    /// A finished message with no model or key, the common case for text a person wrote.
    pub fn new(chat_id: ChatId, parent_id: Option<MessageId>, role: Role, content: impl Into<String>) -> Self {
        Self {
            chat_id,
            parent_id,
            role,
            content: content.into(),
            model: None,
            provider: None,
            status: MessageStatus::Complete,
            idempotency_key: None,
            tool_call_id: None,
        }
    }
}

/// Changes to a message as a reply streams and ends; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessagePatch {
    pub content: Option<String>,
    pub status: Option<MessageStatus>,
    pub error: Option<Option<String>>,
    pub model: Option<Option<String>>,
    pub provider: Option<Option<String>>,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub latency_ms: Option<u64>,
    pub notice: Option<Option<String>>,
    pub citations: Option<Vec<crate::Citation>>,
    pub tool_calls: Option<Vec<crate::ToolCall>>,
}

/// Trims `value` and rejects it when nothing is left.
pub fn non_blank(field: &'static str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() { Err(ValidationError::new(field, "must not be empty")) } else { Ok(v.to_owned()) }
}

/// A model file to register, described by its header (read by `hearth-llama`).
#[derive(Clone, Debug, PartialEq)]
pub struct NewModel {
    pub name: String,
    pub path: std::path::PathBuf,
    pub size: u64,
    pub sha256: String,
    pub architecture: String,
    pub parameters: u64,
    pub quantization: String,
    pub context_length: Option<u64>,
    pub chat_template: Option<String>,
    pub source: ModelSource,
}

/// A model name: 1 to 128 characters of letters, digits, `.`, `_`, `-` and `:`, which keeps
/// names usable in URLs and on command lines.
pub fn model_name(name: &str) -> Result<String, ValidationError> {
    let ok = !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ValidationError::new("name", format!("{name:?} is not a model name: use letters, digits, '.', '_', '-' or ':'")))
    }
}
