//! `/api/v1/providers` and `/api/v1/usage`: remote providers, their keys (which go in and
//! never come out: a response shows whether one is set and its last four characters), and
//! what every model call cost.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hearth_core::Secret;
use hearth_types::{NewProvider, Price, ProviderInfo, ProviderPatch, UsageRow};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::{ApiJson, AppState, blocking};

#[utoipa::path(get, path = "/api/v1/providers", tag = "providers",
    responses((status = 200, body = Vec<ProviderInfo>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<ProviderInfo>>> {
    Ok(Json(blocking(&state, |core| core.providers()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderIn {
    /// Lowercase letters, digits and dashes; its models are `NAME/model`.
    name: String,
    /// A preset (`openai`, `anthropic`, `groq`, `openrouter`, `mistral`, `deepseek`,
    /// `together`, `gemini`, `ollama`, `lmstudio`, `llamacpp`) or `openai-compatible`.
    kind: String,
    /// Required for `openai-compatible`; otherwise the preset's.
    base_url: Option<String>,
    default_model: Option<String>,
    /// Extra headers for every request; never credentials (set the key instead).
    #[schema(value_type = Object)]
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(post, path = "/api/v1/providers", tag = "providers", request_body = ProviderIn,
    responses((status = 201, body = ProviderInfo), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn add(State(state): State<AppState>, ApiJson(p): ApiJson<ProviderIn>) -> ApiResult<(StatusCode, Json<ProviderInfo>)> {
    let new = NewProvider {
        name: p.name,
        kind: p.kind,
        base_url: p.base_url,
        default_model: p.default_model,
        headers: p.headers,
        enabled: p.enabled,
    };
    Ok((StatusCode::CREATED, Json(blocking(&state, move |core| core.add_provider(&new)).await?)))
}

#[utoipa::path(get, path = "/api/v1/providers/{name}", tag = "providers", params(("name" = String, Path)),
    responses((status = 200, body = ProviderInfo), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<ProviderInfo>> {
    Ok(Json(blocking(&state, move |core| core.provider(&name)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderPatchIn {
    /// On another scheme, host or port than the current one, it needs `api_key` in the same
    /// request while a key is stored (400, field `api_key`, otherwise): a key only goes to the
    /// host it was set for.
    base_url: Option<String>,
    /// A new key for the provider, kept in the OS keychain like `PUT .../key`; no response
    /// ever contains it.
    api_key: Option<String>,
    /// An empty string clears it.
    default_model: Option<String>,
    #[schema(value_type = Option<Object>)]
    headers: Option<Map<String, Value>>,
    enabled: Option<bool>,
}

impl std::fmt::Debug for ProviderPatchIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderPatchIn")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "redacted"))
            .field("default_model", &self.default_model)
            .field("headers", &self.headers)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// Changes a provider. Moving it to another host takes its key in the same request.
#[utoipa::path(patch, path = "/api/v1/providers/{name}", tag = "providers", params(("name" = String, Path)), request_body = ProviderPatchIn,
    responses((status = 200, body = ProviderInfo), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(p): ApiJson<ProviderPatchIn>,
) -> ApiResult<Json<ProviderInfo>> {
    let patch = ProviderPatch {
        base_url: p.base_url,
        default_model: p.default_model.map(|m| Some(m).filter(|m| !m.trim().is_empty())),
        headers: p.headers,
        enabled: p.enabled,
    };
    let key = p.api_key.map(Secret::new);
    Ok(Json(blocking(&state, move |core| core.update_provider(&name, &patch, key.as_ref())).await?))
}

/// Removes a provider and its key.
#[utoipa::path(delete, path = "/api/v1/providers/{name}", tag = "providers", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    blocking(&state, move |core| core.remove_provider(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyIn {
    /// Stored in the OS keychain; no response ever contains it.
    key: String,
}

impl std::fmt::Debug for KeyIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyIn(redacted)")
    }
}

/// Keeps the provider's key in the OS keychain. A locked or absent keychain is a 503: the
/// key is then stored nowhere.
#[utoipa::path(put, path = "/api/v1/providers/{name}/key", tag = "providers", params(("name" = String, Path)), request_body = KeyIn,
    responses((status = 200, body = ProviderInfo), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn set_key(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(k): ApiJson<KeyIn>,
) -> ApiResult<Json<ProviderInfo>> {
    let key = Secret::new(k.key);
    Ok(Json(blocking(&state, move |core| core.set_provider_key(&name, &key)).await?))
}

#[utoipa::path(delete, path = "/api/v1/providers/{name}/key", tag = "providers", params(("name" = String, Path)),
    responses((status = 200, body = ProviderInfo), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn remove_key(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<ProviderInfo>> {
    Ok(Json(blocking(&state, move |core| core.remove_provider_key(&name)).await?))
}

/// Asks the provider for its models (a check of its URL and key) and keeps the list.
#[utoipa::path(post, path = "/api/v1/providers/{name}/test", tag = "providers", params(("name" = String, Path)),
    responses((status = 200, body = ProviderInfo), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub(crate) async fn test(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<ProviderInfo>> {
    let _slot = state.room.take()?;
    Ok(Json(blocking(&state, move |core| core.refresh_provider_models(&name)).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PresetOut {
    kind: &'static str,
    label: &'static str,
    /// `openai` or `anthropic`.
    protocol: &'static str,
    base_url: Option<&'static str>,
    needs_key: bool,
}

/// The provider kinds Hearth knows.
#[utoipa::path(get, path = "/api/v1/providers/presets", tag = "providers", responses((status = 200, body = Vec<PresetOut>)))]
pub(crate) async fn presets() -> Json<Vec<PresetOut>> {
    use hearth_llm::remote::{PRESETS, Protocol};
    Json(
        PRESETS
            .iter()
            .map(|p| PresetOut {
                kind: p.kind,
                label: p.label,
                protocol: if p.protocol == Protocol::Anthropic { "anthropic" } else { "openai" },
                base_url: p.base_url,
                needs_key: p.needs_key,
            })
            .collect(),
    )
}

// ------------------------------------------------------------------ usage

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
pub(crate) struct UsageQuery {
    /// Only the last N days (UTC, today included); all when absent.
    days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageSummary {
    rows: Vec<UsageRow>,
    calls: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// The sum of the rows with a known cost.
    cost: f64,
}

/// Every model call, local or remote, summed per UTC day, provider and model.
#[utoipa::path(get, path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, body = UsageSummary), (status = 400, body = ErrorBody)))]
pub(crate) async fn usage(State(state): State<AppState>, Query(q): Query<UsageQuery>) -> ApiResult<Json<UsageSummary>> {
    let since = match q.days {
        None => None,
        Some(0) => return Err(ApiError::invalid("days", "must be at least 1")),
        Some(days) => Some(hearth_core::since_days(days).ok_or_else(|| ApiError::invalid("days", "too far back"))?),
    };
    let rows = blocking(&state, move |core| core.usage(since)).await?;
    Ok(Json(UsageSummary {
        calls: rows.iter().map(|r| r.calls).sum(),
        prompt_tokens: rows.iter().map(|r| r.prompt_tokens).sum(),
        completion_tokens: rows.iter().map(|r| r.completion_tokens).sum(),
        cost: rows.iter().filter_map(|r| r.cost).sum(),
        rows,
    }))
}

#[utoipa::path(get, path = "/api/v1/usage/prices", tag = "usage", responses((status = 200, body = Vec<Price>)))]
pub(crate) async fn prices(State(state): State<AppState>) -> ApiResult<Json<Vec<Price>>> {
    Ok(Json(blocking(&state, |core| core.prices()).await?))
}

/// Sets a price per million tokens (`model` `*` for all of a provider's models).
#[utoipa::path(put, path = "/api/v1/usage/prices", tag = "usage", request_body = Price,
    responses((status = 200, body = Vec<Price>), (status = 400, body = ErrorBody)))]
pub(crate) async fn set_price(State(state): State<AppState>, ApiJson(price): ApiJson<Price>) -> ApiResult<Json<Vec<Price>>> {
    Ok(Json(
        blocking(&state, move |core| {
            core.set_price(&price)?;
            core.prices()
        })
        .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/usage/prices/{provider}/{model}", tag = "usage", params(("provider" = String, Path), ("model" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove_price(State(state): State<AppState>, Path((provider, model)): Path<(String, String)>) -> ApiResult<StatusCode> {
    blocking(&state, move |core| core.remove_price(&provider, &model)).await?;
    Ok(StatusCode::NO_CONTENT)
}
