//! Knowledge and the jobs that build it: a workspace's documents, their chunks, what a search
//! finds, and the durable background jobs (ingestion first) whose progress the user follows.

use serde::{Deserialize, Serialize};

use crate::{DocumentId, JobId, Timestamp, WorkspaceId};

crate::text_enum! {
    /// Where a job is. `queued` and `running` are live; the other three are ends.
    pub enum JobStatus: "status" {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    pub fn is_finished(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

crate::text_enum! {
    /// What a job does.
    pub enum JobKind: "kind" {
        /// Adds files and folders to a workspace's knowledge.
        Ingest = "ingest",
        /// Embeds the chunks of a workspace's documents that have no vectors yet (documents
        /// pulled from another device, or stored before an embedding model was set up).
        Embed = "embed",
    }
}

/// A background job as stored: durable, so it survives a restart (a job that was running
/// is queued again and resumes), and cancellable from any process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    pub status: JobStatus,
    /// The workspace it works in, when it has one.
    pub workspace_id: Option<WorkspaceId>,
    /// What it was asked to do (for `ingest`: `paths`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub input: serde_json::Map<String, serde_json::Value>,
    /// What it did (for `ingest`: counts and each file that failed, with why).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub output: serde_json::Map<String, serde_json::Value>,
    /// Progress: `done` of `total` units (files for `ingest`); `total` unknown at first.
    pub done: u64,
    pub total: Option<u64>,
    /// What it is doing now, in words.
    pub message: String,
    /// Why it failed.
    pub error: Option<String>,
    /// How many times it started (a restart mid-way starts it again).
    pub attempts: u32,
    /// A cancel was asked for and the job has not yet stopped.
    pub cancel_requested: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

crate::text_enum! {
    /// How a document's text was read.
    pub enum DocFormat: "format" {
        Markdown = "markdown",
        Text = "text",
        /// Source code: split at blank lines rather than headings.
        Code = "code",
        Html = "html",
        Pdf = "pdf",
        Docx = "docx",
    }
}

/// A document in a workspace's knowledge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Document {
    pub id: DocumentId,
    pub workspace_id: WorkspaceId,
    /// Where it was added from: an absolute path, which also names it within the workspace.
    pub path: String,
    pub title: String,
    pub format: DocFormat,
    /// Of the file's bytes: a re-added file with the same hash is not read again.
    pub sha256: String,
    pub size: u64,
    pub chunks: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One piece of a document, as chunking cuts it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChunk {
    pub text: String,
    /// The headings above it, outermost first, joined with ` > ` (empty when none).
    pub heading: String,
    /// The page it starts on, for formats with pages (PDF), from 1.
    pub page: Option<u32>,
    /// Where it lies in the document's text, in bytes.
    pub start: u32,
    pub end: u32,
}

/// A document to store, whole: its record, its text, every chunk and, when a model made
/// them, the chunks' embeddings.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDocument {
    pub workspace_id: WorkspaceId,
    pub path: String,
    pub title: String,
    pub format: DocFormat,
    pub sha256: String,
    pub size: u64,
    pub text: String,
    pub chunks: Vec<NewChunk>,
    pub embeddings: Option<ChunkEmbeddings>,
}

/// One embedding per chunk, in the chunks' order, all by one model; L2-normalized.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkEmbeddings {
    pub model: String,
    pub vectors: Vec<Vec<f32>>,
}

/// A chunk a knowledge search found, best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChunkHit {
    pub document_id: DocumentId,
    pub title: String,
    pub path: String,
    /// The chunk's place in its document, from 0.
    pub chunk: u32,
    pub heading: String,
    pub page: Option<u32>,
    pub text: String,
    /// Higher is better: the fused rank score (for BM25 alone, the negated BM25 score).
    pub score: f64,
}

/// A passage a reply was given to answer from, as stored with the reply and sent on its
/// stream. `n` is the number the model was told to cite it by (`[1]`, `[2]`, ...); `cited`
/// says whether the answer did. The passage text is kept whole, so a source still opens
/// after its document changed, was removed, or never synced to this device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation {
    pub n: u32,
    pub document_id: DocumentId,
    pub title: String,
    pub path: String,
    /// The chunk's place in its document, from 0.
    pub chunk: u32,
    pub heading: String,
    pub page: Option<u32>,
    /// The passage as the model read it.
    pub snippet: String,
    pub cited: bool,
}

impl Citation {
    /// The numbers `[n]` that `text` cites, in order of first use, each once.
    pub fn numbers_in(text: &str) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('[') {
            rest = &rest[open + 1..];
            // One bracket may hold several: [1, 2] or [1][2].
            let Some(close) = rest.find(']') else { break };
            let inside = &rest[..close];
            let numbers: Option<Vec<u32>> = inside.split(',').map(|p| p.trim().parse::<u32>().ok()).collect();
            for n in numbers.into_iter().flatten() {
                if n > 0 && !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
