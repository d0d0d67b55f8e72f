//! Local inference for Hearth: the only crate that talks to llama.cpp.
//!
//! - [`gguf`]: reads a model file's header in safe Rust (architecture, size, quantization,
//!   context length, chat template) before llama.cpp ever sees the file.
//! - [`convert`]: a sentence-transformers BERT model (safetensors) written as a GGUF file, so
//!   the embedding model runs on the same engine as chat.
//! - [`LlamaEngine`]: implements [`hearth_llm::ChatModel`] with one worker thread that owns
//!   the llama.cpp backend, the loaded model and its contexts. Requests arrive on a channel
//!   and stream back on their own channels. Requests are decoded together (continuous
//!   batching: each is a sequence in one batch), a new request reuses the cached prefix it
//!   shares with an earlier one, and the model unloads after an idle keep-alive.
//!
//! Everything here is safe Rust: llama-cpp-2 wraps the C API, and the sampler and text
//! handling that sit on the hot path are plain Rust over the logits slice.

mod config;
pub mod convert;
mod describe;
mod engine;
pub mod gguf;
mod grammar;
mod sampler;
mod template;
mod text;
mod tools;
mod worker;

pub use config::{EngineConfig, EngineStatus, ModelSpec, Resolver};
pub use describe::{DEFAULT_MODEL_FILE, DEFAULT_MODEL_NAME, describe};
pub use engine::LlamaEngine;
pub use gguf::{GgufError, GgufInfo, inspect};
