//! One error shape for every route: OpenAI's `{"error":{message,type,param,code}}`.
//!
//! `code` is Hearth's stable code (the same words as `hearth_core::ErrorCode`), `type` is
//! OpenAI's class for the status, so the openai SDKs raise their matching exception
//! (`NotFoundError` for 404, `AuthenticationError` for 401, ...). Internal errors keep their
//! detail in the log, not in the response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_core::ErrorCode;
use serde::Serialize;
use utoipa::ToSchema;

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// What is wrong with a workflow definition (`invalid_workflow`), every problem.
    pub problems: Vec<hearth_core::workflow::Problem>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorObject,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorObject {
    message: String,
    /// OpenAI's error class for the status.
    r#type: &'static str,
    param: Option<String>,
    /// Hearth's stable code.
    code: &'static str,
    /// With `invalid_workflow`: every problem of the definition, naming its node or edge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<ProblemOut>,
}

/// One problem of a definition, naming its node or edge.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProblemOut {
    node_id: Option<String>,
    edge_id: Option<String>,
    message: String,
}

impl From<&hearth_core::workflow::Problem> for ProblemOut {
    fn from(p: &hearth_core::workflow::Problem) -> Self {
        Self { node_id: p.node_id.clone(), edge_id: p.edge_id.clone(), message: p.message.clone() }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), param: None, problems: Vec::new() }
    }

    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self { param: Some(param.to_owned()), ..Self::new(StatusCode::BAD_REQUEST, "invalid", message) }
    }

    pub fn not_found(param: &str, message: impl Into<String>) -> Self {
        Self { param: Some(param.to_owned()), ..Self::new(StatusCode::NOT_FOUND, "not_found", message) }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong API token: send `Authorization: Bearer <token>` (`hearth token show` prints it)",
        )
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the server log has the details")
    }

    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The inner object, as SSE `error` events carry it.
    pub(crate) fn object(&self) -> serde_json::Value {
        serde_json::json!({ "message": self.message, "type": self.kind(), "param": self.param, "code": self.code })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorObject {
                message: self.message.clone(),
                r#type: self.kind(),
                param: self.param.clone(),
                code: self.code,
                problems: self.problems.iter().map(Into::into).collect(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<hearth_core::Error> for ApiError {
    fn from(e: hearth_core::Error) -> Self {
        let code = e.code();
        let status = match code {
            ErrorCode::Invalid | ErrorCode::InvalidWorkflow => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::Busy | ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Upstream => StatusCode::BAD_GATEWAY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Corrupt | ErrorCode::NewerSchema | ErrorCode::Internal => return ApiError::internal(e),
        };
        let problems = match &e {
            hearth_core::Error::Workflow(p) => p.clone(),
            _ => Vec::new(),
        };
        Self { status, code: code.as_str(), message: e.to_string(), param: e.field().map(str::to_owned), problems }
    }
}

impl From<hearth_llm::LlmError> for ApiError {
    fn from(e: hearth_llm::LlmError) -> Self {
        hearth_core::Error::from(e).into()
    }
}

impl From<hearth_types::ValidationError> for ApiError {
    fn from(e: hearth_types::ValidationError) -> Self {
        hearth_core::Error::from(e).into()
    }
}

/// Puts the error responses axum's extractors make themselves (a path or query string that
/// does not parse) into the API's shape, so every error a client sees is JSON.
pub(crate) async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 << 10).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&body).trim().to_owned();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => return too_large().into_response(),
        s if s.is_server_error() => return ApiError::internal(message).into_response(),
        _ => "invalid",
    };
    let message = if message.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { message };
    ApiError::new(status, code, message).into_response()
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body is larger than the server accepts")
}

pub type ApiResult<T> = Result<T, ApiError>;
