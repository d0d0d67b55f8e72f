//! A reply's tool loop: which tools it offers, and running one call from the model's request
//! to its stored result.
//!
//! One round is stored as it happens, on the reply's branch: the assistant message keeps its
//! text and `tool_calls`; under it, one `tool` message per call (`pending` while it waits for
//! the person, `streaming` while it runs, then `complete` with the result, its `error` set
//! when the result is a failure); under the last, the next assistant message. So the branch
//! reads in order, and a reply stopped half-way leaves what happened.
//!
//! Guards, each ending as a result the model reads (never a dead reply): an unknown tool;
//! arguments that are not JSON or break the schema; a denial; the same call (name and
//! arguments) made twice in one reply, which is not run again (a small model loops); a tool
//! that fails or runs out of time (the host's limits). After [`crate::MAX_TOOL_ROUNDS`]
//! rounds the model is asked once more with no tools, so it must answer in text.

use std::collections::HashSet;

use hearth_llm::{CancellationToken, ChatMessage, ChatRequest, Tool, ToolChoice};
use hearth_types::{Message, MessageId, MessagePatch, MessageStatus, NewMessage, Role, ToolCall, ValidationError, Workspace};

use crate::tools::{MAX_ROUNDS, within_budget};
use crate::{Approval, ApprovalRequest, Approver, Core, ReplyStep, Result, ToolHost, ToolOutput, ToolSpec};

/// How far up a branch a regenerate looks for the question (the tree is bounded the same way
/// everywhere it is walked).
const MAX_WALK: usize = 10_000;

/// The tools of one reply and what it has called so far.
pub(super) struct Loop<'a> {
    core: &'a Core,
    workspace: &'a Workspace,
    /// The chat the reply is in (where its `tool` messages go).
    chat: hearth_types::ChatId,
    host: Option<std::sync::Arc<dyn ToolHost>>,
    tools: Vec<ToolSpec>,
    choice: ToolChoice,
    rounds: u32,
    /// Calls made in this reply, by name and arguments (as canonical JSON).
    made: HashSet<(String, String)>,
}

impl<'a> Loop<'a> {
    /// The tools a reply offers: none when the send said `none`, or when it said nothing and
    /// the workspace does not turn tools on. A required or named call with no such tool is
    /// refused.
    pub(super) fn new(core: &'a Core, workspace: &'a Workspace, chat: hearth_types::ChatId, asked: Option<&ToolChoice>) -> Result<Self> {
        let wanted = match asked {
            Some(ToolChoice::None) => false,
            Some(_) => true,
            None => crate::tools_enabled(&workspace.settings),
        };
        let host = core.tool_host();
        let tools = match (&host, wanted) {
            (Some(host), true) => host.tools(workspace.id),
            _ => Vec::new(),
        };
        let choice = asked.cloned().unwrap_or_default();
        match &choice {
            ToolChoice::Required if tools.is_empty() => {
                return Err(ValidationError::new("tool_choice", "a tool call is required, but there are no tools to call").into());
            }
            ToolChoice::Function(name) if !tools.iter().any(|t| &t.name == name) => {
                return Err(ValidationError::new("tool_choice", format!("there is no tool named {name:?}")).into());
            }
            _ => {}
        }
        Ok(Self { core, workspace, chat, host, tools, choice, rounds: 0, made: HashSet::new() })
    }

    /// Whether this round may call tools: calls a model makes when it may not (no tools
    /// offered, or the last round's `none`) are not run, and the reply ends there.
    pub(super) fn accepts_calls(&self) -> bool {
        !self.tools.is_empty() && self.choice != ToolChoice::None
    }

    /// Puts the tools and this round's choice on a request.
    pub(super) fn offer(&self, request: &mut ChatRequest) {
        if self.tools.is_empty() {
            return;
        }
        request.tools = self
            .tools
            .iter()
            .map(|t| Tool { name: t.name.clone(), description: t.description.clone(), parameters: t.parameters.clone() })
            .collect();
        request.tool_choice = self.choice.clone();
    }

    /// Counts a round of calls. A required or named call bound the first round only; after
    /// the last round the model must answer without tools.
    pub(super) fn next_round(&mut self) {
        self.rounds += 1;
        self.choice = if self.rounds >= MAX_ROUNDS { ToolChoice::None } else { ToolChoice::Auto };
    }

    /// Runs one call: stores its `tool` message under `parent`, asks when the tool asks
    /// first, runs it, stores the result and returns that message.
    pub(super) fn run(
        &mut self,
        call: &ToolCall,
        parent: MessageId,
        approver: &dyn Approver,
        cancel: &CancellationToken,
        on_step: &mut impl FnMut(ReplyStep<'_>),
    ) -> Result<Message> {
        // Checked before anyone is asked: a call that cannot run never waits for approval.
        let checked = self.check(call);
        let allowed = self.core.allowed_tools()?;
        let asks = checked.as_ref().is_ok_and(|(spec, _)| spec.asks && !allowed.contains(&spec.name));
        let new = NewMessage {
            status: if asks { MessageStatus::Pending } else { MessageStatus::Streaming },
            tool_call_id: Some(call.id.clone()),
            ..NewMessage::new(self.chat, Some(parent), Role::Tool, "")
        };
        let pending = self.core.store.write(|w| w.append_message(&new))?.message;
        on_step(ReplyStep::ToolCall { call, message: &pending, asks });
        let output = match checked {
            Ok((spec, arguments)) => self.outcome(call, &spec, arguments, asks.then_some(&pending), approver, cancel),
            Err(refused) => refused,
        };
        let error = output.is_error.then(|| first_line(&output.text));
        let patch = MessagePatch {
            content: Some(within_budget(output.text)),
            status: Some(MessageStatus::Complete),
            error: Some(error),
            ..Default::default()
        };
        let done = self.core.update_message(pending.id, &patch)?;
        tracing::info!(message = %done.id, tool = %call.name, failed = output.is_error, "tool call finished");
        on_step(ReplyStep::ToolResult { message: &done });
        Ok(done)
    }

    /// The call's tool and its arguments, checked; or the result that refuses it (an unknown
    /// tool, arguments that break the schema, a repeat).
    fn check(&mut self, call: &ToolCall) -> Result<(ToolSpec, serde_json::Value), ToolOutput> {
        let Some(spec) = self.tools.iter().find(|t| t.name == call.name).cloned() else {
            let names: Vec<&str> = self.tools.iter().map(|t| t.name.as_str()).collect();
            return Err(ToolOutput::error(format!("there is no tool named {:?}; the tools are: {}", call.name, names.join(", "))));
        };
        let arguments = crate::check_arguments(&spec, &call.arguments).map_err(ToolOutput::error)?;
        if !self.made.insert((call.name.clone(), arguments.to_string())) {
            return Err(ToolOutput::error(
                "this call was already made in this reply with the same arguments, and its result is above; answer with what you have",
            ));
        }
        Ok((spec, arguments))
    }

    /// What a checked call gives: asked first when it asks (`ask`: its waiting message), then run.
    fn outcome(
        &mut self,
        call: &ToolCall,
        spec: &ToolSpec,
        arguments: serde_json::Value,
        ask: Option<&Message>,
        approver: &dyn Approver,
        cancel: &CancellationToken,
    ) -> ToolOutput {
        if let Some(pending) = ask {
            match approver.approve(&ApprovalRequest { message: pending.id, call, tool: spec }, cancel) {
                Approval::Deny => return ToolOutput::error("the user did not allow this call"),
                Approval::Always => {
                    if let Err(e) = self.core.allow_tool(&spec.name) {
                        tracing::warn!(tool = %spec.name, error = %e, "could not remember that the tool is always allowed");
                    }
                }
                Approval::Once => {}
            }
            let running = MessagePatch { status: Some(MessageStatus::Streaming), ..Default::default() };
            if let Err(e) = self.core.update_message(pending.id, &running) {
                tracing::warn!(message = %pending.id, error = %e, "could not mark the tool call as running");
            }
        }
        if cancel.is_cancelled() {
            return ToolOutput::error("the reply was stopped before the tool ran");
        }
        match &self.host {
            Some(host) => host.call(self.workspace.id, &spec.name, arguments, cancel),
            None => ToolOutput::error("tools are not available here"),
        }
    }
}

/// Calls with an id each: a model (or server) that gave none gets a fresh one, so a result
/// always names its call.
pub(super) fn with_ids(calls: Vec<ToolCall>) -> Vec<ToolCall> {
    let mut seen = HashSet::new();
    calls
        .into_iter()
        .map(|mut c| {
            if c.id.is_empty() || !seen.insert(c.id.clone()) {
                c.id = hearth_llm::call_id();
                seen.insert(c.id.clone());
            }
            c
        })
        .collect()
}

/// A branch's stored messages as the turns a model reads: calls on assistant turns and
/// results as tool turns, each result kept only after its call and each call only with its
/// result (a reply stopped between the two leaves one alone, which providers refuse).
pub(super) fn turns<'m>(branch: impl Iterator<Item = &'m Message>) -> Vec<ChatMessage> {
    let branch: Vec<&Message> = branch.collect();
    let answered: HashSet<&str> = branch.iter().filter(|m| m.role == Role::Tool).filter_map(|m| m.tool_call_id.as_deref()).collect();
    let mut called: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for m in branch {
        match m.role {
            Role::Tool => {
                if let Some(id) = m.tool_call_id.as_deref().filter(|id| called.contains(id)) {
                    out.push(ChatMessage::tool_result(id, m.content.clone()));
                }
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                let calls: Vec<ToolCall> = m.tool_calls.iter().filter(|c| answered.contains(c.id.as_str())).cloned().collect();
                called.extend(m.tool_calls.iter().filter(|c| answered.contains(c.id.as_str())).map(|c| c.id.as_str()));
                match calls.is_empty() {
                    true if m.content.is_empty() => {}
                    true => out.push(ChatMessage::new(Role::Assistant, m.content.clone())),
                    false => out.push(ChatMessage::calls(m.content.clone(), calls)),
                }
            }
            role => out.push(ChatMessage::new(role, m.content.clone())),
        }
    }
    out
}

/// The person's message a reply answers: its parent, or, for a reply that came after tool
/// results, the nearest person's message above it.
pub(super) fn question_above(read: &hearth_store::Reader<'_>, parent: MessageId) -> hearth_store::Result<Message> {
    let mut at = read.message(parent)?;
    for _ in 0..MAX_WALK {
        match (at.role, at.parent_id) {
            (Role::User, _) => return Ok(at),
            (_, Some(up)) => at = read.message(up)?,
            (_, None) => break,
        }
    }
    Err(hearth_store::Error::Invalid(ValidationError::new("message", "this reply answers no question")))
}

/// The first line of a failure, short, for the message's `error` field.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}
