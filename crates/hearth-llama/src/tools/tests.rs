//! Tool plans: what the template gets, which grammar applies when, and refused requests.

use hearth_llm::{ChatMessage, ChatRequest, LlmError, ResponseFormat, SamplingParams, Tool, ToolCall, ToolChoice};
use hearth_types::Role;
use serde_json::json;

use super::*;

fn weather() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: "The weather in a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

fn request(tools: Vec<Tool>, choice: ToolChoice) -> ChatRequest {
    let mut r = ChatRequest::new("m", vec![ChatMessage::new(Role::User, "Weather in Paris?")], SamplingParams::default());
    r.tools = tools;
    r.tool_choice = choice;
    r
}

fn field(result: Result<Plan, LlmError>) -> &'static str {
    match result {
        Err(LlmError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_tools_the_conversation_is_unchanged() {
    let r = request(vec![], ToolChoice::Auto);
    let plan = plan(&r).unwrap();
    assert_eq!(plan.messages, r.messages);
    assert!(plan.eager.is_none() && plan.lazy.is_none() && !plan.parse);
}

#[test]
fn offered_tools_are_described_in_the_system_turn() {
    let mut r = request(vec![weather()], ToolChoice::Auto);
    let plan = plan(&r).unwrap();
    assert_eq!(plan.messages.len(), 2);
    assert_eq!(plan.messages[0].role, Role::System);
    let system = &plan.messages[0].content;
    assert!(system.starts_with("# Tools\n"), "{system}");
    assert!(system.contains(r#""name":"get_weather""#), "{system}");
    assert!(system.contains("<tool_call>\n{\"name\": <function-name>"), "{system}");
    // An existing system turn keeps its text, first.
    r.messages.insert(0, ChatMessage::new(Role::System, "Be brief."));
    let plan = super::plan(&r).unwrap();
    assert_eq!(plan.messages.len(), 2);
    assert!(plan.messages[0].content.starts_with("Be brief.\n\n# Tools\n"));
    // With `none`, the model never hears of them.
    let plan = super::plan(&request(vec![weather()], ToolChoice::None)).unwrap();
    assert_eq!(plan.messages.len(), 1);
    assert!(plan.eager.is_none() && plan.lazy.is_none() && !plan.parse);
}

#[test]
fn earlier_calls_and_answers_are_written_in_the_call_syntax() {
    let mut r = request(vec![], ToolChoice::Auto);
    let calls = vec![
        ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city": "Paris"}"#.into() },
        ToolCall { id: "call_2".into(), name: "get_weather".into(), arguments: "not json".into() },
    ];
    r.messages.push(ChatMessage::calls("Checking.", calls));
    r.messages.push(ChatMessage::tool_result("call_1", "18 C"));
    r.messages.push(ChatMessage::tool_result("call_2", "bad arguments"));
    r.messages.push(ChatMessage::new(Role::User, "Thanks"));
    let plan = plan(&r).unwrap();
    let turns: Vec<(Role, &str)> = plan.messages.iter().map(|m| (m.role, m.content.as_str())).collect();
    assert_eq!(
        turns,
        vec![
            (Role::User, "Weather in Paris?"),
            (
                Role::Assistant,
                "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n\
                 <tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"not json\"}\n</tool_call>"
            ),
            (Role::User, "<tool_response>\n18 C\n</tool_response>\n<tool_response>\nbad arguments\n</tool_response>"),
            (Role::User, "Thanks"),
        ]
    );
    assert!(plan.messages.iter().all(|m| m.tool_calls.is_empty() && m.tool_call_id.is_none()));
}

#[test]
fn the_grammar_applies_from_the_start_only_when_a_call_is_required() {
    let auto = plan(&request(vec![weather()], ToolChoice::Auto)).unwrap();
    let lazy = auto.lazy.expect("auto waits for the model to begin a call");
    assert!(auto.eager.is_none() && auto.parse);
    assert!(lazy.starts_with("root ::= \"\\n\"? tool-call \"\\n</tool_call>\"\n"), "{lazy}");
    for choice in [ToolChoice::Required, ToolChoice::Function("get_weather".into())] {
        let p = plan(&request(vec![weather()], choice)).unwrap();
        let eager = p.eager.expect("a required call is constrained from the first token");
        assert!(eager.starts_with("root ::= tool-block\ntool-block ::= \"<tool_call>\\n\" tool-call"), "{eager}");
        assert!(p.lazy.is_none());
        // The schema's rule is renamed; `root` is defined once, by the plan.
        assert_eq!(eager.matches("root ::=").count(), 1, "{eager}");
        assert!(eager.contains("tool-call ::="), "{eager}");
        assert!(eager.contains("\"\\\"get_weather\\\"\""), "the name is a constant: {eager}");
    }
    let mut parallel = request(vec![weather()], ToolChoice::Required);
    parallel.parallel_tool_calls = Some(true);
    let eager = plan(&parallel).unwrap().eager.unwrap();
    assert!(eager.starts_with("root ::= tool-block (\"\\n\" tool-block){0,7}\n"), "{eager}");
}

#[test]
fn a_named_choice_allows_only_that_tool() {
    let mut time = weather();
    time.name = "get_time".into();
    let p = plan(&request(vec![weather(), time.clone()], ToolChoice::Function("get_time".into()))).unwrap();
    let eager = p.eager.unwrap();
    assert!(eager.contains("get_time") && !eager.contains("get_weather"), "{eager}");
    let p = plan(&request(vec![weather(), time], ToolChoice::Required)).unwrap();
    let eager = p.eager.unwrap();
    assert!(eager.contains("get_time") && eager.contains("get_weather"), "{eager}");
}

#[test]
fn bad_tools_and_choices_name_their_field() {
    let mut bad_name = weather();
    bad_name.name = "get weather".into();
    assert_eq!(field(plan(&request(vec![bad_name], ToolChoice::Auto))), "tools");
    assert_eq!(field(plan(&request(vec![weather(), weather()], ToolChoice::Auto))), "tools");
    let mut no_schema = weather();
    no_schema.parameters = json!("a string");
    assert_eq!(field(plan(&request(vec![no_schema], ToolChoice::Auto))), "tools");
    assert_eq!(field(plan(&request(vec![weather()], ToolChoice::Function("nope".into())))), "tool_choice");
    assert_eq!(field(plan(&request(vec![], ToolChoice::Required))), "tool_choice");
    let mut json_mode = request(vec![weather()], ToolChoice::Auto);
    json_mode.params.format = Some(ResponseFormat::JsonObject);
    assert_eq!(field(plan(&json_mode)), "response_format");
    let mut unsupported = weather();
    unsupported.parameters = json!({"type": "object", "properties": {"x": {"$ref": "https://example.com/elsewhere"}}});
    assert_eq!(field(plan(&request(vec![unsupported], ToolChoice::Required))), "tools");
}
