//! OpenAI's Chat Completions wire format, spoken by OpenAI and by most others (Groq,
//! OpenRouter, Mistral, DeepSeek, Together, Gemini's compatible endpoint, Ollama, LM Studio,
//! llama.cpp's server, another Hearth): the request body, the streamed chunks, the
//! non-streamed answer some servers send instead, and the model list. Pure functions.

use serde_json::{Map, Value, json};

use super::sse::{SseEvent, excerpt};
use super::{ProtocolStream, role_name};
use crate::{ChatEvent, ChatMessage, ChatRequest, FinishReason, RemoteFailure, ResponseFormat, Timings, ToolChoice, Usage};

/// One message in OpenAI's shape: an assistant turn's calls, a tool turn's call id.
fn message(m: &ChatMessage) -> Value {
    let mut out = json!({ "role": role_name(m.role), "content": m.content });
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments } }))
            .collect();
        out["tool_calls"] = json!(calls);
        if m.content.is_empty() {
            out["content"] = Value::Null;
        }
    }
    if let Some(id) = &m.tool_call_id {
        out["tool_call_id"] = json!(id);
    }
    out
}

/// The body of `POST {base}/chat/completions` for `model` (the provider's own name for it).
pub(crate) fn chat_body(request: &ChatRequest, model: &str) -> Value {
    let p = &request.params;
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
        "max_tokens": p.max_tokens,
        "temperature": p.temperature,
        "top_p": p.top_p,
    });
    let o = body.as_object_mut().expect("an object");
    if p.seed != 0 {
        // OpenAI's seed is a signed 64-bit integer; Hearth's is any u64.
        o.insert("seed".into(), json!(p.seed & i64::MAX as u64));
    }
    if !p.stop.is_empty() {
        o.insert("stop".into(), json!(p.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(
                |t| json!({ "type": "function", "function": { "name": t.name, "description": t.description, "parameters": t.parameters } }),
            )
            .collect();
        o.insert("tools".into(), json!(tools));
        let choice = match &request.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Function(name) => json!({ "type": "function", "function": { "name": name } }),
        };
        o.insert("tool_choice".into(), choice);
        if let Some(parallel) = request.parallel_tool_calls {
            o.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    match &p.format {
        None => {}
        Some(ResponseFormat::JsonObject) => {
            o.insert("response_format".into(), json!({ "type": "json_object" }));
        }
        Some(ResponseFormat::JsonSchema(schema)) => {
            o.insert("response_format".into(), json!({ "type": "json_schema", "json_schema": { "name": "response", "schema": schema } }));
        }
    }
    body
}

/// Reads a streamed answer: `data: {chunk}` events, then `data: [DONE]`.
#[derive(Debug, Default)]
pub(crate) struct OpenAiStream {
    finish: Option<FinishReason>,
    usage: Usage,
    done: bool,
}

impl ProtocolStream for OpenAiStream {
    fn event(&mut self, event: SseEvent) -> Result<Vec<ChatEvent>, RemoteFailure> {
        if self.done {
            return Ok(Vec::new());
        }
        if event.data.trim() == "[DONE]" {
            self.done = true;
            return Ok(vec![self.finished()]);
        }
        let chunk: Value = serde_json::from_str(&event.data)
            .map_err(|e| RemoteFailure::BadResponse(format!("a malformed event ({e}): {}", excerpt(&event.data))))?;
        if let Some(error) = chunk.get("error") {
            return Err(RemoteFailure::StreamError(error_text(error)));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = read_usage(usage);
        }
        let mut out = Vec::new();
        let Some(choice) = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else {
            return Ok(out); // the usage chunk has no choices
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                out.push(ChatEvent::Delta(text.to_owned()));
            }
            for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                out.push(tool_call(call, None)?);
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(finish_reason(reason));
        }
        Ok(out)
    }

    fn end(&mut self) -> Result<Vec<ChatEvent>, RemoteFailure> {
        match (self.done, self.finish) {
            (true, _) => Ok(Vec::new()),
            // Some servers close after the finishing chunk without `[DONE]`: the reply is whole.
            (false, Some(_)) => {
                self.done = true;
                Ok(vec![self.finished()])
            }
            (false, None) => Err(RemoteFailure::Interrupted("the stream ended before the reply finished".into())),
        }
    }
}

impl OpenAiStream {
    fn finished(&self) -> ChatEvent {
        ChatEvent::Finished { reason: self.finish.unwrap_or(FinishReason::Stop), usage: self.usage, timings: Timings::default() }
    }
}

/// A whole (non-streamed) answer, for servers that ignore `stream: true`.
pub(crate) fn completion_events(body: &Value) -> Result<Vec<ChatEvent>, RemoteFailure> {
    let bad = |what: &str| RemoteFailure::BadResponse(format!("{what}: {}", excerpt(&body.to_string())));
    if let Some(error) = body.get("error") {
        return Err(RemoteFailure::StreamError(error_text(error)));
    }
    let choice = body.get("choices").and_then(Value::as_array).and_then(|c| c.first()).ok_or_else(|| bad("an answer without choices"))?;
    let message = choice.get("message").ok_or_else(|| bad("a choice without a message"))?;
    let mut out = Vec::new();
    if let Some(text) = message.get("content").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        out.push(ChatEvent::Delta(text.to_owned()));
    }
    for (i, call) in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
        out.push(tool_call(call, Some(i as u32))?);
    }
    let reason = choice.get("finish_reason").and_then(Value::as_str).map(finish_reason).unwrap_or(FinishReason::Stop);
    let usage = body.get("usage").filter(|u| u.is_object()).map(read_usage).unwrap_or_default();
    out.push(ChatEvent::Finished { reason, usage, timings: Timings::default() });
    Ok(out)
}

/// Model ids from `GET {base}/models` (`{"data": [{"id": ...}]}`; Ollama's and others' too).
pub(crate) fn model_ids(body: &Value) -> Result<Vec<String>, RemoteFailure> {
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| RemoteFailure::BadResponse(format!("a model list without data: {}", excerpt(&body.to_string()))))?;
    let mut ids: Vec<String> = data.iter().filter_map(|m| m.get("id").and_then(Value::as_str)).map(str::to_owned).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn tool_call(call: &Value, index: Option<u32>) -> Result<ChatEvent, RemoteFailure> {
    let index = match index {
        Some(i) => i,
        None => call
            .get("index")
            .and_then(Value::as_u64)
            .ok_or_else(|| RemoteFailure::BadResponse(format!("a tool call without an index: {}", excerpt(&call.to_string()))))?
            as u32,
    };
    let function = call.get("function").cloned().unwrap_or(Value::Object(Map::new()));
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(ChatEvent::ToolCall {
        index,
        id: text(call, "id"),
        name: text(&function, "name"),
        arguments: text(&function, "arguments").unwrap_or_default(),
    })
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        _ => FinishReason::Stop, // "stop", "content_filter", and whatever comes next
    }
}

fn read_usage(usage: &Value) -> Usage {
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0) as u32;
    Usage {
        prompt_tokens: n(usage.get("prompt_tokens")),
        completion_tokens: n(usage.get("completion_tokens")),
        cached_prompt_tokens: n(usage.pointer("/prompt_tokens_details/cached_tokens")),
    }
}

/// The message of an `{"error": ...}` value (an object with `message`, or a bare string).
pub(crate) fn error_text(error: &Value) -> String {
    match error {
        Value::String(s) => s.clone(),
        _ => error.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| excerpt(&error.to_string())),
    }
}
