//! Recorded provider streams (in `testdata/`) parse to the right events; request bodies say
//! what each API expects.

use hearth_types::Role;
use hearth_types::Secret;
use serde_json::json;

use super::anthropic::AnthropicStream;
use super::openai::OpenAiStream;
use super::sse::SseDecoder;
use super::*;
use crate::{ChatMessage, ResponseFormat, SamplingParams, Tool, ToolCall, ToolChoice, Usage};

/// Feeds a recorded stream through the decoder in awkward 7-byte pieces, then ends it.
/// Returns the events and the failure that stopped it, if any.
fn replay(parser: &mut dyn ProtocolStream, text: &str) -> (Vec<ChatEvent>, Option<RemoteFailure>) {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    for piece in text.as_bytes().chunks(7) {
        let decoded = match decoder.feed(piece) {
            Ok(d) => d,
            Err(e) => return (events, Some(RemoteFailure::BadResponse(e))),
        };
        for event in decoded {
            match parser.event(event) {
                Ok(more) => events.extend(more),
                Err(f) => return (events, Some(f)),
            }
        }
    }
    match parser.end() {
        Ok(more) => events.extend(more),
        Err(f) => return (events, Some(f)),
    }
    (events, None)
}

fn text_of(events: &[ChatEvent]) -> String {
    events.iter().filter_map(|e| if let ChatEvent::Delta(d) = e { Some(d.as_str()) } else { None }).collect()
}

fn finish_of(events: &[ChatEvent]) -> (FinishReason, Usage) {
    let finishes: Vec<_> = events
        .iter()
        .filter_map(|e| if let ChatEvent::Finished { reason, usage, .. } = e { Some((*reason, *usage)) } else { None })
        .collect();
    assert_eq!(finishes.len(), 1, "exactly one Finished, last: {events:?}");
    assert!(matches!(events.last(), Some(ChatEvent::Finished { .. })), "Finished comes last");
    finishes[0]
}

/// Tool calls assembled from their deltas: (id, name, arguments) per index.
fn tool_calls(events: &[ChatEvent]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for e in events {
        if let ChatEvent::ToolCall { index, id, name, arguments } = e {
            let i = *index as usize;
            if calls.len() <= i {
                calls.resize(i + 1, Default::default());
            }
            if let Some(id) = id {
                calls[i].0 = id.clone();
            }
            if let Some(name) = name {
                calls[i].1 = name.clone();
            }
            calls[i].2.push_str(arguments);
        }
    }
    calls
}

#[test]
fn openai_text_stream_with_usage_chunk() {
    let (events, failure) = replay(&mut OpenAiStream::default(), include_str!("testdata/openai_text.sse"));
    assert_eq!(failure, None);
    assert_eq!(text_of(&events), "Hello there, caf\u{e9}!");
    let (reason, usage) = finish_of(&events);
    assert_eq!(reason, FinishReason::Stop);
    assert_eq!(usage, Usage { prompt_tokens: 19, completion_tokens: 5, cached_prompt_tokens: 0 }, "usage from the chunk after the finish");
}

#[test]
fn openai_tool_call_deltas_assemble_per_index() {
    let (events, failure) = replay(&mut OpenAiStream::default(), include_str!("testdata/openai_tools.sse"));
    assert_eq!(failure, None, "a `:` comment line is a keep-alive");
    assert_eq!(text_of(&events), "");
    assert_eq!(
        tool_calls(&events),
        vec![
            ("call_DdmO9pD3xa9XTPNJ32zg2hcA".into(), "get_weather".into(), r#"{"location":"Paris"}"#.into()),
            ("call_2".into(), "get_time".into(), "{}".into()),
        ]
    );
    let (reason, usage) = finish_of(&events);
    assert_eq!(reason, FinishReason::ToolCalls);
    assert_eq!(usage, Usage { prompt_tokens: 81, completion_tokens: 27, cached_prompt_tokens: 64 });
}

#[test]
fn openai_error_mid_stream_keeps_the_text_before_it() {
    let (events, failure) = replay(&mut OpenAiStream::default(), include_str!("testdata/openai_error_mid.sse"));
    assert_eq!(text_of(&events), "Par");
    match failure {
        Some(RemoteFailure::StreamError(m)) => assert!(m.contains("The server had an error"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(!events.iter().any(|e| matches!(e, ChatEvent::Finished { .. })));
}

#[test]
fn openai_malformed_json_and_non_sse_lines_are_bad_answers() {
    let (events, failure) = replay(&mut OpenAiStream::default(), include_str!("testdata/openai_malformed.sse"));
    assert_eq!(text_of(&events), "Hi");
    assert!(matches!(&failure, Some(RemoteFailure::BadResponse(m)) if m.contains("malformed event")), "{failure:?}");

    let (events, failure) = replay(&mut OpenAiStream::default(), include_str!("testdata/openai_garbage_line.sse"));
    assert_eq!(text_of(&events), "Hi");
    assert!(matches!(&failure, Some(RemoteFailure::BadResponse(m)) if m.contains("502 Bad Gateway")), "{failure:?}");
}

#[test]
fn openai_stream_cut_before_the_finish_is_interrupted_but_a_missing_done_is_not() {
    let text = include_str!("testdata/openai_text.sse");
    let cut = &text[..text.find("\"finish_reason\":\"stop\"").unwrap()];
    let cut = &cut[..cut.rfind("\n\n").unwrap() + 2];
    let (events, failure) = replay(&mut OpenAiStream::default(), cut);
    assert_eq!(text_of(&events), "Hello there, caf\u{e9}!");
    assert!(matches!(failure, Some(RemoteFailure::Interrupted(_))), "{failure:?}");

    let no_done = text.replace("data: [DONE]\n\n", "");
    let (events, failure) = replay(&mut OpenAiStream::default(), &no_done);
    assert_eq!(failure, None);
    assert_eq!(finish_of(&events).0, FinishReason::Stop);
}

#[test]
fn openai_whole_answers_and_model_lists() {
    let answer = json!({
        "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{ "index": 0, "finish_reason": "length", "message": { "role": "assistant", "content": "Hi!",
            "tool_calls": [{ "id": "call_9", "type": "function", "function": { "name": "f", "arguments": "{\"a\":1}" } }] } }],
        "usage": { "prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5 }
    });
    let events = openai::completion_events(&answer).unwrap();
    assert_eq!(text_of(&events), "Hi!");
    assert_eq!(tool_calls(&events), vec![("call_9".into(), "f".into(), "{\"a\":1}".into())]);
    assert_eq!(finish_of(&events), (FinishReason::Length, Usage { prompt_tokens: 3, completion_tokens: 2, cached_prompt_tokens: 0 }));
    assert!(matches!(openai::completion_events(&json!({"choices": []})), Err(RemoteFailure::BadResponse(_))));

    let list = json!({ "object": "list", "data": [{ "id": "gpt-4o-mini", "object": "model" }, { "id": "gpt-4o" }, { "id": "gpt-4o" }] });
    assert_eq!(openai::model_ids(&list).unwrap(), vec!["gpt-4o".to_owned(), "gpt-4o-mini".to_owned()]);
    assert!(openai::model_ids(&json!({ "models": [] })).is_err());
}

#[test]
fn anthropic_text_stream_counts_cached_prompt_tokens() {
    let (events, failure) = replay(&mut AnthropicStream::default(), include_str!("testdata/anthropic_text.sse"));
    assert_eq!(failure, None);
    assert_eq!(text_of(&events), "Hello there, caf\u{e9}!");
    assert_eq!(finish_of(&events), (FinishReason::Stop, Usage { prompt_tokens: 35, completion_tokens: 15, cached_prompt_tokens: 10 }));
}

#[test]
fn anthropic_tool_use_maps_onto_tool_call_deltas() {
    let (events, failure) = replay(&mut AnthropicStream::default(), include_str!("testdata/anthropic_tools.sse"));
    assert_eq!(failure, None);
    assert_eq!(text_of(&events), "Let me check.");
    assert_eq!(
        tool_calls(&events),
        vec![("toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(), "get_weather".into(), r#"{"location": "Paris"}"#.into())]
    );
    assert_eq!(finish_of(&events).0, FinishReason::ToolCalls);
}

#[test]
fn anthropic_error_event_and_a_stream_without_message_stop() {
    let (events, failure) = replay(&mut AnthropicStream::default(), include_str!("testdata/anthropic_error_mid.sse"));
    assert_eq!(text_of(&events), "Par");
    assert_eq!(failure, Some(RemoteFailure::StreamError("Overloaded".into())));

    let text = include_str!("testdata/anthropic_text.sse");
    let cut = &text[..text.find("event: message_stop").unwrap()];
    let (_, failure) = replay(&mut AnthropicStream::default(), cut);
    assert!(matches!(failure, Some(RemoteFailure::Interrupted(_))), "{failure:?}");

    let stray = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n";
    let (_, failure) = replay(&mut AnthropicStream::default(), stray);
    assert!(matches!(failure, Some(RemoteFailure::BadResponse(_))), "tool input for an unknown block: {failure:?}");
}

fn request() -> ChatRequest {
    let mut r = ChatRequest::new(
        "ignored",
        vec![
            ChatMessage::new(Role::System, "Be brief."),
            ChatMessage::new(Role::User, "Hi"),
            ChatMessage::new(Role::User, "Are you there?"),
            ChatMessage::new(Role::Assistant, "Yes."),
            ChatMessage::new(Role::User, "Weather?"),
        ],
        SamplingParams { temperature: 1.5, seed: 7, stop: vec!["END".into()], max_tokens: 64, ..SamplingParams::default() },
    );
    r.tools = vec![Tool { name: "get_weather".into(), description: "Weather".into(), parameters: json!({"type": "object"}) }];
    r
}

#[test]
fn openai_bodies_carry_only_openai_fields() {
    let body = openai::chat_body(&request(), "gpt-4o-mini");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["messages"].as_array().unwrap().len(), 5);
    assert_eq!(body["messages"][0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(body["seed"], 7);
    let mut big = request();
    big.params.seed = u64::MAX;
    assert_eq!(openai::chat_body(&big, "m")["seed"], i64::MAX, "OpenAI's seed is an int64");
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    for local_only in ["top_k", "min_p", "repeat_penalty", "ignore_eos"] {
        assert!(body.get(local_only).is_none(), "{local_only} would be refused by OpenAI");
    }
    let mut json_mode = request();
    json_mode.params.format = Some(ResponseFormat::JsonSchema(json!({"type": "object"})));
    assert_eq!(openai::chat_body(&json_mode, "m")["response_format"]["json_schema"]["schema"], json!({"type": "object"}));
}

/// A conversation in which the assistant called a tool and got its answer.
fn tool_turns() -> ChatRequest {
    let call = ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city":"Paris"}"#.into() };
    let mut r = request();
    r.messages = vec![
        ChatMessage::new(Role::User, "Weather in Paris?"),
        ChatMessage::calls("", vec![call]),
        ChatMessage::tool_result("call_1", "18 C"),
    ];
    r.tool_choice = ToolChoice::Function("get_weather".into());
    r.parallel_tool_calls = Some(false);
    r
}

#[test]
fn tool_turns_and_choices_reach_openai_in_its_shape() {
    let body = openai::chat_body(&tool_turns(), "m");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "content": "18 C", "tool_call_id": "call_1"},
        ])
    );
    assert_eq!(body["tool_choice"], json!({"type": "function", "function": {"name": "get_weather"}}));
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(openai::chat_body(&request(), "m")["tool_choice"], "auto");
    assert!(openai::chat_body(&request(), "m").get("parallel_tool_calls").is_none(), "left to the provider");
}

#[test]
fn tool_turns_and_choices_reach_anthropic_as_blocks() {
    let body = anthropic::chat_body(&tool_turns(), "m").unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "18 C"}]},
        ])
    );
    assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}));
    let mut required = request();
    required.tool_choice = ToolChoice::Required;
    assert_eq!(anthropic::chat_body(&required, "m").unwrap()["tool_choice"], json!({"type": "any"}));
}

#[test]
fn anthropic_bodies_separate_the_system_prompt_and_alternate_turns() {
    let body = anthropic::chat_body(&request(), "claude-3-5-haiku").unwrap();
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(body["max_tokens"], 64, "required by the API");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Hi\n\nAre you there?"},
            {"role": "assistant", "content": "Yes."},
            {"role": "user", "content": "Weather?"},
        ])
    );
    assert_eq!(body["temperature"], 1.0, "clamped to Anthropic's range");
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
    let mut json_mode = request();
    json_mode.params.format = Some(ResponseFormat::JsonObject);
    assert!(matches!(anthropic::chat_body(&json_mode, "m"), Err(LlmError::Invalid { field: "response_format", .. })));
}

#[test]
fn error_bodies_and_retry_after_headers() {
    assert_eq!(error_message(r#"{"error":{"message":"Invalid model","type":"invalid_request_error"}}"#), "Invalid model");
    assert_eq!(error_message(r#"{"type":"error","error":{"type":"not_found_error","message":"model: x"}}"#), "model: x");
    assert!(error_message("<!DOCTYPE html><html>…").contains("HTML"));
    assert_eq!(error_message(""), "no details");
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    headers.insert(RETRY_AFTER, HeaderValue::from_str(&soon).unwrap());
    let parsed = retry_after(&headers).unwrap();
    assert!(parsed <= Duration::from_secs(30) && parsed >= Duration::from_secs(28), "{parsed:?}");
    headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&headers), None);
}

#[test]
fn keys_are_redacted_even_when_partly_masked() {
    let key = Secret::new("sk-test-0123456789abcdefWXYZ");
    let echoed = "Incorrect API key provided: sk-test-0123456789abcdefWXYZ. Also sk-test-...efWXYZ and 89abcdefWXYZ.";
    let clean = redact(echoed, &key);
    assert!(!clean.contains("0123456789abcdef"), "{clean}");
    assert!(!clean.contains("89abcdefWXYZ"), "{clean}");
    assert!(clean.starts_with("Incorrect API key provided: "), "{clean}");
}

#[test]
fn embeddings_come_back_in_input_order_and_normalized() {
    let answer = json!({ "data": [
        { "index": 1, "embedding": [0.0, 2.0] },
        { "index": 0, "embedding": [3.0, 4.0] },
    ], "usage": { "prompt_tokens": 6 } });
    let e = embeddings(&answer, 2).unwrap();
    assert_eq!(e.vectors, vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
    assert_eq!(e.prompt_tokens, 6);
    assert!(embeddings(&answer, 3).is_err(), "fewer embeddings than inputs");
}
