//! Background jobs under `/api/v1/jobs`: list, read, cancel, and follow one's progress as
//! server-sent events. Jobs are run by the app's job runner (`hearth-host`), not by requests.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hearth_types::{Job, JobId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiResult, ErrorBody};
use crate::{AppState, blocking};

/// How often a job's event stream looks at the job: the runner may be another process, whose
/// progress only the database carries.
const POLL: Duration = Duration::from_millis(250);

fn job_id(s: &str) -> ApiResult<JobId> {
    Ok(JobId::parse_field(s, "job_id")?)
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// How many finished jobs to include besides the live ones [default: 20].
    limit: Option<u32>,
}

/// The queued and running jobs and the latest ones, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", operation_id = "list_jobs", params(ListQuery),
    responses((status = 200, body = Vec<Job>)))]
pub(crate) async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Vec<Job>>> {
    let limit = q.limit.unwrap_or(20).min(500);
    Ok(Json(blocking(&state, move |core| core.jobs(limit)).await?))
}

/// One job: where it is, its progress, and once it ended what it did (`output`) or why it
/// failed.
#[utoipa::path(get, path = "/api/v1/jobs/{job}", tag = "jobs", operation_id = "get_job", params(("job" = String, Path)),
    responses((status = 200, body = Job), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(State(state): State<AppState>, Path(job): Path<String>) -> ApiResult<Json<Job>> {
    let id = job_id(&job)?;
    Ok(Json(blocking(&state, move |core| core.job(id)).await?))
}

/// Stops a job: a queued one is cancelled at once, a running one at its next step (it then
/// reads `cancelled`). A finished job is left as it is.
#[utoipa::path(post, path = "/api/v1/jobs/{job}/cancel", tag = "jobs", operation_id = "cancel_job", params(("job" = String, Path)),
    responses((status = 202, body = Job), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn cancel(State(state): State<AppState>, Path(job): Path<String>) -> ApiResult<Response> {
    let id = job_id(&job)?;
    let job = blocking(&state, move |core| core.cancel_job(id)).await?;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

/// The job as `job` events: now, then at each change of its progress or status; the stream
/// ends after the event that shows it finished.
#[utoipa::path(get, path = "/api/v1/jobs/{job}/events", tag = "jobs", operation_id = "job_events", params(("job" = String, Path)),
    responses((status = 200, content((crate::SseEvent = "text/event-stream"))), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(State(state): State<AppState>, Path(job): Path<String>) -> ApiResult<Response> {
    let id = job_id(&job)?;
    let first = blocking(&state, move |core| core.job(id)).await?;
    let core = state.core.clone();
    // (the last job sent, whether the stream has sent its end)
    let stream = futures_util::stream::unfold((None::<Job>, false), move |(last, ended)| {
        let core = core.clone();
        let first = first.clone();
        async move {
            if ended {
                return None;
            }
            let job = match &last {
                None => first,
                Some(_) => loop {
                    tokio::time::sleep(POLL).await;
                    let core = core.clone();
                    let now = tokio::task::spawn_blocking(move || core.job(id)).await.ok()?.ok()?;
                    if Some(&now) != last.as_ref() {
                        break now;
                    }
                },
            };
            let done = job.status.is_finished();
            let data = serde_json::to_string(&job).unwrap_or_else(|_| "{}".into());
            Some((Ok::<_, Infallible>(Event::default().event("job").data(data)), (Some(job), done)))
        }
    });
    let stream = futures_util::StreamExt::take_until(stream, state.closing.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}
