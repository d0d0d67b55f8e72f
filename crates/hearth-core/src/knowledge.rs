//! A workspace's knowledge: adding files and folders (as an `ingest` job), listing and
//! removing documents, and searching their chunks.
//!
//! Ingestion reads each file, skips it when its hash is the stored one (so adding again, or
//! resuming a job the app was stopped in, costs nothing and adds no duplicate), extracts and
//! chunks it (`hearth-docs`), and stores the document with all its chunks in one transaction.
//! A file that cannot be read is that file's error in the job's output; the others go on.
//!
//! With an [`Embedder`] (the composition root hands one over once its model is there), each
//! document's chunks are embedded as it is stored, in the same transaction, and search is
//! hybrid: the BM25 ranking (any of the query's words) and the vector ranking (a brute-force
//! dot product over the workspace's normalized vectors, those above a similarity floor)
//! fused by weighted reciprocal rank fusion: on the word side (stop words left out), a chunk
//! with every word of the query weighs as the vector side does, one with half of them or
//! more weighs half, and one with fewer is left to the vector side.
//! Without one, documents are stored without vectors and search is by words; a document
//! stored so is embedded when it is added again with an embedder present.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use hearth_docs::{Budget, DocError};
use hearth_llm::{ChatModel, EmbedInput};
use std::sync::Arc;

use hearth_types::{ChunkEmbeddings, ChunkHit, Document, DocumentId, Job, JobKind, NewDocument, ValidationError, Workspace, WorkspaceId};
use serde_json::{Map, Value, json};

use crate::jobs::{JobContext, JobOutcome, Stopped};
use crate::{Core, Result, WorkspaceRef};

/// The largest file read (bigger ones are that file's error).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most text one document may hold: it is one synced row, so this keeps every pull and
/// push of it well under the sync client's 128 MB answer limit, even escaped as JSON.
pub const MAX_TEXT_BYTES: u64 = 16 << 20;
/// The most files one ingestion takes from its folders.
pub const MAX_FILES: usize = 50_000;

/// Reciprocal rank fusion's constant: a document ranked `r` in one list scores `1/(K + r)`.
/// 60 is the value of the RRF paper and of GPT4All's LocalDocs.
const RRF_K: f64 = 60.0;
/// How many candidates each ranking contributes to the fusion.
const CANDIDATES: u32 = 50;
/// A chunk less similar to the query than this is no candidate of the vector side: with few
/// documents, every one would otherwise be "near", and fusion would lift a chunk that merely
/// shares one word with the question. all-MiniLM-L6-v2 puts unrelated sentences below 0.2.
const VECTOR_FLOOR: f64 = 0.2;
/// The word side's weight in the fusion for a chunk with at least half of the query's words
/// but not all (one with all of them weighs 1, as the vector side does; one with fewer is no
/// candidate of the word side): a shared word is weak evidence.
const PARTIAL_WORDS: f64 = 0.5;
/// Chunks embedded per call.
const EMBED_BATCH: usize = 16;

/// A workspace setting that names a remote provider's embedding model (`provider/model`,
/// served by its OpenAI-compatible `/embeddings`) to embed the workspace's knowledge with
/// instead of the local model. Its vectors are kept under that name (a chunk keeps the vector of the model that embedded it last).
pub const EMBEDDING_SETTING: &str = "embedding_model";

/// Checks a value of [`EMBEDDING_SETTING`]: absent, null, or `provider/model` naming a
/// provider (not the local engine).
pub(crate) fn check_embedding_setting(value: Option<&Value>) -> std::result::Result<(), ValidationError> {
    let bad = || ValidationError::new("settings", format!("{EMBEDDING_SETTING} must be a remote provider's model, as provider/model"));
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(name)) => match name.split_once('/') {
            Some((provider, model)) if !provider.trim().is_empty() && provider != "local" && !model.trim().is_empty() => Ok(()),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// A remote provider's embedding model, as an embedder: it asks the provider for the model by
/// the provider's own name for it.
struct RemoteEmbedding {
    remote: hearth_llm::remote::Remote,
    model: String,
}

impl ChatModel for RemoteEmbedding {
    fn chat(
        &self,
        _: hearth_llm::ChatRequest,
        _: hearth_llm::CancellationToken,
    ) -> std::result::Result<hearth_llm::ChatStream, hearth_llm::LlmError> {
        Err(hearth_llm::LlmError::Unsupported("this is an embedding model".into()))
    }

    fn embed(&self, _: &str, inputs: &[EmbedInput]) -> std::result::Result<hearth_llm::Embeddings, hearth_llm::LlmError> {
        self.remote.embed(&self.model, inputs)
    }
}

/// The model that embeds knowledge: chunks as they are stored, queries as they are asked.
#[derive(Clone)]
pub struct Embedder {
    pub model: std::sync::Arc<dyn ChatModel>,
    /// The model's name, as the model answers to it and as vectors are stored under.
    pub name: String,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("name", &self.name).finish_non_exhaustive()
    }
}

/// How a knowledge search ranks: both rankings fused (the default), or one alone (for
/// comparing them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retrieval {
    Hybrid,
    Vector,
    Words,
}

/// What became of one file.
enum Added {
    New,
    Updated,
    Unchanged,
}

impl Core {
    /// Queues an `ingest` job for `paths` (absolute; files and folders) into the workspace.
    pub fn add_knowledge(&self, ws: &WorkspaceRef, paths: &[PathBuf]) -> Result<Job> {
        let workspace = self.workspace(ws)?.id;
        if paths.is_empty() {
            return Err(ValidationError::new("paths", "name at least one file or folder").into());
        }
        let mut list = Vec::new();
        for p in paths {
            if !p.is_absolute() {
                return Err(ValidationError::new("paths", format!("{} is not an absolute path", p.display())).into());
            }
            let Some(s) = p.to_str() else {
                return Err(ValidationError::new("paths", format!("{} is not valid UTF-8", p.display())).into());
            };
            list.push(Value::String(s.to_owned()));
        }
        let mut input = Map::new();
        input.insert("paths".into(), Value::Array(list));
        self.queue_job(JobKind::Ingest, Some(workspace), input)
    }

    /// Where an uploaded file named `name` is kept for the workspace's knowledge:
    /// `<data folder>/knowledge/<workspace id>/<name>`, its folder made. The name must be a
    /// plain file name (no folders, not hidden) of a format Hearth reads. Uploading the same
    /// name again replaces the file, and ingestion then re-indexes it if it changed.
    pub fn upload_path(&self, ws: &WorkspaceRef, name: &str) -> Result<PathBuf> {
        let workspace = self.workspace(ws)?.id;
        let invalid = |why: &str| ValidationError::new("name", format!("{name:?} {why}"));
        let plain = Path::new(name).file_name().and_then(|n| n.to_str()) == Some(name);
        if name.is_empty() || !plain || name.starts_with('.') || name.len() > 255 || name.contains('\\') {
            return Err(invalid("is not a plain file name").into());
        }
        if hearth_docs::format_of(Path::new(name)).is_none() {
            return Err(invalid("is not a kind of document Hearth reads (Markdown, text, source code, HTML, PDF, DOCX)").into());
        }
        let Some(data) = &self.data_dir else {
            return Err(ValidationError::new("name", "this Hearth keeps no files (it has no data folder)").into());
        };
        let folder = data.join("knowledge").join(workspace.to_string());
        std::fs::create_dir_all(&folder).map_err(|e| crate::Error::Files(format!("could not make {}: {e}", folder.display())))?;
        Ok(folder.join(name))
    }

    /// The workspace's documents, by path.
    pub fn documents(&self, ws: &WorkspaceRef) -> Result<Vec<Document>> {
        let id = self.workspace(ws)?.id;
        Ok(self.store.read(|r| r.documents(id))?)
    }

    pub fn document(&self, id: DocumentId) -> Result<Document> {
        Ok(self.store.read(|r| r.document(id))?)
    }

    /// Removes a document and its chunks from the knowledge (the file stays).
    pub fn delete_document(&self, id: DocumentId) -> Result<()> {
        Ok(self.store.write(|w| w.delete_document(id))?)
    }

    /// Embeds knowledge with `embedder` from now on.
    pub fn use_embedder(&self, embedder: Embedder) {
        *self.embedder.write().unwrap_or_else(|p| p.into_inner()) = Some(embedder);
    }

    pub fn embedder(&self) -> Option<Embedder> {
        self.embedder.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The model that embeds a workspace's knowledge: the remote one its settings name
    /// ([`EMBEDDING_SETTING`]), else the local one when it is set up.
    pub fn embedder_for(&self, workspace: &Workspace) -> Result<Option<Embedder>> {
        let Some(name) = workspace.settings.get(EMBEDDING_SETTING).and_then(Value::as_str) else {
            return Ok(self.embedder());
        };
        let Some((provider, model)) = name.split_once('/') else {
            return Err(ValidationError::new("settings", format!("{EMBEDDING_SETTING} {name:?} is not provider/model")).into());
        };
        // Settings sync and providers do not: on a device without this provider (or with it
        // turned off), the workspace's knowledge is found by its words, and documents are
        // stored to be embedded once it is there.
        match self.store.read(|r| r.provider(provider)) {
            Ok(p) if p.enabled => {}
            Ok(_) | Err(hearth_store::Error::NotFound { .. }) => {
                tracing::warn!(workspace = %workspace.handle, %provider, "the workspace's embedding provider is not set up or is off here; searching by words");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        let remote = self.remote(provider)?;
        Ok(Some(Embedder { model: Arc::new(RemoteEmbedding { remote, model: model.to_owned() }), name: name.to_owned() }))
    }

    /// The workspace's passages for `query`, best first: hybrid when there is an embedder,
    /// else by words (every word must appear).
    pub fn search_knowledge(&self, ws: &WorkspaceRef, query: &str, limit: u32) -> Result<Vec<ChunkHit>> {
        let workspace = self.workspace(ws)?;
        match self.embedder_for(&workspace)? {
            Some(_) => self.retrieve(&WorkspaceRef::Id(workspace.id), query, limit, Retrieval::Hybrid),
            None => Ok(self.store.read(|r| r.search_chunks(workspace.id, query, limit.clamp(1, 100)))?),
        }
    }

    /// The workspace's passages for `query` ranked as `how` says; a score is the fused RRF
    /// score, the cosine similarity (vector) or the negated BM25 score (words).
    pub fn retrieve(&self, ws: &WorkspaceRef, query: &str, limit: u32, how: Retrieval) -> Result<Vec<ChunkHit>> {
        let record = self.workspace(ws)?;
        let workspace = record.id;
        if query.trim().is_empty() {
            return Err(ValidationError::new("query", "has no words to search for").into());
        }
        let limit = limit.clamp(1, 100) as usize;
        // The share of the query's words each chunk holds weighs it in the fusion only: a
        // search by words alone ranks by BM25 and need not read the chunks again.
        let (words, shares) = match how {
            Retrieval::Vector => (Vec::new(), std::collections::HashMap::new()),
            Retrieval::Words => (self.store.read(|r| r.chunks_matching(workspace, query, CANDIDATES))?, std::collections::HashMap::new()),
            Retrieval::Hybrid => self.store.read(|r| {
                let any = r.chunks_matching(workspace, query, CANDIDATES)?;
                let seqs: Vec<i64> = any.iter().map(|(s, _)| *s).collect();
                let shares: std::collections::HashMap<i64, f64> = r.word_shares(&seqs, query)?.into_iter().collect();
                Ok((any, shares))
            })?,
        };
        let vectors = match how {
            Retrieval::Words => Vec::new(),
            _ => {
                let embedder = self
                    .embedder_for(&record)?
                    .ok_or_else(|| ValidationError::new("query", "no embedding model is set up for knowledge"))?;
                let q = embedder.model.embed(&embedder.name, &[EmbedInput::Text(query.to_owned())])?;
                let q = q.vectors.into_iter().next().unwrap_or_default();
                let stamp = self.store.read(|r| r.knowledge_stamp(workspace))?;
                let block = self
                    .vectors
                    .get(workspace, &embedder.name, stamp, || self.store.read(|r| r.chunk_vectors(workspace, &embedder.name)))?;
                block.nearest(&q, CANDIDATES as usize).into_iter().filter(|(_, sim)| *sim >= VECTOR_FLOOR).collect()
            }
        };
        let ranked: Vec<(i64, f64)> = match how {
            Retrieval::Words => words.iter().map(|&(seq, bm25)| (seq, -bm25)).collect(),
            Retrieval::Vector => vectors,
            Retrieval::Hybrid => {
                // A chunk with every word weighs as much as the vector side; one with at least
                // half of them, half; one that shares a word or two of many is left to the
                // vector side (one more list to be in outweighs any difference of rank there).
                let weighted = words.iter().filter_map(|(s, _)| match shares.get(s).copied().unwrap_or(0.0) {
                    share if share >= 1.0 => Some((*s, 1.0)),
                    share if share >= 0.5 => Some((*s, PARTIAL_WORDS)),
                    _ => None,
                });
                fuse(&[weighted.collect(), vectors.iter().map(|(s, _)| (*s, 1.0)).collect()])
            }
        };
        let ranked: Vec<(i64, f64)> = ranked.into_iter().take(limit).collect();
        let seqs: Vec<i64> = ranked.iter().map(|(s, _)| *s).collect();
        let hits = self.store.read(|r| r.chunk_hits(&seqs))?;
        Ok(hits.into_iter().zip(ranked).map(|((_, hit), (_, score))| ChunkHit { score, ..hit }).collect())
    }

    /// The `ingest` job's work.
    pub(crate) fn ingest(&self, job: &Job, ctx: &JobContext<'_>) -> Result<std::result::Result<JobOutcome, Stopped>> {
        let workspace = job.workspace_id.ok_or_else(|| ValidationError::new("workspace_id", "an ingest job needs a workspace"))?;
        let embedder = self.embedder_for(&self.store.read(|r| r.workspace(workspace))?)?;
        let paths: Vec<PathBuf> =
            job.input.get("paths").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(PathBuf::from).collect();
        if let Err(stop) = ctx.progress(0, None, "looking for files") {
            return Ok(Err(stop));
        }
        let mut failed: Vec<Value> = Vec::new();
        let (files, skipped) = collect_files(&paths, &mut failed);
        let total = files.len() as u64;
        let (mut added, mut updated, mut unchanged) = (0u64, 0u64, 0u64);
        for (i, file) in files.iter().enumerate() {
            if let Err(stop) = ctx.progress(i as u64, Some(total), &format!("reading {}", file.display())) {
                return Ok(Err(stop));
            }
            match self.ingest_file(workspace, file, embedder.as_ref()) {
                Ok(Added::New) => added += 1,
                Ok(Added::Updated) => updated += 1,
                Ok(Added::Unchanged) => unchanged += 1,
                Err(why) => failed.push(json!({ "path": file.display().to_string(), "error": why })),
            }
        }
        let _ = ctx.progress(total, Some(total), "done");
        let mut message = format!("{added} added, {updated} updated, {unchanged} unchanged");
        if !failed.is_empty() {
            message.push_str(&format!(", {} failed", failed.len()));
        }
        let nothing = added + updated + unchanged == 0;
        let failed_whole = (nothing && !failed.is_empty()).then(|| format!("no file could be added: {}", failed_reasons(&failed)));
        let failed_whole = failed_whole.or_else(|| (nothing && files.is_empty()).then(|| "no documents found to add".to_owned()));
        let output = json!({
            "added": added, "updated": updated, "unchanged": unchanged, "skipped": skipped, "failed": failed,
        });
        let Value::Object(output) = output else { unreachable!("a JSON object literal") };
        Ok(Ok(JobOutcome { output, message, failed: failed_whole }))
    }

    /// The `embed` job's work: vectors for the workspace's documents that have none by the
    /// embedding model (pulled from another device, or stored before the model was set up),
    /// a document at a time, each in one transaction; a document that changed meanwhile is
    /// left for the next job its change queues. Redone after a restart, it picks up where it
    /// stopped: the documents already done have their vectors.
    pub(crate) fn embed_documents(&self, job: &Job, ctx: &JobContext<'_>) -> Result<std::result::Result<JobOutcome, Stopped>> {
        let workspace = job.workspace_id.ok_or_else(|| ValidationError::new("workspace_id", "an embed job needs a workspace"))?;
        let Some(embedder) = self.embedder_for(&self.store.read(|r| r.workspace(workspace))?)? else {
            let message = "no embedding model is set up: these documents are found by their words until one is".to_owned();
            return Ok(Ok(JobOutcome { output: Map::from_iter([("embedded".to_owned(), json!(0))]), message, failed: None }));
        };
        let docs = self.store.read(|r| r.unembedded_documents(workspace, &embedder.name))?;
        let total = docs.len() as u64;
        let (mut embedded, mut failed) = (0u64, Vec::new());
        for (i, doc) in docs.iter().enumerate() {
            if let Err(stop) = ctx.progress(i as u64, Some(total), &format!("embedding {}", doc.title)) {
                return Ok(Err(stop));
            }
            let texts = self.store.read(|r| r.chunk_texts(doc.id))?;
            match embed_texts(&embedder, texts) {
                Ok(vectors) => {
                    if self.store.write(|w| w.put_document_vectors(doc.id, &doc.sha256, &vectors))? {
                        embedded += 1;
                    }
                }
                Err(why) => failed.push(json!({ "path": doc.path, "error": format!("could not embed it: {why}") })),
            }
        }
        let _ = ctx.progress(total, Some(total), "done");
        let mut message = format!("{embedded} embedded");
        if !failed.is_empty() {
            message.push_str(&format!(", {} failed", failed.len()));
        }
        let failed_whole =
            (embedded == 0 && !failed.is_empty()).then(|| format!("no document could be embedded: {}", failed_reasons(&failed)));
        let output = Map::from_iter([("embedded".to_owned(), json!(embedded)), ("failed".to_owned(), Value::Array(failed))]);
        Ok(Ok(JobOutcome { output, message, failed: failed_whole }))
    }

    /// Queues an `embed` job for each workspace with documents that have no vectors by its
    /// embedding model (the local one was set up after they came, or the workspace named
    /// another); none for a workspace without a model. Returns how many were queued.
    pub fn queue_missing_embeddings(&self) -> Result<usize> {
        let mut queued = 0;
        for workspace in self.workspaces()? {
            let Some(embedder) = self.embedder_for(&workspace)? else { continue };
            if self.store.write(|w| w.queue_missing_embeddings(workspace.id, &embedder.name))? {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Reads, extracts, chunks and stores one file: a per-file error in words.
    fn ingest_file(&self, workspace: WorkspaceId, file: &Path, embedder: Option<&Embedder>) -> std::result::Result<Added, String> {
        let format = hearth_docs::format_of(file).ok_or_else(|| DocError::Unknown.to_string())?;
        let meta = std::fs::metadata(file).map_err(|e| format!("could not read it: {e}"))?;
        if !meta.is_file() {
            return Err("not a file".into());
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(DocError::TooLarge { size: meta.len(), limit: MAX_FILE_BYTES }.to_string());
        }
        let bytes = read_at_most(file, MAX_FILE_BYTES)?;
        let sha256 = hearth_docs::sha256_hex(&bytes);
        let path = file.display().to_string();
        let before = self.store.read(|r| r.document_at(workspace, &path)).map_err(|e| e.to_string())?;
        if let Some(doc) = &before
            && doc.sha256 == sha256
        {
            // Unchanged, unless it lacks the vectors an embedder now gives.
            let embedded = match embedder {
                None => true,
                Some(e) => self.store.read(|r| r.document_embedded(doc.id, &e.name)).map_err(|e| e.to_string())?,
            };
            if embedded {
                return Ok(Added::Unchanged);
            }
        }
        let extracted = hearth_docs::extract(format, &bytes).map_err(|e| e.to_string())?;
        if extracted.text.len() as u64 > MAX_TEXT_BYTES {
            return Err(format!(
                "it holds {} MB of text, more than the {} MB a document may (its text is kept, searched and synced whole)",
                (extracted.text.len() as u64).div_ceil(1 << 20),
                MAX_TEXT_BYTES >> 20
            ));
        }
        let chunks = hearth_docs::chunk(format, &extracted, Budget::default());
        let title = hearth_docs::title(format, &extracted, file);
        let embeddings = match embedder {
            None => None,
            Some(e) => {
                Some(embed_texts(e, chunks.iter().map(|c| c.text.clone()).collect()).map_err(|why| format!("could not embed it: {why}"))?)
            }
        };
        let new = NewDocument {
            workspace_id: workspace,
            path,
            title,
            format,
            sha256,
            size: bytes.len() as u64,
            text: extracted.text,
            chunks,
            embeddings,
        };
        self.store.write(|w| w.put_document(&new)).map_err(|e| e.to_string())?;
        Ok(if before.is_some() { Added::Updated } else { Added::New })
    }
}

/// The chunks' embeddings, in batches.
fn embed_texts(embedder: &Embedder, texts: Vec<String>) -> std::result::Result<ChunkEmbeddings, String> {
    let mut vectors = Vec::with_capacity(texts.len());
    for batch in texts.chunks(EMBED_BATCH) {
        let inputs: Vec<EmbedInput> = batch.iter().map(|t| EmbedInput::Text(t.clone())).collect();
        let out = embedder.model.embed(&embedder.name, &inputs).map_err(|e| e.to_string())?;
        if out.vectors.len() != inputs.len() {
            return Err(format!("the model gave {} vectors for {} chunks", out.vectors.len(), inputs.len()));
        }
        vectors.extend(out.vectors);
    }
    Ok(ChunkEmbeddings { model: embedder.name.clone(), vectors })
}

/// Weighted reciprocal rank fusion of rankings (row ids with their weight, best first): each
/// id scores the sum of `weight/(K + rank)` over the rankings it is in; best first, equal
/// scores in row order.
fn fuse(rankings: &[Vec<(i64, f64)>]) -> Vec<(i64, f64)> {
    let mut scores: std::collections::HashMap<i64, f64> = std::collections::HashMap::new();
    for ranking in rankings {
        for (i, (seq, weight)) in ranking.iter().enumerate() {
            *scores.entry(*seq).or_default() += weight / (RRF_K + i as f64 + 1.0);
        }
    }
    let mut out: Vec<(i64, f64)> = scores.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Reads a file, refusing one that grew past `limit` since it was measured.
fn read_at_most(file: &Path, limit: u64) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read as _;
    let f = std::fs::File::open(file).map_err(|e| format!("could not read it: {e}"))?;
    let mut bytes = Vec::new();
    f.take(limit + 1).read_to_end(&mut bytes).map_err(|e| format!("could not read it: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(DocError::TooLarge { size: bytes.len() as u64, limit }.to_string());
    }
    Ok(bytes)
}

fn failed_reasons(failed: &[Value]) -> String {
    let first: Vec<String> =
        failed.iter().take(3).map(|f| format!("{}: {}", f["path"].as_str().unwrap_or("?"), f["error"].as_str().unwrap_or("?"))).collect();
    let more = failed.len().saturating_sub(3);
    if more > 0 { format!("{} (and {more} more)", first.join("; ")) } else { first.join("; ") }
}

/// The files under `paths`, in order, and how many in folders were skipped (not a format
/// Hearth reads, or hidden). A folder is walked through symbolic links, each real folder
/// once (a link loop ends). A path that is neither is an error in `failed`.
fn collect_files(paths: &[PathBuf], failed: &mut Vec<Value>) -> (Vec<PathBuf>, u64) {
    let mut files = Vec::new();
    let mut seen_dirs = HashSet::new();
    let mut seen_files = HashSet::new();
    let mut skipped = 0u64;
    let mut fail = |path: &Path, why: String| failed.push(json!({ "path": path.display().to_string(), "error": why }));
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                fail(root, format!("could not read it: {e}"));
                continue;
            }
        };
        if meta.is_file() {
            if seen_files.insert(root.clone()) {
                files.push(root.clone());
            }
            continue;
        }
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            match std::fs::canonicalize(&dir) {
                Ok(real) => {
                    if !seen_dirs.insert(real) {
                        continue;
                    }
                }
                Err(e) => {
                    fail(&dir, format!("could not read it: {e}"));
                    continue;
                }
            }
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
                Ok(list) => list.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    fail(&dir, format!("could not read the folder: {e}"));
                    continue;
                }
            };
            entries.sort();
            // Folders pushed in reverse so they are walked in name order.
            for entry in entries.into_iter().rev() {
                let hidden = entry.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
                match std::fs::metadata(&entry) {
                    Ok(m) if m.is_dir() && !hidden => stack.push(entry),
                    Ok(m) if m.is_file() && !hidden && hearth_docs::format_of(&entry).is_some() => {
                        if files.len() >= MAX_FILES {
                            skipped += 1;
                        } else if seen_files.insert(entry.clone()) {
                            files.push(entry);
                        }
                    }
                    // A dangling link, a socket, a hidden or unread kind of file.
                    _ => skipped += 1,
                }
            }
        }
    }
    // Files found in folders were pushed in reverse name order per folder; the order does not
    // matter to the result, but a stable one makes progress readable.
    files.sort();
    (files, skipped)
}

mod vectors;

pub(crate) use vectors::Cache as VectorCache;

#[cfg(test)]
mod tests;
