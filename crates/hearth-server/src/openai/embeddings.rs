//! `POST /v1/embeddings`: mean-pooled, L2-normalized embeddings, as floats or base64.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use hearth_llm::{ChatModel, EmbedInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model_name;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::{ApiJson, AppState};

/// `input`: a string, strings, token ids, or lists of token ids.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum EmbeddingInputIn {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EmbeddingRequest {
    model: String,
    input: EmbeddingInputIn,
    /// `float` (default) or `base64` (little-endian f32).
    encoding_format: Option<String>,
}

/// Floats, or with `encoding_format: base64` a base64 string of little-endian f32.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum EmbeddingData {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingObject {
    /// Always `embedding`.
    object: &'static str,
    index: u32,
    embedding: EmbeddingData,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingUsage {
    prompt_tokens: u32,
    total_tokens: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingList {
    object: &'static str,
    data: Vec<EmbeddingObject>,
    model: String,
    usage: EmbeddingUsage,
}

/// Mean-pooled, L2-normalized embeddings.
#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", request_body = EmbeddingRequest,
    responses((status = 200, body = EmbeddingList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn embeddings(State(state): State<AppState>, ApiJson(req): ApiJson<EmbeddingRequest>) -> ApiResult<Json<EmbeddingList>> {
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => return Err(ApiError::invalid("encoding_format", format!("{other:?} is not float or base64"))),
    };
    let inputs: Vec<EmbedInput> = match req.input {
        EmbeddingInputIn::One(s) => vec![EmbedInput::Text(s)],
        EmbeddingInputIn::Many(v) => v.into_iter().map(EmbedInput::Text).collect(),
        EmbeddingInputIn::Tokens(t) => vec![EmbedInput::Tokens(t)],
        EmbeddingInputIn::TokenLists(v) => v.into_iter().map(EmbedInput::Tokens).collect(),
    };
    if inputs.is_empty() || inputs.iter().any(|i| matches!(i, EmbedInput::Text(t) if t.is_empty())) {
        return Err(ApiError::invalid("input", "must not be empty (nor hold an empty string)"));
    }
    let _slot = state.room.take()?;
    if inputs.len() > 2048 {
        return Err(ApiError::invalid("input", "at most 2048 inputs per request"));
    }
    let model = model_name(&state, &req.model).await?;
    let host = state.models.clone();
    let name = model.clone();
    let embeddings = tokio::task::spawn_blocking(move || host.embed(&name, &inputs)).await.map_err(ApiError::internal)??;
    let tokens = embeddings.prompt_tokens;
    let data = embeddings
        .vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                EmbeddingData::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                EmbeddingData::Float(v)
            };
            EmbeddingObject { object: "embedding", index: i as u32, embedding }
        })
        .collect();
    Ok(Json(EmbeddingList { object: "list", data, model, usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens } }))
}
