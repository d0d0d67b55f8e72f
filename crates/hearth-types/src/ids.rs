//! UUIDv7 newtypes for the synced entities.
//!
//! Ids are made on the device that creates the row (so a retried push never duplicates it)
//! and are time-ordered (so the newest rows sort last and B-tree inserts stay at the end).
//! Each entity gets its own type so a chat id can never be passed where a message id belongs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ValidationError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses user input, naming `field` when it is not a UUID.
            pub fn parse_field(s: &str, field: &'static str) -> Result<Self, ValidationError> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| ValidationError::new(field, format!("{s:?} is not a valid id (a UUID)")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_field(s, $field)
            }
        }
    };
}

id_type!(
    /// Identifies a workspace.
    WorkspaceId, "workspace_id"
);
id_type!(
    /// Identifies a chat.
    ChatId, "chat_id"
);
id_type!(
    /// Identifies a message.
    MessageId, "message_id"
);
id_type!(
    /// Identifies a registered local model file.
    ModelId, "model_id"
);
id_type!(
    /// Identifies a workflow.
    WorkflowId, "workflow_id"
);
id_type!(
    /// Identifies one run of a workflow.
    RunId, "run_id"
);
id_type!(
    /// Identifies a background job.
    JobId, "job_id"
);
id_type!(
    /// Identifies a document in a workspace's knowledge.
    DocumentId, "document_id"
);
