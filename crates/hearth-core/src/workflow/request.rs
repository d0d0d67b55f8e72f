//! An http node's request, built from its settings and the run's values so that values stay
//! data: they cannot change where the request goes, add headers or reshape a JSON body.
//!
//! - URL: the node writes the scheme and host (and port) in full, followed by `/`, `?` or
//!   `#`, before any reference ([`check_url`], part of validation). Each value goes in
//!   percent-encoded (`@`, `/`, `?`, `#`, `:`, `&`, `=`, spaces and the rest of the
//!   structure become `%XX`), and the rendered URL must still have the origin the template
//!   has without its references ([`render_url`]), both read with the parser that fetches it.
//! - Headers: a value holding a line break (CR or LF) is refused.
//! - Body: a JSON body (a `Content-Type` header naming JSON, or a template that reads as a
//!   JSON object or array with each reference taken as `0`) gets each value JSON-escaped: as
//!   string content inside a string, as one JSON value elsewhere (a string is quoted). Other
//!   bodies, and a body that is a single reference, take values as text.
//!
//! A URL with no reference is left to the fetch, which refuses what is not http or https.

use hearth_llm::fetch::{encode_url_value, origin};
use serde_json::{Map, Value};

use super::template::{Part, Scope, StepError, as_text, literal_prefix, references};

/// What validation says about a URL whose origin is not written out.
const FIXED_ORIGIN: &str = "url: write the scheme and host in full, followed by /, ? or #, before any reference \
     (https://api.example.com/{{#start.path#}}): a value may not choose where the request goes";

/// Checks that a URL template fixes its origin (see the module docs).
pub(crate) fn check_url(template: &str) -> Result<(), String> {
    if references(template).is_empty() {
        return Ok(());
    }
    fixed_origin(&literal_prefix(template)).map(|_| ())
}

/// The origin fixed by a URL template's literal text before its first reference: that text
/// must hold `scheme://` and then the whole authority, ended by `/`, `?` or `#`.
fn fixed_origin(prefix: &str) -> Result<String, String> {
    let closed = prefix.split_once("://").is_some_and(|(_, rest)| rest.contains(['/', '?', '#']));
    closed.then(|| origin(prefix)).flatten().ok_or_else(|| FIXED_ORIGIN.to_owned())
}

/// The URL with every value percent-encoded, refused if its origin is not the one the
/// template has without its references. Validation already keeps references out of the
/// origin; this check does not rely on it, so that a change to either rule cannot quietly
/// let a value redirect a node's request and its headers.
pub(crate) fn render_url(scope: &Scope, template: &str) -> Result<String, StepError> {
    let parts = scope.parts(template)?;
    if !parts.iter().any(|p| matches!(p, Part::Value(_))) {
        return Ok(template.to_owned());
    }
    let (mut url, mut bare) = (String::new(), String::new());
    for part in &parts {
        match part {
            Part::Text(t) => {
                url.push_str(t);
                bare.push_str(t);
            }
            Part::Value(v) => url.push_str(&encode_url_value(&as_text(v))),
        }
    }
    let Some(expected) = origin(&bare) else { return Err(StepError(FIXED_ORIGIN.to_owned())) };
    match origin(&url) {
        Some(o) if o == expected => Ok(url),
        Some(o) => Err(StepError(format!("the URL's values would send the request to {o} instead of {expected}"))),
        None => Err(StepError(format!("the URL's values make it no longer an http or https URL of {expected}"))),
    }
}

/// The headers with their values rendered; a value with a line break is refused.
pub(crate) fn render_headers(scope: &Scope, headers: &Map<String, Value>) -> Result<Vec<(String, String)>, StepError> {
    headers
        .iter()
        .map(|(name, v)| {
            let (value, written) = match v {
                Value::String(t) => (scope.render_text(t)?, super::secrets::references(t).len()),
                other => (other.to_string(), 0),
            };
            // Only the node's own text names secrets: a value from an earlier node (a model's
            // answer, a fetched page) that says `{{secret:...}}` must not be filled in.
            if super::secrets::references(&value).len() != written {
                return Err(StepError(format!(
                    "header {name:?}: a value from an earlier node names a secret, which only the node's own text may"
                )));
            }
            if value.contains(['\r', '\n']) {
                return Err(StepError(format!("header {name:?}: the value holds a line break (CR or LF), which a header value may not")));
            }
            Ok((name.clone(), value))
        })
        .collect()
}

/// The body, with values JSON-escaped when it is JSON (see the module docs). `headers` are
/// the rendered ones, for the content type.
pub(crate) fn render_body(scope: &Scope, template: &str, headers: &[(String, String)]) -> Result<String, StepError> {
    let parts = scope.parts(template)?;
    let has_values = parts.iter().any(|p| matches!(p, Part::Value(_)));
    // A single reference is the whole body: there is no structure around it to break.
    let alone = matches!(parts.as_slice(), [Part::Value(_)]);
    if !has_values || alone || !(names_json(headers) || json_shaped(&parts)) {
        return Ok(parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => (*t).to_owned(),
                Part::Value(v) => as_text(v),
            })
            .collect());
    }
    let mut body = String::with_capacity(template.len());
    // Where the literal JSON has got to: inside a string, and right after a backslash there.
    let (mut in_string, mut escaped) = (false, false);
    for part in &parts {
        match part {
            Part::Text(t) => {
                for c in t.chars() {
                    if escaped {
                        escaped = false;
                    } else if in_string && c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        in_string = !in_string;
                    }
                }
                body.push_str(t);
            }
            Part::Value(_) if escaped => {
                return Err(StepError("body: a reference may not follow a backslash inside a JSON string".to_owned()));
            }
            Part::Value(v) if in_string => {
                let quoted = Value::String(as_text(v)).to_string();
                body.push_str(&quoted[1..quoted.len() - 1]);
            }
            Part::Value(v) => body.push_str(&v.to_string()),
        }
    }
    Ok(body)
}

fn names_json(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.to_ascii_lowercase().contains("json"))
}

/// Whether the body template is a JSON object or array once each reference reads as `0`
/// (which is valid both inside a string and as a value).
fn json_shaped(parts: &[Part<'_>]) -> bool {
    let probe: String = parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t,
            Part::Value(_) => "0",
        })
        .collect();
    matches!(serde_json::from_str::<Value>(&probe), Ok(Value::Object(_) | Value::Array(_)))
}
