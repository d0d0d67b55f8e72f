//! The records Hearth stores and shows: workspaces, chats, messages, threads, search hits and
//! local models (providers and workflows have modules of their own).
//!
//! These are read models: the store builds them, Core returns them, the CLI and the API
//! serialize them. Sync bookkeeping (`field_hlc`, outbox rows) stays inside the store.

use serde::{Deserialize, Serialize};

use crate::{ChatId, Handle, MessageId, MessageStatus, ModelId, Role, Timestamp, Timezone, WorkspaceId};

/// A workspace: a named context for chats with its own prompt, tone and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub handle: Handle,
    pub description: String,
    pub tone: String,
    pub timezone: Timezone,
    pub system_prompt: String,
    pub knowledge_base: String,
    pub default_model: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A chat in a workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Chat {
    pub id: ChatId,
    pub workspace_id: WorkspaceId,
    pub title: String,
    pub model: Option<String>,
    pub pinned: bool,
    pub archived: bool,
    /// The last message of the branch the user is looking at; `None` for an empty chat.
    pub active_leaf_id: Option<MessageId>,
    /// When the chat last changed or got a message; chat lists sort on it.
    pub activity_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One message. Messages form a tree through `parent_id`: an edit or a regeneration adds a
/// sibling, never overwrites.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub parent_id: Option<MessageId>,
    pub role: Role,
    pub content: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub latency_ms: Option<u64>,
    pub idempotency_key: Option<String>,
    /// Why another model than the one asked answered (a fallback chain moved on).
    pub notice: Option<String>,
    /// The knowledge passages the reply was given, numbered as it cites them.
    #[serde(default)]
    pub citations: Vec<crate::Citation>,
    /// The tools an assistant message called; their answers are the `tool` messages under it.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// A `tool` message answers this call (of an assistant message above it).
    #[serde(default)]
    pub tool_call_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A call a model made to a tool. `arguments` is the JSON text of the arguments object, as
/// the model wrote it (OpenAI's API carries it the same way): whoever runs the tool parses and
/// checks it, and a call whose arguments are broken is still a call the model made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A message on the active branch, with where it sits among its siblings (`< 2/3 >`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BranchMessage {
    #[serde(flatten)]
    pub message: Message,
    /// 0-based position among the messages that share its parent, oldest first.
    pub sibling_index: u32,
    pub sibling_count: u32,
}

/// A chat read along its active branch, root first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thread {
    pub chat: Chat,
    pub messages: Vec<BranchMessage>,
}

/// An excerpt of a message around the matched terms. `highlights` are byte ranges into `text`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snippet {
    pub text: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<u64>>))]
    pub highlights: Vec<(usize, usize)>,
}

/// One search result, best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    pub message_id: MessageId,
    pub chat_id: ChatId,
    pub chat_title: String,
    pub workspace_id: WorkspaceId,
    pub role: Role,
    pub snippet: Snippet,
    /// BM25 score as SQLite reports it: lower is better.
    pub rank: f64,
    pub created_at: Timestamp,
}

crate::text_enum! {
    /// Where a registered model came from.
    pub enum ModelSource: "source" {
        /// The default model (`make run` or `hearth models fetch` fetches it), registered on first start.
        Default = "default",
        /// A file the user imported.
        Import = "import",
    }
}

/// A GGUF model file on this device, as its header describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalModel {
    pub id: ModelId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub path: std::path::PathBuf,
    pub size: u64,
    pub sha256: String,
    pub architecture: String,
    pub parameters: u64,
    pub quantization: String,
    pub context_length: Option<u64>,
    pub chat_template: Option<String>,
    pub source: ModelSource,
    pub created_at: Timestamp,
    /// Whether this is the default model for new chats.
    pub is_default: bool,
}
