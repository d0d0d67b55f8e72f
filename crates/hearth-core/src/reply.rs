//! Replying in a chat: the driver between the store and a [`ChatModel`].
//!
//! A reply happens in two steps, so that a server can answer the sender at once and let the
//! model run in the background:
//!
//! 1. [`Core::start_reply`] stores the person's message and an empty assistant message
//!    (status `streaming`) under it, in one go. Sending again with the same idempotency key
//!    returns the first pair and starts nothing (`replayed`).
//! 2. [`Core::run_reply`] sends the question's branch, with the workspace's system prompt
//!    first (and the passages of its knowledge that match the question, `sources.rs`), to
//!    the model; hands each piece of text to the caller as it arrives; runs the tools the
//!    model calls, when the reply offers tools, and asks it again with their results
//!    (`tool_loop.rs`: each round's message, call and result is stored as it happens); and finally
//!    saves what was produced with its status (`complete`, `cancelled` with the partial text,
//!    or `error` with the reason), token counts, latency and the passages it was given
//!    (its citations). The stored reply is never left
//!    `streaming` when it returns.
//!
//! [`Core::reply`] does both, for callers that wait (the CLI).

use hearth_llm::{CancellationToken, ChatEvent, ChatMessage, ChatModel, ChatRequest, FinishReason, LlmError, SamplingParams, Usage};
use hearth_types::{ChatId, Message, MessageId, MessagePatch, MessageStatus, NewMessage, Role, ValidationError};

use crate::{AddMessage, Approver, Core, NoApprover, Result};

mod sources;
mod tool_loop;

pub use sources::{KNOWLEDGE_SETTING, knowledge_enabled};

/// What to ask and how.
#[derive(Clone, Debug)]
pub struct ReplyRequest {
    pub chat: ChatId,
    /// The person's new message.
    pub text: String,
    /// Where the message goes; `None` continues the branch on screen.
    pub parent_id: Option<hearth_types::MessageId>,
    pub model: String,
    pub params: SamplingParams,
    pub idempotency_key: Option<String>,
    /// Whether and which tools the reply may call; `None` follows the workspace's setting
    /// ([`crate::TOOLS_SETTING`]). A required or named call binds the first round only.
    pub tool_choice: Option<hearth_llm::ToolChoice>,
}

impl ReplyRequest {
    pub fn new(chat: ChatId, text: impl Into<String>, model: impl Into<String>, params: SamplingParams) -> Self {
        Self { chat, text: text.into(), parent_id: None, model: model.into(), params, idempotency_key: None, tool_choice: None }
    }
}

/// A reply that has been set up: both messages are stored.
#[derive(Clone, Debug)]
pub struct StartedReply {
    pub question: Message,
    /// The assistant's message; `streaming` until [`Core::run_reply`] finishes it.
    pub answer: Message,
    /// True when the idempotency key was seen before: these are the first send's messages,
    /// and nothing needs to run.
    pub replayed: bool,
    request: ReplyRequest,
}

/// What happens during a reply, as it happens (see [`Core::run_reply_with`]).
#[derive(Clone, Copy, Debug)]
pub enum ReplyStep<'a> {
    /// More of the current assistant message's text.
    Text(&'a str),
    /// The model called a tool; `message` (a `tool` message, stored) will hold the result.
    /// `asks`: the call waits for the person's approval.
    ToolCall { call: &'a hearth_types::ToolCall, message: &'a Message, asks: bool },
    /// A call's result, stored.
    ToolResult { message: &'a Message },
    /// The reply goes on in a new assistant message, after the results.
    Continued { message: &'a Message },
}

/// The outcome of a reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub question: Message,
    /// The last assistant message (the first one, unless the reply called tools).
    pub answer: Message,
    pub finish: Option<FinishReason>,
    pub usage: Usage,
    pub timings: hearth_llm::Timings,
}

impl Core {
    /// Adds the person's message and streams the model's reply to `on_text`. A model error is
    /// saved on the reply message (status `error`) and returned as the error.
    pub fn reply(
        &self,
        request: &ReplyRequest,
        model: &dyn ChatModel,
        cancel: &CancellationToken,
        on_text: impl FnMut(&str),
    ) -> Result<Reply> {
        let started = self.start_reply(request)?;
        if started.replayed {
            let answer = started.answer;
            return Ok(Reply {
                question: started.question,
                finish: None,
                usage: Usage {
                    prompt_tokens: answer.prompt_tokens.unwrap_or(0),
                    completion_tokens: answer.completion_tokens.unwrap_or(0),
                    cached_prompt_tokens: 0,
                },
                answer,
                timings: hearth_llm::Timings::default(),
            });
        }
        self.run_reply(started, model, cancel, on_text)
    }

    /// Stores the question and the empty reply (see the module docs).
    pub fn start_reply(&self, request: &ReplyRequest) -> Result<StartedReply> {
        // A required or named call that cannot be made is refused before anything is stored.
        if let Some(choice) = &request.tool_choice {
            let workspace = self.workspace(&crate::WorkspaceRef::Id(self.chat(request.chat)?.workspace_id))?;
            tool_loop::Loop::new(self, &workspace, request.chat, Some(choice))?;
        }
        let add = AddMessage {
            parent_id: request.parent_id,
            idempotency_key: request.idempotency_key.clone(),
            ..AddMessage::user(request.text.clone())
        }
        .checked()?;
        // One transaction, so two sends racing with the same key cannot both see the question
        // without its reply and both start one.
        let (question, answer, replayed) = self.store.write(|w| {
            let appended = crate::append(w, request.chat, &add)?;
            let question = appended.message;
            if !appended.created {
                let earlier = w.read().children(question.id)?.into_iter().find(|m| m.role == Role::Assistant);
                if let Some(answer) = earlier {
                    return Ok((question, answer, true));
                }
                // The first send stored the question but no reply: reply now.
            }
            let pending = NewMessage {
                model: Some(request.model.clone()),
                provider: Some(crate::router::provider_of(&request.model).to_owned()),
                status: MessageStatus::Streaming,
                ..NewMessage::new(request.chat, Some(question.id), Role::Assistant, "")
            };
            let answer = w.append_message(&pending)?.message;
            Ok((question, answer, false))
        })?;
        if !replayed {
            tracing::info!(chat = %request.chat, message = %answer.id, model = %request.model, "reply started");
        }
        Ok(StartedReply { question, answer, replayed, request: request.clone() })
    }

    /// Starts another answer to a question already in the chat: to `to` itself when it is the
    /// person's message (an edit, which adds no reply of its own), or to its question when it
    /// is a reply (regenerate). The new reply is a sibling branch, shown from now on; nothing
    /// is overwritten.
    pub fn start_answer(&self, to: MessageId, model: &str, params: SamplingParams) -> Result<StartedReply> {
        let (question, answer) = self.store.write(|w| {
            let picked = w.read().message(to)?;
            let question = match (picked.role, picked.parent_id) {
                (Role::User, _) => picked,
                (Role::Assistant, Some(parent)) => tool_loop::question_above(&w.read(), parent)?,
                _ => {
                    return Err(hearth_store::Error::Invalid(ValidationError::new(
                        "message",
                        "only a question or a reply can be answered again",
                    )));
                }
            };
            let pending = NewMessage {
                model: Some(model.to_owned()),
                provider: Some(crate::router::provider_of(model).to_owned()),
                status: MessageStatus::Streaming,
                ..NewMessage::new(question.chat_id, Some(question.id), Role::Assistant, "")
            };
            let answer = w.append_message(&pending)?.message;
            Ok((question, answer))
        })?;
        tracing::info!(chat = %question.chat_id, message = %answer.id, model, "reply started (again)");
        let request =
            ReplyRequest { parent_id: question.parent_id, ..ReplyRequest::new(question.chat_id, question.content.clone(), model, params) };
        Ok(StartedReply { question, answer, replayed: false, request })
    }

    /// Runs the model for a started reply and saves the outcome (see the module docs),
    /// handing `on_text` each piece of text. Tools that ask first are denied ([`NoApprover`]).
    pub fn run_reply(
        &self,
        started: StartedReply,
        model: &dyn ChatModel,
        cancel: &CancellationToken,
        mut on_text: impl FnMut(&str),
    ) -> Result<Reply> {
        self.run_reply_with(started, model, cancel, &NoApprover, |step| {
            if let ReplyStep::Text(text) = step {
                on_text(text);
            }
        })
    }

    /// Runs the model for a started reply, with its tool loop (`reply/tool_loop.rs`), and saves
    /// the outcome; `on_step` hears each step as it happens, `approver` is asked before a
    /// tool that changes things runs.
    pub fn run_reply_with(
        &self,
        started: StartedReply,
        model: &dyn ChatModel,
        cancel: &CancellationToken,
        approver: &dyn Approver,
        mut on_step: impl FnMut(ReplyStep<'_>),
    ) -> Result<Reply> {
        let StartedReply { question, answer, request, .. } = started;
        let clock = std::time::Instant::now();
        // The assistant message being written: the first one, then the one after each round
        // of tool calls.
        let mut current = answer;
        let mut text = String::new();
        // Which model answered, and why it is not the one asked (a fallback chain moved on).
        let mut answered_by = request.model.clone();
        let mut notices: Vec<String> = Vec::new();
        let mut citations: Vec<hearth_types::Citation> = Vec::new();
        let mut total = Usage::default();
        let outcome: Result<(FinishReason, Usage, hearth_llm::Timings)> = (|| {
            let (mut messages, fallbacks, workspace) = self.conversation(&question)?;
            // A knowledge search that fails (the embedder crashed, say) costs the reply its
            // sources, not the reply: it says so on the message.
            match self.sources_for(&workspace, &question.content) {
                Ok(found) => citations = found,
                Err(e) => {
                    tracing::warn!(chat = %question.chat_id, error = %e, "knowledge search failed; replying without it");
                    notices.push(format!("the workspace's knowledge could not be searched ({e})"));
                }
            }
            if !citations.is_empty() {
                let given = sources::prompt(&citations);
                match messages.first_mut() {
                    Some(first) if first.role == Role::System => first.content = format!("{}\n\n{given}", first.content),
                    _ => messages.insert(0, ChatMessage::new(Role::System, given)),
                }
            }
            let mut toolset = tool_loop::Loop::new(self, &workspace, question.chat_id, request.tool_choice.as_ref())?;
            loop {
                let mut chat_request = ChatRequest {
                    fallbacks: fallbacks.clone(),
                    ..ChatRequest::new(request.model.clone(), messages.clone(), request.params.clone())
                };
                toolset.offer(&mut chat_request);
                // A token of its own: the stream cancels it when dropped, and the reply goes on.
                let stream = model.chat(chat_request, cancel.child_token())?;
                let mut calls = hearth_llm::ToolCalls::default();
                let mut finished = None;
                for event in stream {
                    match event? {
                        ChatEvent::Delta(d) => {
                            on_step(ReplyStep::Text(&d));
                            text.push_str(&d);
                        }
                        ChatEvent::Fallback { from, to, reason } => {
                            notices.push(format!("{from} failed ({reason}); asked {to}"));
                            answered_by = to;
                        }
                        ChatEvent::ToolCall { index, id, name, arguments } => calls.push(index, id, name, &arguments),
                        ChatEvent::Finished { reason, usage, timings } => {
                            finished = Some((reason, usage, timings));
                            break;
                        }
                    }
                }
                let (reason, usage, timings) = finished.ok_or_else(|| LlmError::Engine("the reply ended without finishing".into()))?;
                total.prompt_tokens += usage.prompt_tokens;
                total.completion_tokens += usage.completion_tokens;
                total.cached_prompt_tokens += usage.cached_prompt_tokens;
                if calls.is_empty() || reason == FinishReason::Cancelled || !toolset.accepts_calls() {
                    return Ok((reason, usage, timings));
                }
                // This round is done: its message keeps its text and calls, each call's
                // result goes under it, and the reply goes on in a new message.
                let calls = tool_loop::with_ids(calls.into_vec());
                let patch = MessagePatch {
                    content: Some(std::mem::take(&mut text)),
                    status: Some(MessageStatus::Complete),
                    tool_calls: Some(calls.clone()),
                    prompt_tokens: Some(usage.prompt_tokens),
                    completion_tokens: Some(usage.completion_tokens),
                    ..Default::default()
                };
                current = self.update_message(current.id, &patch)?;
                messages.push(ChatMessage::calls(current.content.clone(), calls.clone()));
                let mut parent = current.id;
                for call in &calls {
                    let result = toolset.run(call, parent, approver, cancel, &mut on_step)?;
                    messages.push(ChatMessage::tool_result(call.id.clone(), result.content.clone()));
                    parent = result.id;
                }
                toolset.next_round();
                let next = NewMessage {
                    model: Some(request.model.clone()),
                    provider: Some(crate::router::provider_of(&request.model).to_owned()),
                    status: MessageStatus::Streaming,
                    ..NewMessage::new(question.chat_id, Some(parent), Role::Assistant, "")
                };
                current = self.store.write(|w| w.append_message(&next))?.message;
                on_step(ReplyStep::Continued { message: &current });
            }
        })();
        let latency_ms = clock.elapsed().as_millis() as u64;
        // The stored reply already names the model asked; it changes only when another answered.
        let mut routed = match answered_by == request.model {
            true => MessagePatch::default(),
            false => MessagePatch {
                model: Some(Some(answered_by.clone())),
                provider: Some(Some(crate::router::provider_of(&answered_by).to_owned())),
                ..Default::default()
            },
        };
        if !notices.is_empty() {
            routed.notice = Some(Some(notices.join("; ")));
        }
        if !citations.is_empty() {
            sources::mark_cited(&mut citations, &text);
            routed.citations = Some(citations);
        }

        match outcome {
            Ok((reason, usage, timings)) => {
                let status = if reason == FinishReason::Cancelled { MessageStatus::Cancelled } else { MessageStatus::Complete };
                let patch = MessagePatch {
                    content: Some(text),
                    status: Some(status),
                    prompt_tokens: Some(usage.prompt_tokens),
                    completion_tokens: Some(usage.completion_tokens),
                    latency_ms: Some(latency_ms),
                    ..routed
                };
                let answer = self.update_message(current.id, &patch)?;
                tracing::info!(message = %answer.id, finish = reason.as_str(), tokens = total.completion_tokens, latency_ms, "reply finished");
                Ok(Reply { question, answer, finish: Some(reason), usage: total, timings })
            }
            Err(e) => {
                let patch = MessagePatch {
                    content: Some(text),
                    status: Some(MessageStatus::Error),
                    error: Some(Some(e.to_string())),
                    latency_ms: Some(latency_ms),
                    ..routed
                };
                self.update_message(current.id, &patch)?;
                tracing::warn!(message = %current.id, error = %e, "reply failed");
                Err(e)
            }
        }
    }

    /// What the model reads: the workspace's system prompt, then the question's own branch
    /// (not whatever the chat shows by now: another reply in the same chat may have moved it);
    /// the workspace's fallback chain; and the workspace.
    fn conversation(&self, question: &Message) -> Result<(Vec<ChatMessage>, Vec<String>, hearth_types::Workspace)> {
        let branch = self.store.read(|r| r.branch_to(question.id))?;
        let chat = self.chat(question.chat_id)?;
        let workspace = self.workspace(&crate::WorkspaceRef::Id(chat.workspace_id))?;
        let mut messages = Vec::new();
        if !workspace.system_prompt.trim().is_empty() {
            messages.push(ChatMessage::new(Role::System, workspace.system_prompt.clone()));
        }
        messages.extend(tool_loop::turns(branch.iter().filter(|m| m.status == MessageStatus::Complete)));
        let fallbacks = crate::fallback_models(&workspace.settings);
        Ok((messages, fallbacks, workspace))
    }
}
