//! A workspace's knowledge under `/api/v1`: its documents (list, add files and folders as a
//! job, upload one file, read one, remove one) and search over their chunks.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_types::{ChunkHit, Document, DocumentId, Job};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::params::workspace_ref;
use crate::{ApiJson, AppState, blocking};

fn document_id(s: &str) -> ApiResult<DocumentId> {
    Ok(DocumentId::parse_field(s, "document_id")?)
}

/// The workspace's documents, by path.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace}/documents", tag = "knowledge", operation_id = "list_documents",
    params(("workspace" = String, Path, description = "id or handle")),
    responses((status = 200, body = Vec<Document>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>, Path(ws): Path<String>) -> ApiResult<Json<Vec<Document>>> {
    let ws = workspace_ref(&ws)?;
    Ok(Json(blocking(&state, move |core| core.documents(&ws)).await?))
}

/// Files and folders to add, as paths on the machine Hearth runs on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddIn {
    /// Absolute paths of files and folders (folders are read recursively).
    paths: Vec<String>,
}

/// Adds files and folders to the workspace's knowledge: 202 with the `ingest` job that reads
/// them (follow it at `/api/v1/jobs/{job}/events`). A file whose content is unchanged is not
/// read again; each file that cannot be read is listed in the job's output.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace}/documents", tag = "knowledge", operation_id = "add_documents",
    request_body = AddIn, params(("workspace" = String, Path, description = "id or handle")),
    responses((status = 202, body = Job), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn add(State(state): State<AppState>, Path(ws): Path<String>, ApiJson(body): ApiJson<AddIn>) -> ApiResult<Response> {
    let ws = workspace_ref(&ws)?;
    let paths: Vec<PathBuf> = body.paths.into_iter().map(PathBuf::from).collect();
    let job = blocking(&state, move |core| core.add_knowledge(&ws, &paths)).await?;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct UploadQuery {
    /// The file's name, with its extension (which says its format): `notes.md`, `paper.pdf`.
    name: String,
}

/// Adds one file, sent as the request body, to the workspace's knowledge: 202 with the
/// `ingest` job that reads it. The file is kept in Hearth's data folder
/// (`knowledge/<workspace id>/<name>`); sending the same name again replaces it, and the job
/// re-indexes it only if its content changed. The body streams to disk (up to 64 MiB); the
/// file appears whole or not at all.
#[utoipa::path(post, path = "/api/v1/workspaces/{workspace}/documents/upload", tag = "knowledge", operation_id = "upload_document",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's bytes"),
    params(("workspace" = String, Path, description = "id or handle"), UploadQuery),
    responses((status = 202, body = Job), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<UploadQuery>,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let ws = workspace_ref(&ws)?;
    let place = ws.clone();
    let path = blocking(&state, move |core| core.upload_path(&place, &q.name)).await?;
    receive(body, &path).await?;
    let job = blocking(&state, move |core| core.add_knowledge(&ws, &[path])).await?;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

/// Streams `body` into a hidden file beside `path` (a folder walk skips it), then renames it
/// into place; on any failure the partial file is removed.
async fn receive(body: axum::body::Body, path: &std::path::Path) -> ApiResult<()> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("upload");
    let part = path.with_file_name(format!(".{name}.part"));
    let unwritable =
        |e: std::io::Error| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("could not store the file: {e}"));
    let result: ApiResult<()> = async {
        let mut file = tokio::fs::File::create(&part).await.map_err(unwritable)?;
        let mut stream = body.into_data_stream();
        let mut written: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::invalid("body", format!("the upload was cut off: {e}")))?;
            written += chunk.len() as u64;
            if written > hearth_core::MAX_FILE_BYTES {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the file is larger than the {} MiB Hearth reads", hearth_core::MAX_FILE_BYTES >> 20),
                ));
            }
            file.write_all(&chunk).await.map_err(unwritable)?;
        }
        file.sync_all().await.map_err(unwritable)?;
        drop(file);
        tokio::fs::rename(&part, path).await.map_err(unwritable)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    result
}

/// One document.
#[utoipa::path(get, path = "/api/v1/documents/{document}", tag = "knowledge", operation_id = "get_document",
    params(("document" = String, Path)),
    responses((status = 200, body = Document), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(State(state): State<AppState>, Path(document): Path<String>) -> ApiResult<Json<Document>> {
    let id = document_id(&document)?;
    Ok(Json(blocking(&state, move |core| core.document(id)).await?))
}

/// Removes a document and its chunks from the knowledge (the file stays).
#[utoipa::path(delete, path = "/api/v1/documents/{document}", tag = "knowledge", operation_id = "delete_document",
    params(("document" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(State(state): State<AppState>, Path(document): Path<String>) -> ApiResult<StatusCode> {
    let id = document_id(&document)?;
    blocking(&state, move |core| core.delete_document(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct SearchQuery {
    /// The words to look for.
    q: String,
    /// At most this many passages [default: 5, at most 100].
    limit: Option<u32>,
}

/// The workspace's passages that match `q` (BM25 over the chunks), best first, each with its
/// document, heading path and page.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace}/knowledge/search", tag = "knowledge", operation_id = "search_knowledge",
    params(("workspace" = String, Path, description = "id or handle"), SearchQuery),
    responses((status = 200, body = Vec<ChunkHit>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn search(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<ChunkHit>>> {
    let ws = workspace_ref(&ws)?;
    let limit = q.limit.unwrap_or(5);
    Ok(Json(blocking(&state, move |core| core.search_knowledge(&ws, &q.q, limit)).await?))
}
