//! Messages and the chat tree: append, change, delete, read a branch, switch branches.
//!
//! Messages form a tree per chat through `parent_id`. Appending makes the new message the
//! chat's active leaf; the thread a user sees is the path from the root to that leaf. Editing
//! or regenerating appends a sibling (a new branch) and never overwrites.
//!
//! Every walk of the tree is bounded (a visited set or [`MAX_THREAD_DEPTH`]): the tree arrives
//! from other devices too, and a loop in it must not hang the one connection the store has.

use std::collections::HashSet;

use hearth_types::{BranchMessage, ChatId, Message, MessageId, MessagePatch, NewMessage, Thread};
use rusqlite::{OptionalExtension, Row};

use crate::rows::{Val, get_id, get_json, get_opt, get_opt_id, get_parsed, get_time, get_u32};
use crate::sync::MAX_THREAD_DEPTH;
use crate::writer::Table;
use crate::{Error, Reader, Result, Writer};

const COLUMNS: &str = "m.id, m.chat_id, m.parent_id, m.role, m.content, m.model, m.provider, m.status, m.error, \
                       m.prompt_tokens, m.completion_tokens, m.latency_ms, m.idempotency_key, m.notice, \
                       m.citations, m.tool_calls, m.tool_call_id, m.created_at, m.updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: get_id(row, "id")?,
        chat_id: get_id(row, "chat_id")?,
        parent_id: get_opt_id(row, "parent_id")?,
        role: get_parsed(row, "role")?,
        content: row.get("content")?,
        model: get_opt(row, "model")?,
        provider: get_opt(row, "provider")?,
        status: get_parsed(row, "status")?,
        error: get_opt(row, "error")?,
        prompt_tokens: get_u32(row, "prompt_tokens")?,
        completion_tokens: get_u32(row, "completion_tokens")?,
        latency_ms: get_opt::<i64>(row, "latency_ms")?.map(|v| v.max(0) as u64),
        idempotency_key: get_opt(row, "idempotency_key")?,
        notice: get_opt(row, "notice")?,
        citations: get_json(row, "citations")?,
        tool_calls: get_json(row, "tool_calls")?,
        tool_call_id: get_opt(row, "tool_call_id")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

/// What [`Writer::append_message`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Appended {
    pub message: Message,
    /// `false` when an earlier message with the same idempotency key was returned instead.
    pub created: bool,
}

impl Writer<'_> {
    /// Adds a message under `new.parent_id` and makes it the chat's active leaf. With an
    /// idempotency key already used in this chat, returns the first message and changes
    /// nothing; reusing a key for a different message (another role or text) is a conflict,
    /// since it means the client mixed up its keys. The parent is not compared: a retry that
    /// continues "the branch on screen" resolves to a different parent once the first landed.
    pub fn append_message(&mut self, new: &NewMessage) -> Result<Appended> {
        if let Some(key) = &new.idempotency_key
            && let Some(first) = self.read().message_by_key(new.chat_id, key)?
        {
            if first.role != new.role || first.content != new.content {
                return Err(Error::Conflict {
                    field: "idempotency_key",
                    message: format!("{key:?} was already used for a different message in this chat"),
                });
            }
            return Ok(Appended { message: first, created: false });
        }
        self.read().chat(new.chat_id)?;
        if let Some(parent) = new.parent_id {
            let p = self.read().message(parent).map_err(|e| match e {
                Error::NotFound { .. } => Error::not_found("parent_id", "message", parent),
                other => other,
            })?;
            if p.chat_id != new.chat_id {
                return Err(Error::not_found("parent_id", "message in this chat", parent));
            }
        }
        let id = MessageId::new();
        self.insert(
            Table::Messages,
            &id.to_string(),
            &[
                ("chat_id", Val::Text(new.chat_id.to_string())),
                ("parent_id", Val::OptText(new.parent_id.map(|p| p.to_string()))),
                ("role", Val::Text(new.role.to_string())),
                ("content", Val::Text(new.content.clone())),
                ("model", Val::OptText(new.model.clone())),
                ("provider", Val::OptText(new.provider.clone())),
                ("status", Val::Text(new.status.to_string())),
                ("idempotency_key", Val::OptText(new.idempotency_key.clone())),
                ("tool_call_id", Val::OptText(new.tool_call_id.clone())),
            ],
            &[],
        )?;
        self.set_active_leaf(new.chat_id, Some(id))?;
        let now = crate::rows::ts(self.now_ms());
        let message = Message {
            id,
            chat_id: new.chat_id,
            parent_id: new.parent_id,
            role: new.role,
            content: new.content.clone(),
            model: new.model.clone(),
            provider: new.provider.clone(),
            status: new.status,
            error: None,
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: None,
            idempotency_key: new.idempotency_key.clone(),
            notice: None,
            citations: Vec::new(),
            tool_calls: Vec::new(),
            tool_call_id: new.tool_call_id.clone(),
            created_at: now,
            updated_at: now,
        };
        Ok(Appended { message, created: true })
    }

    /// Changes a message in place: for a reply as it streams and finishes (content, status,
    /// usage). An edit by the user is a new branch instead (see Core).
    pub fn update_message(&mut self, id: MessageId, patch: &MessagePatch) -> Result<Message> {
        self.read().message(id)?;
        let fields: Vec<(&str, Val)> = [
            patch.content.clone().map(|c| ("content", Val::Text(c))),
            patch.status.map(|s| ("status", Val::Text(s.to_string()))),
            patch.error.clone().map(|e| ("error", Val::OptText(e))),
            patch.model.clone().map(|m| ("model", Val::OptText(m))),
            patch.provider.clone().map(|p| ("provider", Val::OptText(p))),
            patch.prompt_tokens.map(|n| ("prompt_tokens", Val::Int(Some(n.into())))),
            patch.completion_tokens.map(|n| ("completion_tokens", Val::Int(Some(n.into())))),
            patch.latency_ms.map(|n| ("latency_ms", Val::Int(Some(n.min(i64::MAX as u64) as i64)))),
            patch.notice.clone().map(|n| ("notice", Val::OptText(n))),
            patch
                .citations
                .as_ref()
                .map(|c| ("citations", Val::Json(serde_json::to_value(c).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))))),
            patch
                .tool_calls
                .as_ref()
                .map(|c| ("tool_calls", Val::Json(serde_json::to_value(c).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))))),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.update(Table::Messages, &id.to_string(), &fields)?;
        self.read().message(id)
    }

    /// Deletes a message and everything under it (tombstones). When the chat was showing that
    /// branch, it moves to the newest branch that is left under the parent.
    pub fn delete_message(&mut self, id: MessageId) -> Result<()> {
        let message = self.read().message(id)?;
        let chat = self.read().chat(message.chat_id)?;
        let on_active_branch = match chat.active_leaf_id {
            Some(leaf) => self.read().path_to(leaf)?.contains(&id),
            None => false,
        };
        let subtree: Vec<String> = self
            .conn()
            .prepare_cached(
                // UNION, not UNION ALL: a message met twice (a loop in the tree) is not walked again.
                "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION \
                 SELECT m.id FROM messages m JOIN sub ON m.chat_id = ?2 AND m.parent_id = sub.id \
                 WHERE m.deleted_at IS NULL) \
                 SELECT id FROM sub",
            )?
            .query_map((id.to_string(), message.chat_id.to_string()), |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for m in &subtree {
            self.tombstone(Table::Messages, m)?;
        }
        if on_active_branch {
            let leaf = match message.parent_id {
                Some(parent) => Some(self.read().newest_leaf_under(chat.id, parent)?),
                None => self.read().newest_root(chat.id)?.map(|r| self.read().newest_leaf_under(chat.id, r)).transpose()?,
            };
            self.set_active_leaf(chat.id, leaf)?;
        }
        Ok(())
    }

    /// Shows the branch through `message`: the chat's active leaf becomes the newest leaf under it.
    pub fn switch_branch(&mut self, chat: ChatId, message: MessageId) -> Result<Thread> {
        self.read().chat(chat)?;
        let m = self.read().message(message)?;
        if m.chat_id != chat {
            return Err(Error::not_found("message_id", "message in this chat", message));
        }
        let leaf = self.read().newest_leaf_under(chat, message)?;
        self.set_active_leaf(chat, Some(leaf))?;
        self.read().thread(chat)
    }
}

impl Reader<'_> {
    /// A live message of a live chat.
    pub fn message(&self, id: MessageId) -> Result<Message> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages m JOIN chats c ON c.id = m.chat_id \
                 JOIN workspaces w ON w.id = c.workspace_id \
                 WHERE m.id = ?1 AND m.deleted_at IS NULL AND c.deleted_at IS NULL AND w.deleted_at IS NULL"
            ))?
            .query_row([id.to_string()], from_row)
            .optional()?
            .ok_or_else(|| Error::not_found("message_id", "message", id))
    }

    fn message_by_key(&self, chat: ChatId, key: &str) -> Result<Option<Message>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM messages m WHERE m.chat_id = ?1 AND m.idempotency_key = ?2"))?
            .query_row((chat.to_string(), key), from_row)
            .optional()?)
    }

    /// The live messages directly under `parent`, oldest first (its replies and their edits).
    pub fn children(&self, parent: MessageId) -> Result<Vec<Message>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages m WHERE m.parent_id = ?1 AND m.deleted_at IS NULL ORDER BY m.created_at, m.id"
        ))?;
        let rows = stmt.query_map([parent.to_string()], from_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// `id` and the live messages that share its parent, oldest first: the branches the
    /// `< 2/3 >` switcher steps through.
    pub fn siblings(&self, id: MessageId) -> Result<Vec<Message>> {
        let message = self.message(id)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages m WHERE m.chat_id = ?1 AND m.parent_id IS ?2 AND m.deleted_at IS NULL \
             ORDER BY m.created_at, m.id"
        ))?;
        let parent = message.parent_id.map(|p| p.to_string());
        let rows = stmt.query_map((message.chat_id.to_string(), parent), from_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The chat along its active branch, root first, each message with its sibling position.
    pub fn thread(&self, chat_id: ChatId) -> Result<Thread> {
        let chat = self.chat(chat_id)?;
        let Some(leaf) = chat.active_leaf_id else {
            return Ok(Thread { chat, messages: Vec::new() });
        };
        // First the ids up from the leaf (cheap, within the chat, bounded, each once even
        // through a loop an older version may have stored), then each message read once.
        let mut ids: Vec<MessageId> = self
            .conn
            .prepare_cached(&format!(
                "WITH RECURSIVE path(id, depth) AS (SELECT ?1, 0 UNION ALL \
                 SELECT m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.id \
                 WHERE m.parent_id IS NOT NULL AND m.chat_id = ?2 AND path.depth < {MAX_THREAD_DEPTH}) \
                 SELECT id FROM path ORDER BY depth"
            ))?
            .query_map((leaf.to_string(), chat_id.to_string()), |r| get_id(r, "id"))?
            .collect::<rusqlite::Result<_>>()?;
        ids.reverse();
        let ids = until_repeat(ids, |id| *id);
        let list = serde_json::Value::from(ids.iter().map(ToString::to_string).collect::<Vec<_>>()).to_string();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS}, \
                 (SELECT count(*) FROM messages s WHERE s.chat_id = m.chat_id AND s.parent_id IS m.parent_id \
                     AND s.deleted_at IS NULL AND (s.created_at, s.id) < (m.created_at, m.id)) AS sibling_index, \
                 (SELECT count(*) FROM messages s WHERE s.chat_id = m.chat_id AND s.parent_id IS m.parent_id \
                     AND s.deleted_at IS NULL) AS sibling_count \
             FROM json_each(?1) j JOIN messages m ON m.id = j.value \
             WHERE m.chat_id = ?2 AND m.deleted_at IS NULL ORDER BY j.key"
        ))?;
        let messages: Vec<BranchMessage> = stmt
            .query_map((list, chat_id.to_string()), |row| {
                Ok(BranchMessage {
                    message: from_row(row)?,
                    sibling_index: row.get("sibling_index")?,
                    sibling_count: row.get("sibling_count")?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Thread { chat, messages })
    }

    /// The live messages from the root down to `leaf` (a branch, whatever is on screen).
    pub fn branch_to(&self, leaf: MessageId) -> Result<Vec<Message>> {
        let mut ids = self.path_to(leaf)?;
        ids.reverse();
        ids.into_iter().map(|id| self.message(id)).collect()
    }

    /// The ids from `leaf` up to its root.
    fn path_to(&self, leaf: MessageId) -> Result<Vec<MessageId>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "WITH RECURSIVE path(id, depth) AS (SELECT ?1, 0 UNION ALL \
             SELECT m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.id \
             WHERE m.parent_id IS NOT NULL AND path.depth < {MAX_THREAD_DEPTH}) \
             SELECT id FROM path ORDER BY depth"
        ))?;
        let ids: Vec<MessageId> = stmt.query_map([leaf.to_string()], |r| get_id(r, "id"))?.collect::<rusqlite::Result<_>>()?;
        // Leaf first: reversed, the walk up ends at the first message met twice.
        let mut ids = until_repeat(ids.into_iter().rev().collect(), |id| *id);
        ids.reverse();
        Ok(ids)
    }

    /// Follows the newest live child from `from` down to a leaf. (Naming the chat lets each
    /// step use the `messages_tree` index.)
    fn newest_leaf_under(&self, chat: ChatId, from: MessageId) -> Result<MessageId> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM messages WHERE chat_id = ?1 AND parent_id = ?2 AND deleted_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )?;
        let chat = chat.to_string();
        let mut at = from;
        let mut passed = HashSet::from([from]);
        while let Some(child) = stmt.query_row((&chat, at.to_string()), |r| get_id(r, "id")).optional()? {
            if !passed.insert(child) || passed.len() > MAX_THREAD_DEPTH {
                break; // a loop in the tree: stop where it closes
            }
            at = child;
        }
        Ok(at)
    }

    fn newest_root(&self, chat: ChatId) -> Result<Option<MessageId>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM messages WHERE chat_id = ?1 AND parent_id IS NULL AND deleted_at IS NULL \
                 ORDER BY created_at DESC, id DESC LIMIT 1",
            )?
            .query_row([chat.to_string()], |r| get_id(r, "id"))
            .optional()?)
    }
}

/// `items` (root first) from the last repeat on: a branch read through a loop in the tree
/// repeats its messages; what follows the last repeat, down to the leaf, is each message once.
fn until_repeat<T, K: Eq + std::hash::Hash>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    let mut kept: Vec<T> = items.into_iter().rev().take_while(|item| seen.insert(key(item))).collect();
    kept.reverse();
    kept
}
