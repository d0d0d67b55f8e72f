//! Chats: create, change, delete and list (pinned first, then most recent activity).

use hearth_types::{Chat, ChatId, ChatPatch, MessageId, NewChat, WorkspaceId};
use rusqlite::{OptionalExtension, Row};

use crate::rows::{Val, get_id, get_opt, get_opt_id, get_time};
use crate::writer::Table;
use crate::{Error, Reader, Result, Writer};

// A chat is visible only while its workspace is: deleting a workspace hides its chats even
// before (or without) each chat's own tombstone reaching this device through sync.
const SELECT: &str = "SELECT c.id, c.workspace_id, c.title, c.model, c.pinned, c.archived, c.active_leaf_id, \
                      c.activity_at, c.created_at, c.updated_at \
                      FROM chats c JOIN workspaces w ON w.id = c.workspace_id \
                      WHERE c.deleted_at IS NULL AND w.deleted_at IS NULL";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Chat> {
    Ok(Chat {
        id: get_id(row, "id")?,
        workspace_id: get_id(row, "workspace_id")?,
        title: row.get("title")?,
        model: get_opt(row, "model")?,
        pinned: row.get("pinned")?,
        archived: row.get("archived")?,
        active_leaf_id: get_opt_id(row, "active_leaf_id")?,
        activity_at: get_time(row, "activity_at")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

impl Writer<'_> {
    pub fn create_chat(&mut self, new: &NewChat) -> Result<Chat> {
        self.read().workspace(new.workspace_id)?;
        let id = ChatId::new();
        let now = self.now_ms();
        self.insert(
            Table::Chats,
            &id.to_string(),
            &[
                ("workspace_id", Val::Text(new.workspace_id.to_string())),
                ("title", Val::Text(new.title.clone())),
                ("model", Val::OptText(new.model.clone())),
                ("pinned", Val::Bool(false)),
                ("archived", Val::Bool(false)),
            ],
            &[("activity_at", Val::Time(Some(now)))],
        )?;
        tracing::debug!(chat = %id, workspace = %new.workspace_id, "created chat");
        self.read().chat(id)
    }

    pub fn update_chat(&mut self, id: ChatId, patch: &ChatPatch) -> Result<Chat> {
        self.read().chat(id)?;
        let fields: Vec<(&str, Val)> = [
            patch.title.clone().map(|t| ("title", Val::Text(t))),
            patch.model.clone().map(|m| ("model", Val::OptText(m))),
            patch.pinned.map(|p| ("pinned", Val::Bool(p))),
            patch.archived.map(|a| ("archived", Val::Bool(a))),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.update(Table::Chats, &id.to_string(), &fields)?;
        self.read().chat(id)
    }

    pub fn delete_chat(&mut self, id: ChatId) -> Result<()> {
        self.read().chat(id)?;
        self.tombstone(Table::Chats, &id.to_string())
    }

    /// Points the chat at the branch ending in `leaf`. This is view state: it stays local.
    pub(crate) fn set_active_leaf(&mut self, chat: ChatId, leaf: Option<MessageId>) -> Result<()> {
        self.conn()
            .prepare_cached("UPDATE chats SET active_leaf_id = ?2 WHERE id = ?1")?
            .execute((chat.to_string(), leaf.map(|l| l.to_string())))?;
        Ok(())
    }
}

impl Reader<'_> {
    pub fn chat(&self, id: ChatId) -> Result<Chat> {
        self.conn
            .prepare_cached(&format!("{SELECT} AND c.id = ?1"))?
            .query_row([id.to_string()], from_row)
            .optional()?
            .ok_or_else(|| Error::not_found("chat_id", "chat", id))
    }

    /// The chats of a workspace: pinned first, then by most recent activity.
    pub fn chats(&self, workspace: WorkspaceId, include_archived: bool) -> Result<Vec<Chat>> {
        self.workspace(workspace)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT} AND c.workspace_id = ?1 AND (?2 OR c.archived = 0) \
             ORDER BY c.pinned DESC, c.activity_at DESC, c.id DESC"
        ))?;
        Ok(stmt.query_map((workspace.to_string(), include_archived), from_row)?.collect::<rusqlite::Result<_>>()?)
    }
}
