//! The providers Hearth knows by name: which wire protocol each speaks, where, and whether it
//! needs a key. `openai-compatible` is any other server speaking OpenAI's format.
//!
//! Also the rules a base URL must meet, since a provider's key and every message go to it:
//! https, or plain http only to this machine (a local Ollama or llama.cpp server).

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

/// Checks a base URL before it is saved: https (or http to a loopback host), a host, and
/// nothing that would put a secret on disk (credentials) or break path joining (a query or
/// fragment). Returns it without a trailing slash.
pub fn check_base_url(url: &str) -> Result<String, String> {
    let parsed = Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} must start with https:// (or http:// for a server on this machine)"));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(format!("{url:?} has no host"));
    };
    // Plain http would send the key and every message readable to anyone on the way; on
    // loopback there is no way.
    if parsed.scheme() == "http" && !is_loopback(host) {
        return Err(format!(
            "{url:?} uses http://, which sends the key and the messages unencrypted; use https:// \
             (http:// is allowed only for localhost, 127.0.0.0/8 and ::1)"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a base URL must not carry credentials; set the key with `hearth providers key set NAME`".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{url:?} must not have a query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Whether a parsed URL's host (`Url::host_str`: IPv4 normalized, IPv6 in brackets) is this
/// machine: `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    hearth_types::is_loopback_host(host)
}

/// Whether two URLs share scheme, host and port (the default port spelled out or not), which
/// is what decides who receives a provider's key. URLs that do not parse share nothing.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (Url::parse(a.trim()), Url::parse(b.trim())) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
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

    #[test]
    fn plain_http_is_only_for_this_machine() {
        for local in
            // An IPv4-mapped 127.0.0.1 is this machine too (the rule shared with sync and the
            // database migration: hearth_types::is_loopback_host).
            [
                "http://localhost:11434/v1",
                "http://LOCALHOST/v1",
                "http://127.0.0.1:8080/v1",
                "http://127.9.8.7/v1",
                "http://[::1]:1234/v1",
                "http://[::ffff:7f00:1]/v1",
            ]
        {
            assert!(check_base_url(local).is_ok(), "{local}");
        }
        for remote in [
            "http://example.com/v1",
            "http://192.168.1.20:11434/v1",
            "http://10.0.0.1/v1",
            "http://[::ffff:a00:1]/v1",
            "http://localhost.example.com/v1",
            "http://128.0.0.1/v1",
        ] {
            let e = check_base_url(remote).unwrap_err();
            assert!(e.contains("https://") && e.contains("unencrypted"), "{remote}: {e}");
        }
        assert!(check_base_url("https://192.168.1.20:11434/v1").is_ok(), "https goes anywhere");
    }

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        let check = |a: &str, b: &str, same: bool| assert_eq!(same_origin(a, b), same, "{a} {b}");
        check("https://api.openai.com/v1", "https://api.openai.com/v2/other", true);
        check("https://api.openai.com/v1", "https://API.openai.com:443/v1", true);
        check("https://api.openai.com/v1", "http://api.openai.com/v1", false);
        check("https://api.openai.com/v1", "https://api.openai.com:8443/v1", false);
        check("https://api.openai.com/v1", "https://evil.example/v1", false);
        check("http://127.0.0.1:8080/v1", "http://127.0.0.1:8081/v1", false);
        check("not a url", "not a url", false);
    }
}
