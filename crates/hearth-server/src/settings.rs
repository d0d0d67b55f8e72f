//! Settings under `/api/v1/settings`: read them all, set one.

use axum::Json;
use axum::extract::{Path, State};
use hearth_llm::ModelHost;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::{ApiJson, AppState, blocking};

#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", responses((status = 200, body = Object)))]
pub(crate) async fn settings(State(state): State<AppState>) -> ApiResult<Json<Map<String, Value>>> {
    Ok(Json(blocking(&state, |core| core.settings()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingIn {
    /// Any JSON value: a string, a number, an object, ...
    value: Value,
}

#[utoipa::path(put, path = "/api/v1/settings/{key}", tag = "settings", request_body = SettingIn, params(("key" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
pub(crate) async fn put_setting(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiJson(s): ApiJson<SettingIn>,
) -> ApiResult<Json<Map<String, Value>>> {
    // The keep-alive reaches the engine at once (it is read again at the next start too).
    let keep_alive = match key == hearth_core::KEEP_ALIVE_SETTING {
        true => Some(s.value.as_u64().ok_or_else(|| ApiError::invalid("value", "the keep-alive is a whole number of seconds"))?),
        false => None,
    };
    let settings = blocking(&state, move |core| {
        core.set_setting(&key, &s.value)?;
        core.settings()
    })
    .await?;
    if let Some(secs) = keep_alive {
        state.models.set_keep_alive(std::time::Duration::from_secs(secs));
    }
    Ok(Json(settings))
}
