//! The tools Hearth offers over MCP, each one Core use case.
//!
//! Read-only: `search_chats`, `read_chat`, `search_knowledge`, `list_workflows` and `chat`
//! (asks a model; nothing is stored). Writing, only with [`crate::WRITES_SETTING`] on:
//! `run_workflow` (a run is recorded, and its nodes may reach the network).

use std::sync::Arc;

use hearth_core::{Core, WorkspaceRef};
use hearth_llm::{ChatMessage, ChatModel, ChatRequest, SamplingParams};
use hearth_types::{ChatId, Role, WorkflowId};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Context;

/// One MCP session's server: the tools, over [`Context`].
#[derive(Clone)]
pub struct HearthMcp {
    context: Context,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for HearthMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HearthMcp").field("tools", &self.tool_router.list_all().len()).finish_non_exhaustive()
    }
}

/// A tool's outcome: JSON text, or an error result saying why (which the agent reads).
type Outcome = Result<CallToolResult, ErrorData>;

fn answer(value: &Value) -> Outcome {
    Ok(CallToolResult::success(vec![ContentBlock::text(value.to_string())]))
}

fn refuse(reason: impl std::fmt::Display) -> Outcome {
    Ok(CallToolResult::error(vec![ContentBlock::text(reason.to_string())]))
}

/// Runs a Core use case on a blocking thread (Core is synchronous) and answers with its value.
async fn with_core<T: serde::Serialize + Send + 'static>(
    core: &Arc<Core>,
    work: impl FnOnce(&Core) -> hearth_core::Result<T> + Send + 'static,
) -> Outcome {
    let core = core.clone();
    match tokio::task::spawn_blocking(move || work(&core)).await {
        Ok(Ok(value)) => answer(&json!(value)),
        Ok(Err(e)) => refuse(e),
        Err(e) => Err(ErrorData::internal_error(format!("the tool stopped: {e}"), None)),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct SearchChats {
    /// Words to find in messages.
    query: String,
    /// Only this workspace (its handle or id).
    workspace: Option<String>,
    /// At most this many hits (default 20).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct ReadChat {
    /// The chat's id (from search_chats).
    chat_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct SearchKnowledge {
    /// What to look for, in words or meaning.
    query: String,
    /// The workspace whose documents to search (its handle or id).
    workspace: String,
    /// At most this many passages (default 5).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct Chat {
    /// The message to answer.
    message: String,
    /// A model name (a local one, or provider/model); the default model when absent.
    model: Option<String>,
    /// Instructions for the model.
    system: Option<String>,
    /// The longest answer, in tokens (default 256).
    max_tokens: Option<u32>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct RunWorkflow {
    /// The workflow's id, or a name only one workflow has.
    workflow: String,
    /// The text given to the workflow's first input.
    input: String,
}

fn workspace(text: &str) -> Result<WorkspaceRef, String> {
    text.parse::<WorkspaceRef>().map_err(|e| e.to_string())
}

#[tool_router]
impl HearthMcp {
    /// A server over `context`, with the writing tools only if the user allows them.
    pub fn new(context: Context) -> Self {
        let mut tool_router = Self::tool_router();
        let writes = context.core.settings().ok().and_then(|s| s.get(crate::WRITES_SETTING).and_then(Value::as_bool)).unwrap_or(false);
        if !writes {
            tool_router.remove_route("run_workflow");
        }
        Self { context, tool_router }
    }

    #[tool(description = "Search the user's chat messages by words; best matches first, with the chat each is in.")]
    async fn search_chats(&self, Parameters(p): Parameters<SearchChats>) -> Outcome {
        let scope = match p.workspace.as_deref().map(workspace).transpose() {
            Ok(scope) => scope,
            Err(e) => return refuse(e),
        };
        with_core(&self.context.core, move |core| core.search(&p.query, scope.as_ref(), p.limit.unwrap_or(20))).await
    }

    #[tool(description = "Read a chat: its title and its messages along the branch on screen, oldest first.")]
    async fn read_chat(&self, Parameters(p): Parameters<ReadChat>) -> Outcome {
        let Ok(id) = p.chat_id.parse::<ChatId>() else {
            return refuse(format!("{:?} is not a chat id", p.chat_id));
        };
        with_core(&self.context.core, move |core| {
            let thread = core.thread(id)?;
            let messages: Vec<Value> =
                thread.messages.iter().map(|m| json!({ "role": m.message.role, "content": m.message.content })).collect();
            Ok(json!({ "id": thread.chat.id, "title": thread.chat.title, "messages": messages }))
        })
        .await
    }

    #[tool(description = "Search a workspace's documents; passages best first, each with the document and place it comes from.")]
    async fn search_knowledge(&self, Parameters(p): Parameters<SearchKnowledge>) -> Outcome {
        let ws = match workspace(&p.workspace) {
            Ok(ws) => ws,
            Err(e) => return refuse(e),
        };
        with_core(&self.context.core, move |core| core.search_knowledge(&ws, &p.query, p.limit.unwrap_or(5))).await
    }

    #[tool(description = "List the user's workflows: id, name, description and inputs.")]
    async fn list_workflows(&self) -> Outcome {
        with_core(&self.context.core, |core| {
            let list: Vec<Value> = core
                .workflows()?
                .into_iter()
                .map(|w| {
                    let inputs: Vec<String> = hearth_core::workflow::plan(&w.graph)
                        .map(|plan| plan.inputs().into_iter().map(|(name, _)| name).collect())
                        .unwrap_or_default();
                    json!({ "id": w.id, "name": w.name, "description": w.description, "inputs": inputs })
                })
                .collect();
            Ok(list)
        })
        .await
    }

    #[tool(description = "Ask one of the user's models (local ones run offline) and get its answer. Nothing is stored.")]
    async fn chat(&self, Parameters(p): Parameters<Chat>, context: RequestContext<RoleServer>) -> Outcome {
        let (core, models) = (self.context.core.clone(), self.context.models.clone());
        // The agent cancelling, or the session or server ending, stops the generation.
        let cancel = context.ct.child_token();
        let work = move || -> Result<Value, String> {
            let model = match p.model {
                Some(m) => m,
                None => core.default_model().map_err(|e| e.to_string())?.map(|m| m.name).ok_or("there is no default model")?,
            };
            let mut messages = Vec::new();
            if let Some(system) = p.system {
                messages.push(ChatMessage::new(Role::System, system));
            }
            messages.push(ChatMessage::new(Role::User, p.message));
            let params = SamplingParams { max_tokens: p.max_tokens.unwrap_or(256).clamp(1, 4096), ..SamplingParams::default() };
            let reply = models
                .chat(ChatRequest::new(model.clone(), messages, params), cancel)
                .and_then(hearth_llm::ChatStream::collect_reply)
                .map_err(|e| e.to_string())?;
            Ok(json!({ "model": model, "answer": reply.text, "finish_reason": reply.reason }))
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(value)) => answer(&value),
            Ok(Err(e)) => refuse(e),
            Err(e) => Err(ErrorData::internal_error(format!("the tool stopped: {e}"), None)),
        }
    }

    #[tool(description = "Run one of the user's workflows with a text input and wait for its outcome (status, outputs, error).")]
    async fn run_workflow(&self, Parameters(p): Parameters<RunWorkflow>) -> Outcome {
        let core = self.context.core.clone();
        let found = tokio::task::spawn_blocking(move || find_workflow(&core, &p.workflow)).await;
        let id = match found {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => return refuse(e),
            Err(e) => return Err(ErrorData::internal_error(format!("the tool stopped: {e}"), None)),
        };
        let runs = &self.context.workflows;
        let run = match runs.start_with_text(id, &p.input) {
            Ok(run) => run,
            Err(e) => return refuse(e),
        };
        match runs.wait(run.id).await {
            Ok(detail) => answer(&json!({
                "run_id": detail.run.id, "status": detail.run.status, "outputs": detail.run.outputs, "error": detail.run.error,
            })),
            Err(e) => refuse(e),
        }
    }
}

/// A workflow by id, or by a name only one workflow has.
pub(crate) fn find_workflow(core: &Core, text: &str) -> Result<WorkflowId, String> {
    if let Ok(id) = text.parse::<WorkflowId>() {
        return Ok(id);
    }
    let named: Vec<WorkflowId> =
        core.workflows().map_err(|e| e.to_string())?.into_iter().filter(|w| w.name == text).map(|w| w.id).collect();
    match named[..] {
        [id] => Ok(id),
        [] => Err(format!("no workflow is named {text:?}")),
        _ => Err(format!("several workflows are named {text:?}; give its id")),
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for HearthMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("hearth", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Hearth is the user's local AI assistant. These tools read their chats, search their documents, \
                 list (and, when they allow it, run) their workflows, and ask their models.",
            )
    }
}
