//! Function calling's vocabulary: the tools a request offers ([`Tool`]), how the model may
//! use them ([`ToolChoice`]), the calls it makes ([`ToolCall`]), and [`ToolCalls`], which
//! puts a stream's call pieces ([`crate::ChatEvent::ToolCall`]) back together.
//!
//! Arguments stay JSON text, as OpenAI's API carries them: a model's call is what it wrote,
//! and whoever runs the tool parses and checks it (a call whose arguments are not valid JSON
//! is still a call the model made, and the answer to it says what was wrong).

use serde::{Deserialize, Serialize};

/// A function a model may call, described by a JSON Schema of its arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub parameters: serde_json::Value,
}

/// A call a model made (stored in chats as it is, so it lives in `hearth-types`).
pub use hearth_types::ToolCall;

/// Whether and which tools the model may call (OpenAI's `tool_choice`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides between text and calls.
    #[default]
    Auto,
    /// No calls: the tools are not even shown to the model.
    None,
    /// At least one call, and no text before it.
    Required,
    /// A call to this tool, and nothing else.
    Function(String),
}

/// A fresh call id in OpenAI's form (`call_` and 24 characters).
pub fn call_id() -> String {
    let tail: String = std::iter::repeat_with(fastrand::alphanumeric).take(24).collect();
    format!("call_{tail}")
}

/// The most calls one reply may make (more than any model makes at once).
pub(crate) const MAX_CALLS: usize = 128;

/// The calls of one reply, assembled from its stream's pieces: the first piece of call
/// `index` names it, later ones add to its arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolCalls {
    calls: Vec<ToolCall>,
}

impl ToolCalls {
    /// Adds one piece. An index never seen before starts a call (missing id or name are
    /// left empty rather than guessed). The name is the first one given (some servers repeat
    /// it on every piece). An index of [`MAX_CALLS`] or more is ignored: it comes from a
    /// server, and calls are made one slot per index.
    pub fn push(&mut self, index: u32, id: Option<String>, name: Option<String>, arguments: &str) {
        let index = index as usize;
        if index >= MAX_CALLS {
            tracing::warn!(index, "a tool call piece with an index past {MAX_CALLS} was ignored");
            return;
        }
        while self.calls.len() <= index {
            self.calls.push(ToolCall { id: String::new(), name: String::new(), arguments: String::new() });
        }
        let call = &mut self.calls[index];
        if let Some(id) = id {
            call.id = id;
        }
        if let Some(name) = name
            && call.name.is_empty()
        {
            call.name = name;
        }
        call.arguments.push_str(arguments);
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn into_vec(self) -> Vec<ToolCall> {
        self.calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_make_whole_calls() {
        let mut calls = ToolCalls::default();
        calls.push(0, Some("call_a".into()), Some("weather".into()), "");
        calls.push(0, None, None, "{\"city\":");
        calls.push(1, Some("call_b".into()), Some("time".into()), "{}");
        calls.push(0, None, Some("weather".into()), " \"Paris\"}");
        calls.push(u32::MAX, Some("call_x".into()), Some("huge".into()), "{}");
        assert_eq!(
            calls.into_vec(),
            vec![
                ToolCall { id: "call_a".into(), name: "weather".into(), arguments: "{\"city\": \"Paris\"}".into() },
                ToolCall { id: "call_b".into(), name: "time".into(), arguments: "{}".into() },
            ]
        );
    }

    #[test]
    fn call_ids_are_openai_shaped_and_fresh() {
        let (a, b) = (call_id(), call_id());
        assert!(a.starts_with("call_") && a.len() == 29, "{a}");
        assert_ne!(a, b);
    }
}
