//! The providers Hearth knows by name: which wire protocol each speaks, where, and whether it
//! needs a key. `openai-compatible` is any other server speaking OpenAI's format.

use reqwest::Url;

/// A wire protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI's Chat Completions (`/chat/completions`, `/models`, `/embeddings`).
    OpenAi,
    /// Anthropic's Messages API (`/messages`, `/models`).
    Anthropic,
}

/// A provider kind and its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    pub kind: &'static str,
    pub label: &'static str,
    pub protocol: Protocol,
    /// The API root (requests append `/chat/completions` and so on); `None` when the user
    /// must give one.
    pub base_url: Option<&'static str>,
    pub needs_key: bool,
}

const fn preset(kind: &'static str, label: &'static str, protocol: Protocol, base_url: Option<&'static str>, needs_key: bool) -> Preset {
    Preset { kind, label, protocol, base_url, needs_key }
}

pub const PRESETS: &[Preset] = &[
    preset("openai", "OpenAI", Protocol::OpenAi, Some("https://api.openai.com/v1"), true),
    preset("anthropic", "Anthropic", Protocol::Anthropic, Some("https://api.anthropic.com/v1"), true),
    preset("groq", "Groq", Protocol::OpenAi, Some("https://api.groq.com/openai/v1"), true),
    preset("openrouter", "OpenRouter", Protocol::OpenAi, Some("https://openrouter.ai/api/v1"), true),
    preset("mistral", "Mistral", Protocol::OpenAi, Some("https://api.mistral.ai/v1"), true),
    preset("deepseek", "DeepSeek", Protocol::OpenAi, Some("https://api.deepseek.com/v1"), true),
    preset("together", "Together", Protocol::OpenAi, Some("https://api.together.xyz/v1"), true),
    preset(
        "gemini",
        "Google Gemini (OpenAI-compatible)",
        Protocol::OpenAi,
        Some("https://generativelanguage.googleapis.com/v1beta/openai"),
        true,
    ),
    preset("ollama", "Ollama", Protocol::OpenAi, Some("http://127.0.0.1:11434/v1"), false),
    preset("lmstudio", "LM Studio", Protocol::OpenAi, Some("http://127.0.0.1:1234/v1"), false),
    preset("llamacpp", "llama.cpp server", Protocol::OpenAi, Some("http://127.0.0.1:8080/v1"), false),
    preset("openai-compatible", "Any OpenAI-compatible server", Protocol::OpenAi, None, false),
];

/// The preset of a kind.
pub fn preset_of(kind: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.kind == kind)
}

/// Checks a base URL before it is saved: http or https, a host, and nothing that would put a
/// secret on disk (credentials) or break path joining (a query or fragment). Returns it
/// without a trailing slash.
pub fn check_base_url(url: &str) -> Result<String, String> {
    let parsed = Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a base URL must not carry credentials; set the key with `hearth providers key set NAME`".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{url:?} must not have a query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_base_url_passes_its_own_check() {
        for p in PRESETS {
            if let Some(url) = p.base_url {
                assert_eq!(check_base_url(url).as_deref(), Ok(url), "{}", p.kind);
            }
        }
        assert_eq!(preset_of("groq").unwrap().base_url, Some("https://api.groq.com/openai/v1"));
        assert!(preset_of("nope").is_none());
    }

    #[test]
    fn bad_base_urls_are_refused_with_the_reason() {
        assert_eq!(check_base_url("http://127.0.0.1:9/v1/").unwrap(), "http://127.0.0.1:9/v1");
        assert!(check_base_url("not a url").unwrap_err().contains("not a URL"));
        assert!(check_base_url("ftp://example.com/v1").unwrap_err().contains("http"));
        assert!(check_base_url("https://user:sk-secret@example.com/v1").unwrap_err().contains("credentials"));
        assert!(check_base_url("https://example.com/v1?key=1").unwrap_err().contains("query"));
        assert!(check_base_url("file:///etc/passwd").is_err());
    }
}
