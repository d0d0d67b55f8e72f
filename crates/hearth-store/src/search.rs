//! Full-text search over live messages (FTS5, BM25-ranked, with highlighted snippets).
//!
//! User input is never passed to FTS5's query language as is (a stray quote or a bare `AND`
//! would be a syntax error): each word becomes a quoted phrase, all must match, and the last
//! one matches as a prefix so results follow the user's typing.

use hearth_types::{SearchHit, Snippet, ValidationError, WorkspaceId};

use crate::rows::{get_id, get_parsed, get_time};
use crate::{Reader, Result};

// Control characters cannot appear in the tokens FTS5 matches, so they are safe to use as
// highlight markers and are stripped from the text shown.
const OPEN: char = '\u{2}';
const CLOSE: char = '\u{3}';

/// Turns what a person typed into an FTS5 query, or `None` when there is nothing to look for.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    let (last, rest) = words.split_last()?;
    let mut q = rest.join(" ");
    if !q.is_empty() {
        q.push(' ');
    }
    q.push_str(last);
    q.push('*');
    Some(q)
}

/// Splits FTS5's marked-up snippet into plain text and highlight byte ranges.
pub(crate) fn parse_snippet(marked: &str) -> Snippet {
    let mut text = String::with_capacity(marked.len());
    let mut highlights = Vec::new();
    let mut start = None;
    for c in marked.chars() {
        match c {
            OPEN => start = Some(text.len()),
            CLOSE => {
                if let Some(s) = start.take() {
                    highlights.push((s, text.len()));
                }
            }
            c => text.push(c),
        }
    }
    Snippet { text, highlights }
}

impl Reader<'_> {
    /// Messages matching `query`, best first, optionally within one workspace.
    pub fn search(&self, query: &str, workspace: Option<WorkspaceId>, limit: u32) -> Result<Vec<SearchHit>> {
        let Some(fts) = fts_query(query) else {
            return Err(ValidationError::new("query", "has no words to search for").into());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.id, m.chat_id, c.title, c.workspace_id, m.role, m.created_at, \
                 snippet(messages_fts, 0, char(2), char(3), '…', 16) AS snippet, messages_fts.rank AS rank \
             FROM messages_fts \
             JOIN messages m ON m.seq = messages_fts.rowid \
             JOIN chats c ON c.id = m.chat_id \
             JOIN workspaces w ON w.id = c.workspace_id \
             WHERE messages_fts MATCH ?1 \
               AND m.deleted_at IS NULL AND c.deleted_at IS NULL AND w.deleted_at IS NULL \
               AND (?2 IS NULL OR c.workspace_id = ?2) \
             ORDER BY messages_fts.rank LIMIT ?3",
        )?;
        let hits = stmt.query_map((fts, workspace.map(|w| w.to_string()), limit), |row| {
            Ok(SearchHit {
                message_id: get_id(row, "id")?,
                chat_id: get_id(row, "chat_id")?,
                chat_title: row.get("title")?,
                workspace_id: get_id(row, "workspace_id")?,
                role: get_parsed(row, "role")?,
                snippet: parse_snippet(&row.get::<_, String>("snippet")?),
                rank: row.get("rank")?,
                created_at: get_time(row, "created_at")?,
            })
        })?;
        Ok(hits.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests;
