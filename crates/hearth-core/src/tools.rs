//! Tools in chats: what a reply may offer its model, who runs them, and who says yes.
//!
//! Core runs the tool loop (`reply.rs`) but owns no tool: the composition root attaches a
//! [`ToolHost`] (`hearth-mcp`'s toolbox: Hearth's built-in tools and the attached MCP
//! servers' ones) with [`Core::attach_tools`]. Core decides everything around a call:
//!
//! - whether a reply offers tools at all: the workspace setting [`TOOLS_SETTING`] (off by
//!   default: a tool list costs every request prompt tokens, and a small model offered tools
//!   may call one for no reason), or the send's own `tool_choice`;
//! - whether a call may run: the arguments are parsed and checked against the tool's JSON
//!   Schema first ([`check_arguments`]); a tool that changes things ([`ToolSpec::asks`])
//!   asks the person through an [`Approver`] unless its name is in [`ALLOWED_TOOLS_SETTING`]
//!   (where "always allow" puts it, and where a person marks a tool as safe to run);
//! - what the model sees: a failure, a denial or a timeout is a result like any other,
//!   marked as an error, and a result longer than [`RESULT_BYTES`] is cut, saying so.

use hearth_llm::CancellationToken;
use hearth_types::{MessageId, ToolCall, ValidationError, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Core, Result};

/// The workspace setting that offers tools in its chats' replies (`"tools": true`).
pub const TOOLS_SETTING: &str = "tools";
/// The setting that lists tools that run without asking (by the name the model sees).
pub const ALLOWED_TOOLS_SETTING: &str = "tools.allowed";
/// The setting that offers the built-in `fetch_url` tool (off unless the person turns it on).
pub const FETCH_TOOL_SETTING: &str = "tools.fetch_url";
/// The most rounds of calls one reply makes; the round after it must answer in text.
pub const MAX_ROUNDS: u32 = 8;
/// The most result text a model is given for one call (the rest is cut, saying so).
pub const RESULT_BYTES: usize = 8_000;

/// A tool a reply may offer, as the model sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by: `[A-Za-z0-9_-]{1,64}`, unique in a reply.
    pub name: String,
    pub description: String,
    /// A JSON Schema of its arguments object.
    pub parameters: Value,
    /// It changes things outside Hearth (or may): it runs only once the person says so.
    pub asks: bool,
    /// Where it comes from: `hearth`, or the MCP server's name.
    pub source: String,
}

/// What running a tool gave: text the model reads, and whether it is a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolOutput {
    pub text: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(text: impl Into<String>) -> Self {
        Self { text: text.into(), is_error: false }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self { text: text.into(), is_error: true }
    }
}

/// How an attached MCP server is doing, for the screens that list servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ServerHealth {
    /// Being started or reached.
    Starting,
    /// Answering, with this many tools.
    Ready { tools: u32 },
    /// The last try failed; another follows after a pause that grows with each failure.
    Failed { error: String, attempts: u32 },
    /// Turned off by the person.
    Disabled,
}

/// Runs tools for replies; blocking (a reply runs on a thread of its own).
pub trait ToolHost: Send + Sync {
    /// The tools a reply in `workspace` may offer, now.
    fn tools(&self, workspace: WorkspaceId) -> Vec<ToolSpec>;
    /// Runs `name` with arguments already checked against its schema. Failures, time limits
    /// and cancellation end as an error output; it never panics a reply.
    fn call(&self, workspace: WorkspaceId, name: &str, arguments: Value, cancel: &CancellationToken) -> ToolOutput;
    /// Each attached server's health, by name.
    fn health(&self) -> Vec<(String, ServerHealth)> {
        Vec::new()
    }
    /// The list of attached servers changed (the host starts, restarts or stops them).
    fn changed(&self) {}
}

/// A person's answer to "may this tool run?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// This call only.
    Once,
    /// This call, and every later call of this tool (it joins [`ALLOWED_TOOLS_SETTING`]).
    Always,
    Deny,
}

/// A call waiting for a person's answer.
#[derive(Clone, Debug)]
pub struct ApprovalRequest<'a> {
    /// The `tool` message that will hold the call's result (status `pending` meanwhile).
    pub message: MessageId,
    pub call: &'a ToolCall,
    pub tool: &'a ToolSpec,
}

/// Asks the person whether a tool that changes things may run. Blocks until they answer, or
/// the reply is cancelled (then [`Approval::Deny`]).
pub trait Approver: Send + Sync {
    fn approve(&self, request: &ApprovalRequest<'_>, cancel: &CancellationToken) -> Approval;
}

/// An approver with no one to ask (the command line, a script): every such call is denied,
/// and the model reads why.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoApprover;

impl Approver for NoApprover {
    fn approve(&self, _: &ApprovalRequest<'_>, _: &CancellationToken) -> Approval {
        Approval::Deny
    }
}

/// Parses a call's arguments and checks them against the tool's schema. The error says what
/// is wrong, for the model to read and correct.
pub fn check_arguments(tool: &ToolSpec, arguments: &str) -> std::result::Result<Value, String> {
    let text = if arguments.trim().is_empty() { "{}" } else { arguments };
    let value: Value = serde_json::from_str(text).map_err(|e| format!("the arguments are not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err("the arguments must be a JSON object".to_owned());
    }
    let validator =
        jsonschema::validator_for(&tool.parameters).map_err(|e| format!("the tool {} has a schema that cannot be used: {e}", tool.name))?;
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() { e.to_string() } else { format!("{at}: {e}") }
        })
        .collect();
    match problems.is_empty() {
        true => Ok(value),
        false => Err(format!("the arguments do not match the tool's schema: {}", problems.join("; "))),
    }
}

/// `text` within [`RESULT_BYTES`], on a character boundary, saying how much was cut.
pub(crate) fn within_budget(text: String) -> String {
    if text.len() <= RESULT_BYTES {
        return text;
    }
    let mut end = RESULT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[cut: {} more bytes]", &text[..end], text.len() - end)
}

/// Whether a workspace's settings offer tools in its replies.
pub fn tools_enabled(settings: &serde_json::Map<String, Value>) -> bool {
    settings.get(TOOLS_SETTING).and_then(Value::as_bool).unwrap_or(false)
}

impl Core {
    /// Hands Core the tools replies may use (see the module docs); replaces any before.
    pub fn attach_tools(&self, host: std::sync::Arc<dyn ToolHost>) {
        *self.tools.write().expect("tools lock") = Some(host);
    }

    /// The attached tools, if any.
    pub fn tool_host(&self) -> Option<std::sync::Arc<dyn ToolHost>> {
        self.tools.read().expect("tools lock").clone()
    }

    /// The tools that run without asking, by name.
    pub fn allowed_tools(&self) -> Result<Vec<String>> {
        Ok(allowed_in(&self.settings()?))
    }

    /// Lets `name` run without asking from now on ("always allow").
    pub fn allow_tool(&self, name: &str) -> Result<()> {
        let mut allowed = self.allowed_tools()?;
        if !allowed.iter().any(|a| a == name) {
            allowed.push(name.to_owned());
            self.store.write(|w| w.set_setting(ALLOWED_TOOLS_SETTING, &Value::from(allowed)))?;
        }
        Ok(())
    }
}

/// The allowed names in `settings` (an unreadable value allows nothing).
fn allowed_in(settings: &serde_json::Map<String, Value>) -> Vec<String> {
    settings
        .get(ALLOWED_TOOLS_SETTING)
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Refuses an [`ALLOWED_TOOLS_SETTING`] value that is not a list of names (a workspace's
/// [`TOOLS_SETTING`] is checked with its other settings, in `lib.rs`).
pub(crate) fn check_setting(key: &str, value: &Value) -> std::result::Result<(), ValidationError> {
    match key {
        ALLOWED_TOOLS_SETTING if !value.as_array().is_some_and(|a| a.iter().all(Value::is_string)) => {
            Err(ValidationError::new(ALLOWED_TOOLS_SETTING, "must be a list of tool names"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
