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
//!    the model; hands each piece of text to the caller as it arrives; and finally
//!    saves what was produced with its status (`complete`, `cancelled` with the partial text,
//!    or `error` with the reason), token counts, latency and the passages it was given
//!    (its citations). The stored reply is never left
//!    `streaming` when it returns.
//!
//! [`Core::reply`] does both, for callers that wait (the CLI).

use hearth_llm::{CancellationToken, ChatEvent, ChatMessage, ChatModel, ChatRequest, FinishReason, LlmError, SamplingParams, Usage};
use hearth_types::{ChatId, Message, MessageId, MessagePatch, MessageStatus, NewMessage, Role, ValidationError};

use crate::{AddMessage, Core, Result};

mod sources;

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
}

impl ReplyRequest {
    pub fn new(chat: ChatId, text: impl Into<String>, model: impl Into<String>, params: SamplingParams) -> Self {
        Self { chat, text: text.into(), parent_id: None, model: model.into(), params, idempotency_key: None }
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

/// The outcome of a reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub question: Message,
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
                (Role::Assistant, Some(parent)) => w.read().message(parent)?,
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

    /// Runs the model for a started reply and saves the outcome (see the module docs).
    pub fn run_reply(
        &self,
        started: StartedReply,
        model: &dyn ChatModel,
        cancel: &CancellationToken,
        mut on_text: impl FnMut(&str),
    ) -> Result<Reply> {
        let StartedReply { question, answer, request, .. } = started;
        let clock = std::time::Instant::now();
        let mut text = String::new();
        // Which model answered, and why it is not the one asked (a fallback chain moved on).
        let mut answered_by = request.model.clone();
        let mut notices: Vec<String> = Vec::new();
        let mut citations: Vec<hearth_types::Citation> = Vec::new();
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
            let chat_request = ChatRequest { fallbacks, ..ChatRequest::new(request.model.clone(), messages, request.params.clone()) };
            let stream = model.chat(chat_request, cancel.clone())?;
            for event in stream {
                match event? {
                    ChatEvent::Delta(d) => {
                        on_text(&d);
                        text.push_str(&d);
                    }
                    ChatEvent::Fallback { from, to, reason } => {
                        notices.push(format!("{from} failed ({reason}); asked {to}"));
                        answered_by = to;
                    }
                    ChatEvent::ToolCall { .. } => {}
                    ChatEvent::Finished { reason, usage, timings } => return Ok((reason, usage, timings)),
                }
            }
            Err(LlmError::Engine("the reply ended without finishing".into()).into())
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
                let answer = self.update_message(answer.id, &patch)?;
                tracing::info!(message = %answer.id, finish = reason.as_str(), tokens = usage.completion_tokens, latency_ms, "reply finished");
                Ok(Reply { question, answer, finish: Some(reason), usage, timings })
            }
            Err(e) => {
                let patch = MessagePatch {
                    content: Some(text),
                    status: Some(MessageStatus::Error),
                    error: Some(Some(e.to_string())),
                    latency_ms: Some(latency_ms),
                    ..routed
                };
                self.update_message(answer.id, &patch)?;
                tracing::warn!(message = %answer.id, error = %e, "reply failed");
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
        messages.extend(branch.iter().filter(|m| m.status == MessageStatus::Complete).map(|m| ChatMessage::new(m.role, m.content.clone())));
        let fallbacks = crate::fallback_models(&workspace.settings);
        Ok((messages, fallbacks, workspace))
    }
}
