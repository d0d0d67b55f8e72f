//! Describing a model file for the registry: its header, size and SHA-256.

use std::path::Path;

use hearth_types::{ModelSource, NewModel};

use crate::gguf::{self, GgufError};

/// The registry name of the default model (SmolLM2 135M Instruct, see `hearth_types::DEFAULT_MODEL`).
pub const DEFAULT_MODEL_NAME: &str = hearth_types::DEFAULT_MODEL.name;
/// The file name the default model has in `<data dir>/models/` (where `make run` and the
/// app's own download put it).
pub const DEFAULT_MODEL_FILE: &str = hearth_types::DEFAULT_MODEL.file;

/// Reads the header (refusing files llama.cpp should never see), hashes the file and names
/// the model: `name`, or the file name without `.gguf`, lowercased, with other characters
/// turned into `-`.
pub fn describe(path: &Path, name: Option<&str>, source: ModelSource) -> Result<NewModel, GgufError> {
    let info = gguf::inspect(path)?;
    let io = |source| GgufError::Io { path: path.to_owned(), source };
    let (size, sha256) = hearth_llm::download::sha256_file(path).map_err(io)?;
    let name = match name {
        Some(n) => n.to_owned(),
        None => default_name(path),
    };
    let path = std::fs::canonicalize(path).map_err(io)?;
    Ok(NewModel {
        name,
        path,
        size,
        sha256,
        architecture: info.architecture,
        parameters: info.parameters,
        quantization: info.quantization,
        context_length: info.context_length,
        chat_template: info.chat_template,
        source,
    })
}

fn default_name(path: &Path) -> String {
    let stem = path.file_name().and_then(|s| s.to_str()).unwrap_or("model");
    let stem = stem.strip_suffix(".gguf").unwrap_or(stem);
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c.to_ascii_lowercase() } else { '-' })
        .take(128)
        .collect();
    if name.is_empty() { "model".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_file_names() {
        assert_eq!(default_name(Path::new("/m/Qwen3-4B-Q4_K_M.gguf")), "qwen3-4b-q4_k_m");
        assert_eq!(default_name(Path::new("/m/my model (v2).gguf")), "my-model--v2-");
        assert_eq!(default_name(Path::new("/m/.gguf")), "model");
    }
}
