//! Function calling on the local engine: tools described to the model, its calls held to
//! each tool's JSON Schema while they are sampled, and read back out of its text.
//!
//! One syntax for every model, the Hermes one that Qwen 2.5/3, Hermes, SmolLM3 and most
//! tool-tuned open models were trained on: the tools are listed in the system turn inside
//! `<tools></tools>`, a call is `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, and
//! a tool's answer comes back in a user turn inside `<tool_response></tool_response>`. A
//! model trained on it sees what it knows (the instructions are those templates' own words);
//! a model trained on none (the default model) gets the same instructions, and the grammar
//! makes its calls well-formed all the same.
//!
//! The grammar (`json_schema_to_grammar` over `{"name": <const>, "arguments": <schema>}` for
//! each tool) applies from the first token when a call is required (`required`, or a named
//! tool), so no text comes before it, and from `<tool_call>` on when the model chooses
//! (`auto`, a lazy grammar: free text until the model begins a call). With `none` the tools
//! are not shown at all. `parse.rs` reads the calls out of the streamed text.

mod parse;

use hearth_llm::{ChatMessage, ChatRequest, LlmError, Tool, ToolChoice};
use hearth_types::Role;
use serde_json::{Value, json};

pub(crate) use parse::{CallParser, OPEN};

/// How many calls one turn may make when parallel calls are on.
const MAX_PARALLEL_CALLS: usize = 8;

/// A request's conversation and constraints once its tools are taken into account.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The conversation as the chat template gets it: tools described in the system turn,
    /// earlier calls and their answers written out in the call syntax.
    pub(crate) messages: Vec<ChatMessage>,
    /// A grammar for the whole reply (a call is required).
    pub(crate) eager: Option<String>,
    /// A grammar for the reply from `<tool_call>` on (the model may call).
    pub(crate) lazy: Option<String>,
    /// Whether the reply is read for calls.
    pub(crate) parse: bool,
}

/// Checks a request's tools and choice and prepares its prompt and grammar. A request
/// without tools and without earlier calls comes back as it was.
pub(crate) fn plan(request: &ChatRequest) -> Result<Plan, LlmError> {
    check(&request.tools, &request.tool_choice)?;
    let offered = !request.tools.is_empty() && request.tool_choice != ToolChoice::None;
    if offered && request.params.format.is_some() {
        return Err(invalid("response_format", "cannot be combined with tools; use tool_choice \"none\" or leave the tools out"));
    }
    let messages = render(&request.messages, offered.then_some(request.tools.as_slice()));
    if !offered {
        return Ok(Plan { messages, eager: None, lazy: None, parse: false });
    }
    let parallel = request.parallel_tool_calls.unwrap_or(false);
    let callable: Vec<&Tool> = match &request.tool_choice {
        ToolChoice::Function(name) => request.tools.iter().filter(|t| &t.name == name).collect(),
        _ => request.tools.iter().collect(),
    };
    let call = call_grammar(&callable)?;
    let block = format!("tool-block ::= \"{OPEN}\\n\" tool-call \"\\n</tool_call>\"");
    let more = if parallel { format!(" (\"\\n\" tool-block){{0,{}}}", MAX_PARALLEL_CALLS - 1) } else { String::new() };
    let (eager, lazy) = match request.tool_choice {
        ToolChoice::Auto => (None, Some(format!("root ::= \"\\n\"? tool-call \"\\n</tool_call>\"{more}\n{block}\n{call}"))),
        _ => (Some(format!("root ::= tool-block{more}\n{block}\n{call}")), None),
    };
    Ok(Plan { messages, eager, lazy, parse: true })
}

fn invalid(field: &'static str, reason: impl Into<String>) -> LlmError {
    LlmError::Invalid { field, reason: reason.into() }
}

/// Tool names as OpenAI takes them (letters, digits, `_` and `-`, at most 64), unique;
/// parameters a JSON Schema object; a named or required choice among the tools given.
fn check(tools: &[Tool], choice: &ToolChoice) -> Result<(), LlmError> {
    for (i, tool) in tools.iter().enumerate() {
        let name = &tool.name;
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(invalid("tools", format!("tool name {name:?} must be 1 to 64 letters, digits, '_' or '-'")));
        }
        if tools[..i].iter().any(|t| &t.name == name) {
            return Err(invalid("tools", format!("tool {name:?} is given twice")));
        }
        if !tool.parameters.is_object() {
            return Err(invalid("tools", format!("the parameters of tool {name:?} must be a JSON Schema object")));
        }
    }
    match choice {
        ToolChoice::Function(name) if !tools.iter().any(|t| &t.name == name) => {
            Err(invalid("tool_choice", format!("names the function {name:?}, which is not among the tools")))
        }
        ToolChoice::Required if tools.is_empty() => Err(invalid("tool_choice", "\"required\" needs at least one tool")),
        _ => Ok(()),
    }
}

/// The GBNF rule `tool-call`: one call's JSON object, for any of `tools`, name first.
fn call_grammar(tools: &[&Tool]) -> Result<String, LlmError> {
    // Written as text: `serde_json` would sort the keys, and the grammar follows the order
    // given, which should be the one the instructions show (`name` first).
    let alternatives: Vec<String> = tools
        .iter()
        .map(|t| {
            format!(
                r#"{{"type":"object","properties":{{"name":{{"const":{}}},"arguments":{}}},"required":["name","arguments"],"additionalProperties":false}}"#,
                json!(t.name),
                t.parameters
            )
        })
        .collect();
    let schema = format!(r#"{{"anyOf":[{}]}}"#, alternatives.join(","));
    let gbnf = llama_cpp_2::json_schema_to_grammar(&schema)
        .map_err(|e| invalid("tools", format!("a tool's parameters cannot be turned into a grammar ({e})")))?;
    // The converter names the schema's rule `root`; here it is one part of a larger grammar.
    let mut renamed = String::new();
    for line in gbnf.lines() {
        match line.strip_prefix("root ::=") {
            Some(rest) => renamed.push_str(&format!("tool-call ::={rest}")),
            None => renamed.push_str(line),
        }
        renamed.push('\n');
    }
    Ok(renamed)
}

/// The conversation in the call syntax: `tools` (when offered) described in the system turn,
/// each assistant call written after its text, consecutive tool answers joined in one user
/// turn.
fn render(messages: &[ChatMessage], tools: Option<&[Tool]>) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len() + 1);
    if let Some(tools) = tools {
        let described = describe(tools);
        match messages.first() {
            Some(first) if first.role == Role::System => {
                out.push(ChatMessage::new(Role::System, format!("{}\n\n{described}", first.content)));
            }
            _ => out.push(ChatMessage::new(Role::System, described)),
        }
    }
    let skip = usize::from(tools.is_some() && messages.first().is_some_and(|m| m.role == Role::System));
    let mut answers_open = false;
    for m in &messages[skip..] {
        if m.role == Role::Tool {
            let answer = format!("<tool_response>\n{}\n</tool_response>", m.content);
            match out.last_mut() {
                Some(last) if answers_open => {
                    last.content.push('\n');
                    last.content.push_str(&answer);
                }
                _ => out.push(ChatMessage::new(Role::User, answer)),
            }
            answers_open = true;
            continue;
        }
        answers_open = false;
        if m.tool_calls.is_empty() {
            out.push(ChatMessage::new(m.role, m.content.clone()));
            continue;
        }
        let mut content = m.content.clone();
        for call in &m.tool_calls {
            // Arguments that are JSON go in as written; others as a JSON string, so the turn
            // stays well-formed.
            let arguments = match serde_json::from_str::<Value>(&call.arguments) {
                Ok(_) => call.arguments.clone(),
                Err(_) => json!(call.arguments).to_string(),
            };
            if !content.is_empty() {
                content.push('\n');
            }
            content.push_str(&format!("{OPEN}\n{{\"name\": {}, \"arguments\": {arguments}}}\n</tool_call>", json!(call.name)));
        }
        out.push(ChatMessage::new(m.role, content));
    }
    out
}

/// The tools and how to call them, in the words of the Qwen 2.5 / Hermes templates.
fn describe(tools: &[Tool]) -> String {
    let mut text = String::from(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for t in tools {
        let function =
            json!({ "type": "function", "function": { "name": t.name, "description": t.description, "parameters": t.parameters } });
        text.push('\n');
        text.push_str(&function.to_string());
    }
    text.push_str(
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within \
         <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    );
    text
}

#[cfg(test)]
mod tests;
