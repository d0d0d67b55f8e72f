//! Anthropic's Messages API: the request (a separate system prompt, a required `max_tokens`,
//! strictly alternating turns) and its streamed events (`message_start`,
//! `content_block_start`/`_delta`/`_stop`, `message_delta`, `message_stop`, `ping`, `error`),
//! mapped onto Hearth's events: text blocks become deltas, `tool_use` blocks become tool calls
//! in OpenAI's delta shape. Pure functions.

use std::collections::HashMap;

use hearth_types::Role;
use serde_json::{Value, json};

use super::ProtocolStream;
use super::openai::error_text;
use super::sse::{SseEvent, excerpt};
use crate::{ChatEvent, ChatRequest, FinishReason, LlmError, RemoteFailure, Timings, ToolChoice, Usage};

/// The API version Hearth speaks (sent as `anthropic-version`).
pub(crate) const VERSION: &str = "2023-06-01";

/// The body of `POST {base}/messages` for `model`.
pub(crate) fn chat_body(request: &ChatRequest, model: &str) -> Result<Value, LlmError> {
    let p = &request.params;
    if p.format.is_some() {
        return Err(LlmError::Invalid {
            field: "response_format",
            reason: "Anthropic's API has no response_format; ask for JSON in the prompt".into(),
        });
    }
    let system: Vec<&str> = request.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
    // Turns must alternate: consecutive messages of one side are joined into one turn. A
    // tool's answer is a `tool_result` block in a user turn, a call a `tool_use` block.
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in request.messages.iter().filter(|m| m.role != Role::System) {
        let role = if m.role == Role::Assistant { "assistant" } else { "user" };
        let mut blocks = Vec::new();
        match &m.tool_call_id {
            Some(id) => blocks.push(json!({ "type": "tool_result", "tool_use_id": id, "content": m.content })),
            None if !m.content.is_empty() || m.tool_calls.is_empty() => blocks.push(json!({ "type": "text", "text": m.content })),
            None => {}
        }
        for call in &m.tool_calls {
            // Arguments a model wrote that are not a JSON object go back as they were, in a string.
            let input = serde_json::from_str::<Value>(&call.arguments)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({ "arguments": call.arguments }));
            blocks.push(json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": input }));
        }
        match turns.last_mut() {
            Some((last, turn)) if *last == role => turn.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = turns.into_iter().map(|(role, blocks)| json!({ "role": role, "content": turn_content(blocks) })).collect();
    let mut body = json!({
        "model": model,
        "max_tokens": p.max_tokens,
        "messages": messages,
        "stream": true,
        // Anthropic's scale ends at 1; recent models refuse temperature and top_p together.
        "temperature": p.temperature.min(1.0),
    });
    let o = body.as_object_mut().expect("an object");
    if !system.is_empty() {
        o.insert("system".into(), json!(system.join("\n\n")));
    }
    if !p.stop.is_empty() {
        o.insert("stop_sequences".into(), json!(p.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> =
            request.tools.iter().map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters })).collect();
        o.insert("tools".into(), json!(tools));
        let mut choice = match &request.tool_choice {
            ToolChoice::Auto => json!({ "type": "auto" }),
            ToolChoice::None => json!({ "type": "none" }),
            ToolChoice::Required => json!({ "type": "any" }),
            ToolChoice::Function(name) => json!({ "type": "tool", "name": name }),
        };
        if request.parallel_tool_calls == Some(false) && request.tool_choice != ToolChoice::None {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        o.insert("tool_choice".into(), choice);
    }
    Ok(body)
}

/// A turn's content: plain text when it is only text (paragraphs joined), else its blocks.
fn turn_content(blocks: Vec<Value>) -> Value {
    if blocks.iter().all(|b| b["type"] == "text") {
        let texts: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
        json!(texts.join("\n\n"))
    } else {
        json!(blocks)
    }
}

/// Reads a streamed answer.
#[derive(Debug, Default)]
pub(crate) struct AnthropicStream {
    usage: Usage,
    finish: Option<FinishReason>,
    /// Content block index -> tool call index, for `tool_use` blocks.
    tools: HashMap<u64, u32>,
    done: bool,
}

impl ProtocolStream for AnthropicStream {
    fn event(&mut self, event: SseEvent) -> Result<Vec<ChatEvent>, RemoteFailure> {
        if self.done {
            return Ok(Vec::new());
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|e| RemoteFailure::BadResponse(format!("a malformed event ({e}): {}", excerpt(&event.data))))?;
        let kind = data.get("type").and_then(Value::as_str).or(event.event.as_deref()).unwrap_or("");
        let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0) as u32;
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let usage = data.pointer("/message/usage");
                let cached = n(usage.and_then(|u| u.get("cache_read_input_tokens")));
                // Anthropic counts cached tokens apart from input_tokens; Hearth's prompt count
                // includes them, as OpenAI's does.
                self.usage.prompt_tokens = n(usage.and_then(|u| u.get("input_tokens"))) + cached;
                self.usage.cached_prompt_tokens = cached;
                self.usage.completion_tokens = n(usage.and_then(|u| u.get("output_tokens")));
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let index = self.tools.len() as u32;
                    self.tools.insert(block_index(&data)?, index);
                    let text = |k: &str| block.get(k).and_then(Value::as_str).map(str::to_owned);
                    out.push(ChatEvent::ToolCall { index, id: text("id"), name: text("name"), arguments: String::new() });
                } else if let Some(text) = block.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                    out.push(ChatEvent::Delta(text.to_owned()));
                }
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(text) = delta.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                            out.push(ChatEvent::Delta(text.to_owned()));
                        }
                    }
                    Some("input_json_delta") => {
                        let block = block_index(&data)?;
                        let index = *self.tools.get(&block).ok_or_else(|| {
                            RemoteFailure::BadResponse(format!("tool input for block {block}, which is no tool_use block"))
                        })?;
                        let partial = delta.get("partial_json").and_then(Value::as_str).unwrap_or_default();
                        out.push(ChatEvent::ToolCall { index, id: None, name: None, arguments: partial.to_owned() });
                    }
                    _ => {} // thinking, signatures, citations: not shown as reply text
                }
            }
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.finish = Some(match reason {
                        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
                        "tool_use" => FinishReason::ToolCalls,
                        _ => FinishReason::Stop,
                    });
                }
                if let Some(output) = data.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    self.usage.completion_tokens = output as u32;
                }
            }
            "message_stop" => {
                self.done = true;
                out.push(self.finished());
            }
            "error" => return Err(RemoteFailure::StreamError(error_text(data.get("error").unwrap_or(&data)))),
            _ => {} // ping, content_block_stop, and event types added later
        }
        Ok(out)
    }

    fn end(&mut self) -> Result<Vec<ChatEvent>, RemoteFailure> {
        if self.done { Ok(Vec::new()) } else { Err(RemoteFailure::Interrupted("the stream ended before message_stop".into())) }
    }
}

impl AnthropicStream {
    fn finished(&self) -> ChatEvent {
        ChatEvent::Finished { reason: self.finish.unwrap_or(FinishReason::Stop), usage: self.usage, timings: Timings::default() }
    }
}

fn block_index(data: &Value) -> Result<u64, RemoteFailure> {
    data.get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| RemoteFailure::BadResponse(format!("a content block event without an index: {}", excerpt(&data.to_string()))))
}
