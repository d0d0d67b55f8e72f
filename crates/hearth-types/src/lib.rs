//! Hearth's domain nouns: typed ids, validated values, records and the hybrid logical clock.
//!
//! Everything here is plain data plus validation. There is no IO, no clock read and no
//! randomness outside [`NodeId::random`] and the id constructors, so every other crate can
//! depend on this one without pulling in a foreign system. Values that cross a boundary
//! (a handle typed by a user, a timezone read from a request) become these types at the edge
//! and stay valid from then on.

mod backoff;
mod catalog;
mod error;
mod hlc;
mod ids;
mod inputs;
mod knowledge;
mod net;
#[cfg(feature = "openapi")]
mod openapi;
mod providers;
mod records;
mod secret;
mod text_enum;
mod values;
mod workflows;

pub use backoff::backoff;
pub use catalog::{CatalogModel, DEFAULT_MODEL, EMBEDDING_MODEL};
pub use error::ValidationError;
pub use hlc::{Hlc, NodeId};
pub use ids::{ChatId, DocumentId, JobId, MessageId, ModelId, RunId, WorkflowId, WorkspaceId};
pub use inputs::{ChatPatch, MessagePatch, NewChat, NewMessage, NewModel, NewWorkspace, WorkspacePatch, model_name, non_blank};
pub use knowledge::{ChunkEmbeddings, ChunkHit, Citation, DocFormat, Document, Job, JobKind, JobStatus, NewChunk, NewDocument};
pub use net::is_loopback_host;
pub use providers::{CallOutcome, KeyState, NewCall, NewProvider, Price, Provider, ProviderInfo, ProviderPatch, UsageRow, provider_name};
pub use records::{BranchMessage, Chat, LocalModel, Message, ModelSource, SearchHit, Snippet, Thread, ToolCall, Workspace};
pub use secret::Secret;
pub use values::{Handle, MessageStatus, Role, Timezone};
pub use workflows::{
    Edge, Graph, NewWorkflow, Node, NodeRun, NodeStatus, Position, Run, RunDetail, RunEvent, RunEventKind, RunStatus, Workflow,
    WorkflowPatch,
};

/// Time as Hearth records it: an instant in UTC, serialized as RFC 3339.
pub use jiff::Timestamp;
