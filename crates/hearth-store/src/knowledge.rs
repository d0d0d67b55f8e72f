//! A workspace's knowledge: documents, their chunks and a BM25 index over the chunks (FTS5).
//!
//! A document is stored whole: [`Writer::put_document`] replaces its record and every chunk
//! in the caller's transaction, so a search finds all of a document or none of it.
//!
//! Documents sync (schema version 10): their metadata, text and outline (where each chunk
//! sits in the text) are stamped fields of a synced row, and a removed document is a
//! tombstone with no text. A device that pulls one rebuilds its chunks from the text and the
//! outline (`sync/pull.rs`) and queues an `embed` job for their vectors, which never sync.

use hearth_types::{ChunkEmbeddings, ChunkHit, Document, DocumentId, NewChunk, NewDocument, ValidationError, WorkspaceId};
use rusqlite::{OptionalExtension, Row};
use serde_json::Value;

use crate::rows::{Val, get_id, get_parsed, get_time};
use crate::search::fts_query;
use crate::writer::Table;
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

/// Where one chunk sits in its document's text (a chunk is exactly `text[start..end]`): what
/// documents sync instead of the chunks' text, which the text already holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Span {
    pub heading: String,
    pub page: Option<u32>,
    pub start: u32,
    pub end: u32,
}

/// The most chunks a synced document may have (a pulled one with more is refused): far more
/// than the largest file ingestion reads makes.
const MAX_SPANS: usize = 1_000_000;

/// The chunks an outline describes, each checked against the text: in order, within it, on
/// character boundaries. A pulled outline that fails is the row's fault.
pub(crate) fn chunks_of(text: &str, outline: &[Span]) -> std::result::Result<Vec<NewChunk>, String> {
    if outline.len() > MAX_SPANS {
        return Err(format!("{} chunks, more than {MAX_SPANS}", outline.len()));
    }
    let mut previous = 0;
    outline
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (start, end) = (s.start as usize, s.end as usize);
            if start > end || end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                return Err(format!("chunk {i} ({start}..{end}) is not a piece of the document's {} bytes of text", text.len()));
            }
            if start < previous {
                return Err(format!("chunk {i} is out of order"));
            }
            previous = start;
            Ok(NewChunk { text: text[start..end].to_owned(), heading: s.heading.clone(), page: s.page, start: s.start, end: s.end })
        })
        .collect()
}

/// A new document's id: the same for the same path in the same workspace on every device, so
/// two devices that add one file make one document (the later version wins), not two that
/// claim its path.
fn document_id_for(workspace: WorkspaceId, path: &str) -> DocumentId {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{workspace}\0{path}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DocumentId::from(uuid::Uuid::new_v8(bytes))
}

impl Writer<'_> {
    /// Stores a document and its chunks, replacing the one at the same path in the workspace
    /// (its id stays; a removed one comes back). All in this transaction: searchable whole or
    /// not at all. Its fields sync; its vectors stay on this device.
    pub fn put_document(&mut self, new: &NewDocument) -> Result<Document> {
        self.read().workspace(new.workspace_id)?;
        if let Some(e) = &new.embeddings
            && e.vectors.len() != new.chunks.len()
        {
            return Err(ValidationError::new("embeddings", format!("{} vectors for {} chunks", e.vectors.len(), new.chunks.len())).into());
        }
        let outline: Vec<Span> =
            new.chunks.iter().map(|c| Span { heading: c.heading.clone(), page: c.page, start: c.start, end: c.end }).collect();
        let outline = serde_json::to_value(outline).map_err(|e| ValidationError::new("chunks", e.to_string()))?;
        let fields = [
            ("path", Val::Text(new.path.clone())),
            ("title", Val::Text(new.title.clone())),
            ("format", Val::Text(new.format.as_str().to_owned())),
            ("sha256", Val::Text(new.sha256.clone())),
            ("size", Val::Int(Some(new.size as i64))),
            ("text", Val::Text(new.text.clone())),
            ("outline", Val::Json(outline)),
        ];
        // The row at this path, live or removed, keeps its id.
        let existing: Option<String> = self
            .conn()
            .prepare_cached("SELECT id FROM documents WHERE workspace_id = ?1 AND path = ?2")?
            .query_row((new.workspace_id.to_string(), &new.path), |r| r.get(0))
            .optional()?;
        let id = match existing {
            Some(id) => {
                let mut fields = fields.to_vec();
                fields.push(("deleted_at", Val::Time(None)));
                self.update(Table::Documents, &id, &fields)?;
                DocumentId::parse_field(&id, "document_id")?
            }
            None => {
                let id = document_id_for(new.workspace_id, &new.path);
                let mut synced = vec![("workspace_id", Val::Text(new.workspace_id.to_string()))];
                synced.extend(fields);
                self.insert(Table::Documents, &id.to_string(), &synced, &[("chunks", Val::Int(Some(0)))])?;
                id
            }
        };
        write_chunks(self.conn(), id, &new.chunks, new.embeddings.as_ref())?;
        self.read().document(id)
    }

    /// Gives a stored document its chunks' vectors by `model` (one per chunk, in order), when
    /// it is still the version `sha256` names with that many chunks; `false` when it changed
    /// or went meanwhile (it is embedded again as it is now).
    pub fn put_document_vectors(&mut self, id: DocumentId, sha256: &str, embeddings: &ChunkEmbeddings) -> Result<bool> {
        let current: Option<(String, i64)> = self
            .conn()
            .prepare_cached("SELECT sha256, chunks FROM documents WHERE id = ?1 AND deleted_at IS NULL")?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if current.is_none_or(|(sha, n)| sha != sha256 || n as usize != embeddings.vectors.len()) {
            return Ok(false);
        }
        let seqs: Vec<i64> = self
            .conn()
            .prepare_cached("SELECT seq FROM chunks WHERE document_id = ?1 ORDER BY ord")?
            .query_map([id.to_string()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if seqs.len() != embeddings.vectors.len() {
            return Ok(false);
        }
        let mut put = self.conn().prepare_cached("INSERT OR REPLACE INTO chunk_vectors (seq, model, vector) VALUES (?1, ?2, ?3)")?;
        for (seq, v) in seqs.iter().zip(&embeddings.vectors) {
            put.execute(rusqlite::params![seq, embeddings.model, to_blob(v)])?;
        }
        drop(put);
        // The vectors changed what a search finds: the copy kept in memory must know.
        bump_knowledge_version(self.conn(), id)?;
        Ok(true)
    }

    /// Removes a document: its chunks go, and it stays as a tombstone (no text) that tells
    /// other devices (the file stays).
    pub fn delete_document(&mut self, id: DocumentId) -> Result<()> {
        self.read().document(id)?;
        self.update(
            Table::Documents,
            &id.to_string(),
            &[
                ("deleted_at", Val::Time(Some(self.now_ms()))),
                ("text", Val::Text(String::new())),
                ("outline", Val::Json(Value::Array(Vec::new()))),
            ],
        )?;
        write_chunks(self.conn(), id, &[], None)
    }

    /// Removes every document of a workspace (it is being deleted).
    pub(crate) fn delete_documents_of(&mut self, workspace: WorkspaceId) -> Result<()> {
        let ids: Vec<String> = self
            .conn()
            .prepare_cached("SELECT id FROM documents WHERE workspace_id = ?1 AND deleted_at IS NULL")?
            .query_map([workspace.to_string()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            self.delete_document(DocumentId::parse_field(&id, "document_id")?)?;
        }
        Ok(())
    }
}

/// Replaces a document's chunks (and their index entries and vectors) with `chunks`, and its
/// chunk count.
pub(crate) fn write_chunks(
    conn: &rusqlite::Connection,
    id: DocumentId,
    chunks: &[NewChunk],
    embeddings: Option<&ChunkEmbeddings>,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM chunks WHERE document_id = ?1")?.execute([id.to_string()])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO chunks (document_id, ord, text, heading, page, start, end) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
    let mut vector = conn.prepare_cached("INSERT INTO chunk_vectors (seq, model, vector) VALUES (?1, ?2, ?3)")?;
    for (ord, c) in chunks.iter().enumerate() {
        insert.execute(rusqlite::params![id.to_string(), ord as i64, c.text, c.heading, c.page, c.start, c.end])?;
        if let Some(e) = embeddings {
            let seq = conn.last_insert_rowid();
            vector.execute(rusqlite::params![seq, e.model, to_blob(&e.vectors[ord])])?;
        }
    }
    conn.prepare_cached("UPDATE documents SET chunks = ?2 WHERE id = ?1")?
        .execute(rusqlite::params![id.to_string(), chunks.len() as i64])?;
    Ok(())
}

/// Moves the knowledge version of a document's workspace (its triggers move it for changes to
/// the document row; vectors added alone need this).
fn bump_knowledge_version(conn: &rusqlite::Connection, id: DocumentId) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO knowledge_versions (workspace_id, version) SELECT workspace_id, 1 FROM documents WHERE id = ?1 \
         ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1",
    )?
    .execute([id.to_string()])?;
    Ok(())
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
    /// The workspace's live documents with a chunk that has no embedding by `model` (pulled
    /// from another device, or stored while no embedding model was set up), by path.
    pub fn unembedded_documents(&self, workspace: WorkspaceId, model: &str) -> Result<Vec<Document>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM documents d WHERE d.workspace_id = ?1 AND d.deleted_at IS NULL AND EXISTS ( \
             SELECT 1 FROM chunks c LEFT JOIN chunk_vectors v ON v.seq = c.seq AND v.model = ?2 \
             WHERE c.document_id = d.id AND v.seq IS NULL) ORDER BY d.path"
        ))?;
        Ok(stmt.query_map(rusqlite::params![workspace.to_string(), model], from_row)?.collect::<rusqlite::Result<_>>()?)
    }

    /// A document's chunks' text, in order.
    pub fn chunk_texts(&self, id: DocumentId) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached("SELECT text FROM chunks WHERE document_id = ?1 ORDER BY ord")?;
        Ok(stmt.query_map([id.to_string()], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?)
    }

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
                 WHERE d.id = ?1 AND d.deleted_at IS NULL AND w.deleted_at IS NULL"
            ))?
            .query_row([id.to_string()], from_row)
            .optional()?
            .ok_or_else(|| Error::not_found("document_id", "document", id))
    }

    /// The document at `path` in a workspace, if there is one.
    pub fn document_at(&self, workspace: WorkspaceId, path: &str) -> Result<Option<Document>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM documents d WHERE d.workspace_id = ?1 AND d.path = ?2 AND d.deleted_at IS NULL"
            ))?
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
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM documents WHERE workspace_id = ?1 AND deleted_at IS NULL LIMIT 1")?
            .exists([workspace.to_string()])?)
    }

    /// A workspace's documents, by path.
    pub fn documents(&self, workspace: WorkspaceId) -> Result<Vec<Document>> {
        self.workspace(workspace)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM documents d WHERE d.workspace_id = ?1 AND d.deleted_at IS NULL ORDER BY d.path"
        ))?;
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
