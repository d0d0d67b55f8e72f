//! Turning a conversation into the prompt text a model expects.
//!
//! In order of preference: the chat template embedded in the GGUF file; a template chosen by
//! architecture among llama.cpp's named templates (the default Gemma 3 270M is a base model
//! with no template of its own); a plain "Role: text" transcript.

use hearth_llm::ChatMessage;
use hearth_types::Role;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};

/// llama.cpp's named template for an architecture whose family uses one format throughout.
/// Architectures shared by families with different formats (plain `llama`) are left out.
pub(crate) fn template_for_architecture(arch: &str) -> Option<&'static str> {
    Some(match arch {
        a if a.starts_with("gemma") && a != "gemma-embedding" => "gemma",
        "qwen2" | "qwen2moe" | "qwen3" | "qwen3moe" | "smollm3" => "chatml",
        "phi3" => "phi3",
        "command-r" => "command-r",
        "granite" => "granite",
        "exaone" => "exaone3",
        "deepseek2" => "deepseek2",
        "chatglm" => "chatglm4",
        _ => return None,
    })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// The prompt for `messages`, ending where the assistant's reply begins.
pub(crate) fn format(model: &LlamaModel, architecture: &str, messages: &[ChatMessage]) -> String {
    let template = model
        .chat_template(None)
        .ok()
        .or_else(|| template_for_architecture(architecture).and_then(|name| LlamaChatTemplate::new(name).ok()));
    if let Some(template) = template {
        let chat: Result<Vec<_>, _> =
            messages.iter().map(|m| LlamaChatMessage::new(role_name(m.role).to_owned(), m.content.clone())).collect();
        if let Ok(chat) = chat
            && let Ok(prompt) = model.apply_chat_template(&template, &chat, true)
        {
            return prompt;
        }
    }
    plain(messages)
}

/// A transcript any model can continue.
pub(crate) fn plain(messages: &[ChatMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        let who = match m.role {
            Role::System => "System",
            Role::User => "User",
            Role::Assistant => "Assistant",
            Role::Tool => "Tool",
        };
        out.push_str(&format!("{who}: {}\n", m.content));
    }
    out.push_str("Assistant:");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_map_to_named_templates() {
        assert_eq!(template_for_architecture("gemma3"), Some("gemma"));
        assert_eq!(template_for_architecture("gemma2"), Some("gemma"));
        assert_eq!(template_for_architecture("qwen3"), Some("chatml"));
        assert_eq!(template_for_architecture("llama"), None);
        assert_eq!(template_for_architecture("gemma-embedding"), None);
    }

    #[test]
    fn the_plain_transcript_ends_at_the_reply() {
        let p = plain(&[ChatMessage::new(Role::System, "Be brief."), ChatMessage::new(Role::User, "Hi")]);
        assert_eq!(p, "System: Be brief.\nUser: Hi\nAssistant:");
    }
}
