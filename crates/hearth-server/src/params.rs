//! Ids in paths and bodies, parsed into Hearth's types: a malformed one is a 400 naming the
//! field at fault.

use hearth_core::WorkspaceRef;
use hearth_types::{ChatId, MessageId};

use crate::error::ApiResult;

/// A workspace's id or handle.
pub(crate) fn workspace_ref(s: &str) -> ApiResult<WorkspaceRef> {
    Ok(s.parse::<WorkspaceRef>()?)
}

pub(crate) fn chat_id(s: &str) -> ApiResult<ChatId> {
    Ok(ChatId::parse_field(s, "chat_id")?)
}

pub(crate) fn message_id(s: &str) -> ApiResult<MessageId> {
    Ok(MessageId::parse_field(s, "message_id")?)
}
