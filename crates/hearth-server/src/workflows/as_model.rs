//! A workflow answering as a model (`model: "workflow/<id>"` on `/v1/chat/completions`): the
//! run starts with the last user message as its input (the start input named `input`, else
//! the first one) and answers with its output (the single output's text, else the outputs as
//! JSON). Like any model request it holds an in-flight place, and a client that goes away
//! cancels the run. The wire format is the chat route's (`openai/chat.rs`).

use std::sync::Arc;

use axum::http::StatusCode;
use hearth_core::workflow::WorkflowRuns;
use hearth_llm::{ChatMessage, Usage};
use hearth_types::{Role, RunId, RunStatus, WorkflowId};
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::limits::Slot;

/// A workflow run answering as a model: cancelled if dropped before it ends (the client went
/// away), holding its in-flight place meanwhile.
pub(crate) struct RunWatch {
    workflows: Arc<WorkflowRuns>,
    run: RunId,
    done: bool,
    _slot: Slot,
}

/// What a finished workflow run answers.
pub(crate) struct WorkflowAnswer {
    /// `chatcmpl-` and the run's id.
    pub(crate) id: String,
    pub(crate) content: String,
    pub(crate) usage: Usage,
}

/// Starts workflow `workflow` (its id as the request named it) on the conversation's last
/// user message.
pub(crate) async fn start(state: &AppState, workflow: &str, messages: &[ChatMessage]) -> ApiResult<RunWatch> {
    let id = WorkflowId::parse_field(workflow, "model")?;
    let question = messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.clone());
    let question = question.ok_or_else(|| ApiError::invalid("messages", "a workflow needs a user message for its input"))?;
    let slot = state.room.take()?;
    let runs = state.workflows.clone();
    let handle = tokio::runtime::Handle::current();
    let run = tokio::task::spawn_blocking(move || {
        let _enter = handle.enter();
        runs.start_with_text(id, &question)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(RunWatch { workflows: state.workflows.clone(), run: run.id, done: false, _slot: slot })
}

impl RunWatch {
    /// Waits for the run; one that did not succeed is the upstream's failure (502).
    pub(crate) async fn answer(mut self) -> ApiResult<WorkflowAnswer> {
        let detail = self.workflows.wait(self.run).await;
        self.done = true;
        let run = detail?.run;
        if run.status != RunStatus::Succeeded {
            let why = run.error.unwrap_or_else(|| run.status.as_str().to_owned());
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream",
                format!("workflow run {} {}: {why}", run.id, run.status.as_str()),
            ));
        }
        let content = match run.outputs.values().collect::<Vec<_>>().as_slice() {
            [Value::String(s)] => s.clone(),
            [other] => other.to_string(),
            _ => Value::Object(run.outputs.clone()).to_string(),
        };
        let usage = Usage { prompt_tokens: run.prompt_tokens, completion_tokens: run.completion_tokens, cached_prompt_tokens: 0 };
        Ok(WorkflowAnswer { id: format!("chatcmpl-{}", run.id.as_uuid().simple()), content, usage })
    }
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.workflows.cancel(self.run);
        }
    }
}
