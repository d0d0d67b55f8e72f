//! A workspace's knowledge: documents, their chunks and a BM25 index over the chunks (FTS5).
//!
//! A document is stored whole: [`Writer::put_document`] replaces its record and every chunk
//! in the caller's transaction, so a search finds all of a document or none of it. Documents
//! are local for now: they do not sync (their workspace's tombstone, from here or pulled,
//! hides them; deleting the workspace here deletes them).

use hearth_types::{ChunkHit, Document, DocumentId, NewDocument, ValidationError, WorkspaceId};
use rusqlite::{OptionalExtension, Row};

use crate::rows::{get_id, get_parsed, get_time};
use crate::search::fts_query;
use crate::{Error, Reader, Result, Writer};

const COLUMNS: &str = "d.id, d.workspace_id, d.path, d.title, d.format, d.sha256, d.size, d.chunks, d.created_at, d.updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        id: get_id(row, "id")?,
        workspace_id: get_id(row, "workspace_id")?,
        path: row.get("path")?,
        title: row.get("title")?,
        format: get_parsed(row, "format")?,
        sha256: row.get("sha256")?,
        size: row.get::<_, i64>("size")?.max(0) as u64,
        chunks: row.get::<_, i64>("chunks")?.max(0) as u32,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

/// A workspace's knowledge as of now (see [`Reader::knowledge_stamp`]): equal stamps, equal
/// documents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KnowledgeStamp(pub i64);

/// Words too common to say what a query is about (the BM25 side of a hybrid search skips them).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does",
    "for", "from", "get", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on",
    "or", "our", "should", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "up",
    "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// The words of a query a word search looks for: its words, less the stop words when any
/// other is left.
fn query_words(query: &str) -> Vec<&str> {
    let all: Vec<&str> = query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let content: Vec<&str> = all.iter().copied().filter(|w| !STOP_WORDS.contains(&w.to_lowercase().as_str())).collect();
    if content.is_empty() { all } else { content }
}

impl Writer<'_> {
    /// Stores a document and its chunks, replacing the one at the same path in the workspace
    /// (its id stays). All in this transaction: searchable whole or not at all.
    pub fn put_document(&mut self, new: &NewDocument) -> Result<Document> {
        self.read().workspace(new.workspace_id)?;
        let now = self.now_ms();
        // One statement for a new document and a replaced one: the row at this path keeps its
        // id and creation time, and its old chunks go before the new ones are written.
        let id: String = self
            .conn()
            .prepare_cached(
                "INSERT INTO documents (id, workspace_id, path, title, format, sha256, size, text, chunks, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) \
                 ON CONFLICT (workspace_id, path) DO UPDATE SET title = excluded.title, format = excluded.format, \
                 sha256 = excluded.sha256, size = excluded.size, text = excluded.text, chunks = excluded.chunks, \
                 updated_at = excluded.updated_at \
                 RETURNING id",
            )?
            .query_row(
                rusqlite::params![
                    DocumentId::new().to_string(),
                    new.workspace_id.to_string(),
                    new.path,
                    new.title,
                    new.format.as_str(),
                    new.sha256,
                    new.size as i64,
                    new.text,
                    new.chunks.len() as i64,
                    now
                ],
                |r| r.get(0),
            )?;
        self.conn().prepare_cached("DELETE FROM chunks WHERE document_id = ?1")?.execute([&id])?;
        let id = DocumentId::parse_field(&id, "document_id")?;
        if let Some(e) = &new.embeddings
            && e.vectors.len() != new.chunks.len()
        {
            return Err(ValidationError::new("embeddings", format!("{} vectors for {} chunks", e.vectors.len(), new.chunks.len())).into());
        }
        let mut insert = self
            .conn()
            .prepare_cached("INSERT INTO chunks (document_id, ord, text, heading, page, start, end) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
        let mut vector = self.conn().prepare_cached("INSERT INTO chunk_vectors (seq, model, vector) VALUES (?1, ?2, ?3)")?;
        for (ord, c) in new.chunks.iter().enumerate() {
            insert.execute(rusqlite::params![id.to_string(), ord as i64, c.text, c.heading, c.page, c.start, c.end])?;
            if let Some(e) = &new.embeddings {
                let seq = self.conn().last_insert_rowid();
                vector.execute(rusqlite::params![seq, e.model, to_blob(&e.vectors[ord])])?;
            }
        }
        drop((insert, vector));
        self.read().document(id)
    }

    /// Removes a document and its chunks.
    pub fn delete_document(&mut self, id: DocumentId) -> Result<()> {
        let n = self.conn().prepare_cached("DELETE FROM documents WHERE id = ?1")?.execute([id.to_string()])?;
        if n == 0 {
            return Err(Error::not_found("document_id", "document", id));
        }
        Ok(())
    }

    /// Removes every document of a workspace (it is being deleted).
    pub(crate) fn delete_documents_of(&mut self, workspace: WorkspaceId) -> Result<()> {
        self.conn().prepare_cached("DELETE FROM documents WHERE workspace_id = ?1")?.execute([workspace.to_string()])?;
        Ok(())
    }
}

/// A vector as stored: f32, little-endian.
fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// A chunk by its row, as a search hit with no score yet.
const HIT_COLUMNS: &str = "c.seq, d.id, d.title, d.path, c.ord, c.heading, c.page, c.text";

fn hit_from_row(r: &Row<'_>) -> rusqlite::Result<(i64, ChunkHit)> {
    Ok((
        r.get("seq")?,
        ChunkHit {
            document_id: get_id(r, "id")?,
            title: r.get("title")?,
            path: r.get("path")?,
            chunk: r.get::<_, i64>("ord")?.max(0) as u32,
            heading: r.get("heading")?,
            page: r.get::<_, Option<i64>>("page")?.map(|p| p.max(0) as u32),
            text: r.get("text")?,
            score: 0.0,
        },
    ))
}

impl Reader<'_> {
    /// Whether every chunk of the document has an embedding by `model`.
    pub fn document_embedded(&self, id: DocumentId, model: &str) -> Result<bool> {
        let missing: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM chunks c LEFT JOIN chunk_vectors v ON v.seq = c.seq AND v.model = ?2 \
             WHERE c.document_id = ?1 AND v.seq IS NULL",
            )?
            .query_row(rusqlite::params![id.to_string(), model], |r| r.get(0))?;
        Ok(missing == 0)
    }

    /// Every chunk embedding of a workspace by `model`, with its chunk's row id.
    pub fn chunk_vectors(&self, workspace: WorkspaceId, model: &str) -> Result<Vec<(i64, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.seq, v.vector FROM chunk_vectors v JOIN chunks c ON c.seq = v.seq JOIN documents d ON d.id = c.document_id \
             WHERE d.workspace_id = ?1 AND v.model = ?2",
        )?;
        let rows =
            stmt.query_map(rusqlite::params![workspace.to_string(), model], |r| Ok((r.get(0)?, from_blob(&r.get::<_, Vec<u8>>(1)?))))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The chunks with these row ids, in the order given (ids not found are left out).
    pub fn chunk_hits(&self, seqs: &[i64]) -> Result<Vec<(i64, ChunkHit)>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {HIT_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.seq = ?1"))?;
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            if let Some(hit) = stmt.query_row([seq], hit_from_row).optional()? {
                out.push(hit);
            }
        }
        Ok(out)
    }

    /// The BM25 side of a hybrid search: chunks matching any word of `query`, best first (more
    /// of the words, and rarer ones, rank higher), as (row id, BM25 score; lower is better).
    /// Common English words are left out when the query has others: "how", "the" and "my"
    /// match nearly every chunk and would rank by chance.
    pub fn chunks_matching(&self, workspace: WorkspaceId, query: &str, limit: u32) -> Result<Vec<(i64, f64)>> {
        let words: Vec<String> = query_words(query).into_iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.seq, bm25(chunks_fts) AS rank FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid \
             JOIN documents d ON d.id = c.document_id WHERE chunks_fts MATCH ?1 AND d.workspace_id = ?2 ORDER BY rank LIMIT ?3",
        )?;
        let joined = words.join(" OR ");
        let rows = stmt.query_map(rusqlite::params![joined, workspace.to_string(), limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// For each chunk, the share of the query's words (as [`Reader::chunks_matching`] reads
    /// them) its text and headings hold, from 0 to 1.
    pub fn word_shares(&self, seqs: &[i64], query: &str) -> Result<Vec<(i64, f64)>> {
        let wanted: Vec<String> = query_words(query).into_iter().map(str::to_lowercase).collect();
        let mut stmt = self.conn.prepare_cached("SELECT text, heading FROM chunks WHERE seq = ?1")?;
        let mut out = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            let Some((text, heading)) = stmt.query_row([seq], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).optional()? else {
                continue;
            };
            let have: std::collections::HashSet<String> = format!("{text} {heading}")
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            let found = wanted.iter().filter(|w| have.contains(*w)).count();
            out.push((seq, if wanted.is_empty() { 1.0 } else { found as f64 / wanted.len() as f64 }));
        }
        Ok(out)
    }

    pub fn document(&self, id: DocumentId) -> Result<Document> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM documents d JOIN workspaces w ON w.id = d.workspace_id \
                 WHERE d.id = ?1 AND w.deleted_at IS NULL"
            ))?
            .query_row([id.to_string()], from_row)
            .optional()?
            .ok_or_else(|| Error::not_found("document_id", "document", id))
    }

    /// The document at `path` in a workspace, if there is one.
    pub fn document_at(&self, workspace: WorkspaceId, path: &str) -> Result<Option<Document>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM documents d WHERE d.workspace_id = ?1 AND d.path = ?2"))?
            .query_row([workspace.to_string(), path.to_owned()], from_row)
            .optional()?)
    }

    /// What changes whenever a document of the workspace is stored, replaced or removed, by
    /// any process: a count its triggers keep (migration 0009).
    pub fn knowledge_stamp(&self, workspace: WorkspaceId) -> Result<KnowledgeStamp> {
        let version: Option<i64> = self
            .conn
            .prepare_cached("SELECT version FROM knowledge_versions WHERE workspace_id = ?1")?
            .query_row([workspace.to_string()], |r| r.get(0))
            .optional()?;
        Ok(KnowledgeStamp(version.unwrap_or(0)))
    }

    /// Whether the workspace has any document (cheaper than listing them).
    pub fn has_documents(&self, workspace: WorkspaceId) -> Result<bool> {
        Ok(self.conn.prepare_cached("SELECT 1 FROM documents WHERE workspace_id = ?1 LIMIT 1")?.exists([workspace.to_string()])?)
    }

    /// A workspace's documents, by path.
    pub fn documents(&self, workspace: WorkspaceId) -> Result<Vec<Document>> {
        self.workspace(workspace)?;
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM documents d WHERE d.workspace_id = ?1 ORDER BY d.path"))?;
        Ok(stmt.query_map([workspace.to_string()], from_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// A document's text, as extracted.
    pub fn document_text(&self, id: DocumentId) -> Result<String> {
        self.document(id)?;
        Ok(self.conn.prepare_cached("SELECT text FROM documents WHERE id = ?1")?.query_row([id.to_string()], |r| r.get(0))?)
    }

    /// Chunks of a workspace's documents matching `query` by BM25 (FTS5), best first. Every
    /// word must appear (the last as a prefix), as in message search.
    pub fn search_chunks(&self, workspace: WorkspaceId, query: &str, limit: u32) -> Result<Vec<ChunkHit>> {
        self.workspace(workspace)?;
        let Some(fts) = fts_query(query) else {
            return Err(ValidationError::new("query", "has no words to search for").into());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.title, d.path, c.ord, c.heading, c.page, c.text, bm25(chunks_fts) AS rank \
             FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid JOIN documents d ON d.id = c.document_id \
             WHERE chunks_fts MATCH ?1 AND d.workspace_id = ?2 ORDER BY rank LIMIT ?3",
        )?;
        let hits = stmt.query_map(rusqlite::params![fts, workspace.to_string(), limit], |r| {
            Ok(ChunkHit {
                document_id: get_id(r, "id")?,
                title: r.get("title")?,
                path: r.get("path")?,
                chunk: r.get::<_, i64>("ord")?.max(0) as u32,
                heading: r.get("heading")?,
                page: r.get::<_, Option<i64>>("page")?.map(|p| p.max(0) as u32),
                text: r.get("text")?,
                // bm25() is lower-is-better; a hit's score is higher-is-better.
                score: -r.get::<_, f64>("rank")?,
            })
        })?;
        Ok(hits.collect::<rusqlite::Result<_>>()?)
    }
}
