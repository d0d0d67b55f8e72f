//! References between nodes: `{{#node_id.path#}}` inside text settings.
//!
//! A path goes into objects by key and into lists by index (`{{#fetch.body.items.0.name#}}`).
//! A setting that is one reference and nothing else keeps the value's type; inside other
//! text, strings go in as they are and other values as JSON. A node that was skipped (on a
//! branch the run did not take) reads as null, so a join after a condition can name both
//! branches; a field a node that ran does not have is an error.
//!
//! Settings where a value must not change the text's structure (an http node's URL and
//! body) take the values apart from the literal text ([`Scope::parts`]) and insert them
//! themselves (`request.rs`).

use std::collections::HashMap;

use serde_json::Value;

const OPEN: &str = "{{#";
const CLOSE: &str = "#}}";

/// The largest value a run works with: what one node produces, and what one setting renders
/// to. Without it a chain of variable nodes that each repeat the one before doubles a value
/// until the app runs out of memory, and one reference repeated in a template multiplies it.
pub(crate) const MAX_VALUE_BYTES: usize = 16 << 20;

/// Roughly how many bytes `value` takes as JSON, without writing it out: what the limits on
/// values and on a run's record compare.
pub(crate) fn json_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 20,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|v| json_size(v) + 1).sum::<usize>(),
        Value::Object(o) => object_size(o),
    }
}

/// [`json_size`] of an object.
pub(crate) fn object_size(o: &serde_json::Map<String, Value>) -> usize {
    2 + o.iter().map(|(k, v)| k.len() + 4 + json_size(v)).sum::<usize>()
}

/// The error of a value past [`MAX_VALUE_BYTES`].
pub(crate) fn too_large(what: &str) -> StepError {
    StepError(format!("{what} would be larger than {} MiB, the limit of one value in a run", MAX_VALUE_BYTES >> 20))
}

/// Why a value could not be worked out (a reference to a field a node does not have, a
/// transform that does not apply); the node fails with this message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct StepError(pub(crate) String);

/// One reference found in a text: the node and the path inside its outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reference<'a> {
    pub(crate) node: &'a str,
    pub(crate) path: Vec<&'a str>,
}

/// Splits `text` into literal pieces and references. An opening `{{#` without a closing
/// `#}}` is literal text.
fn pieces(text: &str) -> impl Iterator<Item = Result<&str, &str>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(OPEN) {
            Some(0) => match rest[OPEN.len()..].find(CLOSE) {
                Some(end) => {
                    let inner = &rest[OPEN.len()..OPEN.len() + end];
                    rest = &rest[OPEN.len() + end + CLOSE.len()..];
                    Some(Err(inner))
                }
                None => {
                    let all = rest;
                    rest = "";
                    Some(Ok(all))
                }
            },
            Some(at) => {
                let (lit, tail) = rest.split_at(at);
                rest = tail;
                Some(Ok(lit))
            }
            None => {
                let all = rest;
                rest = "";
                Some(Ok(all))
            }
        }
    })
}

fn parse(inner: &str) -> Reference<'_> {
    let mut parts = inner.trim().split('.');
    let node = parts.next().unwrap_or("");
    Reference { node, path: parts.collect() }
}

/// Every reference in a text.
pub(crate) fn references(text: &str) -> Vec<Reference<'_>> {
    pieces(text).filter_map(|p| p.err()).map(parse).collect()
}

/// The literal text before a text's first reference (all of it when it has none).
pub(crate) fn literal_prefix(text: &str) -> String {
    pieces(text).map_while(Result::ok).collect()
}

/// A piece of a rendered text: literal text, or the value a reference points to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Part<'t> {
    Text(&'t str),
    Value(Value),
}

/// A value as it reads inside text: strings as they are, null as nothing, others as JSON.
pub(crate) fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every reference in a JSON value's strings (objects and lists included), with the text it
/// sits in, for validation.
pub(crate) fn references_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.extend(references(s).into_iter().map(|r| r.node.to_owned())),
        Value::Array(a) => a.iter().for_each(|v| references_in(v, out)),
        Value::Object(o) => o.values().for_each(|v| references_in(v, out)),
        _ => {}
    }
}

/// What the earlier nodes of a run produced, by node id. `Value::Null` marks a skipped node.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scope {
    values: HashMap<String, Value>,
}

impl Scope {
    pub(crate) fn set(&mut self, node: &str, outputs: Value) {
        self.values.insert(node.to_owned(), outputs);
    }

    fn lookup(&self, r: &Reference<'_>) -> Result<Value, StepError> {
        let Some(mut value) = self.values.get(r.node) else {
            // Validation guarantees the node is upstream; not having run means it was skipped
            // or has not been reached on this path.
            return Ok(Value::Null);
        };
        if value.is_null() {
            return Ok(Value::Null);
        }
        for (i, key) in r.path.iter().enumerate() {
            let next = match value {
                Value::Object(o) => o.get(*key),
                Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            value = next.ok_or_else(|| {
                let so_far = std::iter::once(r.node).chain(r.path[..i].iter().copied()).collect::<Vec<_>>().join(".");
                StepError(format!("{{{{#{}.{}#}}}}: {so_far} has no {key:?}", r.node, r.path.join(".")))
            })?;
        }
        Ok(value.clone())
    }

    /// Renders a text: a lone reference keeps its type, anything else becomes a string.
    pub(crate) fn render(&self, text: &str) -> Result<Value, StepError> {
        self.render_within(text, &mut MAX_VALUE_BYTES.clone())
    }

    /// [`Self::render`], taking what it produces out of `budget` bytes.
    fn render_within(&self, text: &str, budget: &mut usize) -> Result<Value, StepError> {
        let mut spend = |n: usize| -> Result<(), StepError> {
            *budget = budget.checked_sub(n).ok_or_else(|| too_large("the text"))?;
            Ok(())
        };
        if !text.contains(OPEN) {
            spend(text.len())?;
            return Ok(Value::String(text.to_owned()));
        }
        let parts: Vec<_> = pieces(text).collect();
        if let [Err(inner)] = parts.as_slice() {
            let value = self.lookup(&parse(inner))?;
            spend(json_size(&value))?;
            return Ok(value);
        }
        let mut out = String::with_capacity(text.len());
        for part in parts {
            match part {
                Ok(lit) => {
                    spend(lit.len())?;
                    out.push_str(lit);
                }
                Err(inner) => match self.lookup(&parse(inner))? {
                    Value::String(s) => {
                        spend(s.len())?;
                        out.push_str(&s);
                    }
                    Value::Null => {}
                    other => {
                        spend(json_size(&other))?;
                        out.push_str(&other.to_string());
                    }
                },
            }
        }
        Ok(Value::String(out))
    }

    /// A text's literal pieces and the values of its references, in order.
    /// Together they stay within [`MAX_VALUE_BYTES`].
    pub(crate) fn parts<'t>(&self, text: &'t str) -> Result<Vec<Part<'t>>, StepError> {
        let mut budget = MAX_VALUE_BYTES;
        pieces(text)
            .map(|p| {
                let (part, size) = match p {
                    Ok(lit) => (Part::Text(lit), lit.len()),
                    Err(inner) => {
                        let value = self.lookup(&parse(inner))?;
                        let size = json_size(&value);
                        (Part::Value(value), size)
                    }
                };
                budget = budget.checked_sub(size).ok_or_else(|| too_large("the text"))?;
                Ok(part)
            })
            .collect()
    }

    /// Renders a text to a string (what a prompt or a header needs).
    pub(crate) fn render_text(&self, text: &str) -> Result<String, StepError> {
        Ok(match self.render(text)? {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    /// Renders every string inside a JSON value; all of it together stays within
    /// [`MAX_VALUE_BYTES`].
    pub(crate) fn render_value(&self, value: &Value) -> Result<Value, StepError> {
        self.render_value_within(value, &mut MAX_VALUE_BYTES.clone())
    }

    fn render_value_within(&self, value: &Value, budget: &mut usize) -> Result<Value, StepError> {
        Ok(match value {
            Value::String(s) => self.render_within(s, budget)?,
            Value::Array(a) => Value::Array(a.iter().map(|v| self.render_value_within(v, budget)).collect::<Result<_, _>>()?),
            Value::Object(o) => Value::Object(
                o.iter().map(|(k, v)| Ok((k.clone(), self.render_value_within(v, budget)?))).collect::<Result<_, StepError>>()?,
            ),
            other => other.clone(),
        })
    }
}
