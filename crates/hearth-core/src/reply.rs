//! Replying in a chat: the driver between the store and a [`ChatModel`].
//!
//! One reply is: store the person's message; store an empty assistant message (status
//! `streaming`) under it; send the branch on screen, with the workspace's system prompt first,
//! to the model; hand each piece of text to the caller as it arrives; and finally save what
//! was produced with its status (`complete`, `cancelled` with the partial text, or `error`
//! with the reason), token counts and latency. The stored reply is never left `streaming`
//! when this returns.

use hearth_llm::{CancelToken, ChatEvent, ChatMessage, ChatModel, ChatRequest, FinishReason, LlmError, SamplingParams, Usage};
use hearth_types::{ChatId, Message, MessagePatch, MessageStatus, NewMessage, Role};

use crate::{AddMessage, Core, Result};

/// What to ask and how.
#[derive(Clone, Debug)]
pub struct ReplyRequest {
    pub chat: ChatId,
    /// The person's new message.
    pub text: String,
    pub model: String,
    pub params: SamplingParams,
    pub idempotency_key: Option<String>,
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
        cancel: &CancelToken,
        mut on_text: impl FnMut(&str),
    ) -> Result<Reply> {
        let question = self
            .add_message(
                request.chat,
                &AddMessage { idempotency_key: request.idempotency_key.clone(), ..AddMessage::user(request.text.clone()) },
            )?
            .message;
        // The conversation is the question's own branch, not whatever the chat shows by now
        // (another reply in the same chat may have moved it).
        let branch = self.store.read(|r| r.branch_to(question.id))?;
        let chat = self.chat(request.chat)?;
        let workspace = self.workspace(&crate::WorkspaceRef::Id(chat.workspace_id))?;
        let mut messages = Vec::new();
        if !workspace.system_prompt.trim().is_empty() {
            messages.push(ChatMessage::new(Role::System, workspace.system_prompt.clone()));
        }
        messages.extend(
            branch
                .iter()
                .filter(|m| m.status == MessageStatus::Complete)
                .map(|m| ChatMessage::new(m.role, m.content.clone())),
        );

        let pending = NewMessage {
            model: Some(request.model.clone()),
            provider: Some("local".into()),
            status: MessageStatus::Streaming,
            ..NewMessage::new(request.chat, Some(question.id), Role::Assistant, "")
        };
        let answer = self.store.write(|w| w.append_message(&pending))?.message;
        tracing::info!(chat = %request.chat, message = %answer.id, model = %request.model, "reply started");

        let started = std::time::Instant::now();
        let chat_request = ChatRequest { model: request.model.clone(), messages, params: request.params.clone() };
        let mut text = String::new();
        let outcome: Result<(FinishReason, Usage, hearth_llm::Timings), LlmError> = (|| {
            let stream = model.chat(chat_request, cancel.clone())?;
            for event in stream {
                match event? {
                    ChatEvent::Delta(d) => {
                        on_text(&d);
                        text.push_str(&d);
                    }
                    ChatEvent::Finished { reason, usage, timings } => return Ok((reason, usage, timings)),
                }
            }
            Err(LlmError::Engine("the reply ended without finishing".into()))
        })();
        let latency_ms = started.elapsed().as_millis() as u64;

        match outcome {
            Ok((reason, usage, timings)) => {
                let status = if reason == FinishReason::Cancelled { MessageStatus::Cancelled } else { MessageStatus::Complete };
                let patch = MessagePatch {
                    content: Some(text),
                    status: Some(status),
                    prompt_tokens: Some(usage.prompt_tokens),
                    completion_tokens: Some(usage.completion_tokens),
                    latency_ms: Some(latency_ms),
                    ..Default::default()
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
                    ..Default::default()
                };
                self.update_message(answer.id, &patch)?;
                tracing::warn!(message = %answer.id, error = %e, "reply failed");
                Err(e.into())
            }
        }
    }
}
