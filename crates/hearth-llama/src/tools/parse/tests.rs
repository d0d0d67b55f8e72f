//! The call parser, fed whole and split at every character: the same text and calls either way.

use hearth_llm::{ChatEvent, ToolCall, ToolCalls};

use super::*;

/// Text and calls from feeding `pieces` in order; checks the events' shape on the way: each
/// call's first piece carries a fresh id and its name, later pieces neither.
fn run(pieces: &[&str]) -> (String, Vec<ToolCall>) {
    let mut parser = CallParser::new();
    let mut events = Vec::new();
    for piece in pieces {
        events.extend(parser.push(piece));
    }
    events.extend(parser.finish());
    let (mut text, mut calls, mut seen) = (String::new(), ToolCalls::default(), Vec::new());
    for event in events {
        match event {
            ChatEvent::Delta(d) => {
                assert!(!d.is_empty(), "no empty deltas");
                text.push_str(&d);
            }
            ChatEvent::ToolCall { index, id, name, arguments } => {
                let first = !seen.contains(&index);
                assert_eq!(id.is_some(), first, "the id comes on the first piece only");
                assert_eq!(name.is_some(), first, "the name comes on the first piece only");
                seen.push(index);
                calls.push(index, id, name, &arguments);
            }
            other => panic!("{other:?}"),
        }
    }
    let calls = calls.into_vec();
    for c in &calls {
        assert!(c.id.starts_with("call_"), "{c:?}");
    }
    (text, calls)
}

/// The same, fed whole and one character at a time.
fn both(text: &str) -> (String, Vec<(String, String)>) {
    let strip = |(t, calls): (String, Vec<ToolCall>)| (t, calls.into_iter().map(|c| (c.name, c.arguments)).collect::<Vec<_>>());
    let whole = strip(run(&[text]));
    let chars: Vec<String> = text.chars().map(String::from).collect();
    let split = strip(run(&chars.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(whole, split, "splitting changed the outcome of {text:?}");
    whole
}

fn call(name: &str, args: &str) -> (String, String) {
    (name.to_owned(), args.to_owned())
}

#[test]
fn plain_text_passes_through() {
    assert_eq!(both("Hello, <world> and <tool tips>!"), ("Hello, <world> and <tool tips>!".into(), vec![]));
    assert_eq!(both("ends in <tool_ca"), ("ends in <tool_ca".into(), vec![]));
    assert_eq!(both("trailing space kept \n"), ("trailing space kept \n".into(), vec![]));
}

#[test]
fn a_call_becomes_its_name_and_arguments_as_written() {
    let text =
        "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2]}}\n</tool_call>\n";
    assert_eq!(both(text), ("Let me check.".into(), vec![call("get_weather", "{\"city\": \"Paris\", \"days\": [1, 2]}")]));
}

#[test]
fn strings_may_hold_braces_quotes_and_the_closing_tag() {
    let args = r#"{"text": "a } ] \" </tool_call> {", "n": -1.5e3, "ok": true, "none": null}"#;
    let text = format!("<tool_call>{{\"name\":\"note\",\"arguments\":{args}}}</tool_call>");
    assert_eq!(both(&text), (String::new(), vec![call("note", args)]));
}

#[test]
fn several_calls_keep_their_order_and_indices() {
    let text = "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"arguments\": {\"x\": 1}, \"name\": \"b\"}\n</tool_call>";
    assert_eq!(both(text), (String::new(), vec![call("a", "{}"), call("b", "{\"x\": 1}")]));
}

#[test]
fn other_keys_are_skipped() {
    let text = "<tool_call>{\"id\": \"x\", \"name\": \"a\", \"extra\": {\"k\": [1]}, \"arguments\": {\"y\": 2}}</tool_call>";
    assert_eq!(both(text), (String::new(), vec![call("a", "{\"y\": 2}")]));
}

#[test]
fn a_block_that_is_no_call_is_given_back_as_text() {
    let text = "Try <tool_call>not json</tool_call> then <tool_call>{\"arguments\": {}}</tool_call> done";
    assert_eq!(both(text), (text.to_owned(), vec![]));
    // A block never closed is given back at the end.
    assert_eq!(both("x <tool_call>{\"nam"), ("x <tool_call>{\"nam".into(), vec![]));
}

#[test]
fn a_call_cut_off_keeps_what_was_written() {
    let (text, calls) = both("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par");
    assert_eq!(text, "");
    assert_eq!(calls, vec![call("get_weather", "{\"city\": \"Par")]);
}

#[test]
fn arguments_stream_before_the_call_ends() {
    let mut parser = CallParser::new();
    let events = parser.push("<tool_call>{\"name\": \"w\", \"arguments\": {\"city\": \"Pa");
    assert!(matches!(&events[0], ChatEvent::ToolCall { name: Some(n), .. } if n == "w"), "{events:?}");
    assert!(matches!(&events[1], ChatEvent::ToolCall { arguments, .. } if arguments == "{\"city\": \"Pa"), "{events:?}");
    let events = parser.push("ris\"}}</tool_call>");
    assert!(matches!(&events[..], [ChatEvent::ToolCall { arguments, .. }] if arguments == "ris\"}"), "{events:?}");
    assert!(parser.made_calls());
}

#[test]
fn text_after_a_call_is_the_same_however_it_is_split() {
    let text = "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>\n\nDone.";
    assert_eq!(both(text), ("\n\nDone.".into(), vec![call("a", "{}")]));
}

#[test]
fn a_name_without_arguments_is_no_call() {
    let text = "<tool_call>{\"name\": \"a\"}</tool_call>";
    assert_eq!(both(text), (text.to_owned(), vec![]));
}

#[test]
fn a_broken_block_ends_where_the_next_call_begins() {
    // Never closed, then a good call: the good one is still read.
    let text = "<tool_call>oops <tool_call>{\"name\": \"b\", \"arguments\": {\"x\": \"</tool_call>\"}}</tool_call>";
    assert_eq!(both(text), ("<tool_call>oops ".into(), vec![call("b", "{\"x\": \"</tool_call>\"}")]));
}
