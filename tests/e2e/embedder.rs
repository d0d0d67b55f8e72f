//! The knowledge embedding model, for real: all-MiniLM-L6-v2 from its PyPI wheel, converted
//! to GGUF in Rust (`hearth_llama::convert`) and run by the same llama.cpp engine as chat.
//! Its vectors equal the model's own (sentence-transformers' computation, written out in
//! numpy by `fixtures/minilm_reference.py` into `fixtures/minilm-reference.json`), a
//! paraphrase lands nearer its sentence than an unrelated one does, and batching changes
//! nothing.

use std::sync::Arc;

use hearth_llama::convert::{BertFiles, bert_to_gguf};
use hearth_llama::{EngineConfig, LlamaEngine, ModelSpec, Resolver};
use hearth_llm::{ChatModel, EmbedInput};

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_embedding_model_converts_and_ranks_a_paraphrase_above_an_unrelated_sentence() {
    let dir = hearth_e2e::embedder_dir();
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()));
    let (config, tokenizer, pooling, safetensors) =
        (read("config.json"), read("tokenizer.json"), read("1_Pooling/config.json"), read("model.safetensors"));
    let files = BertFiles { config: &config, tokenizer: &tokenizer, pooling: &pooling, safetensors: &safetensors };
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("all-minilm-l6-v2.gguf");
    bert_to_gguf(&files, "all-MiniLM-L6-v2", &mut std::io::BufWriter::new(std::fs::File::create(&path).unwrap())).unwrap();
    let info = hearth_llama::inspect(&path).unwrap();
    assert_eq!((info.architecture.as_str(), info.context_length, info.tensor_count), ("bert", Some(512), 101));

    let spec = ModelSpec { name: "all-minilm-l6-v2".into(), path };
    let resolver: Resolver = Arc::new(move |_| Ok(spec.clone()));
    let engine = LlamaEngine::new(EngineConfig { slots: 1, ..EngineConfig::default() }, resolver);
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/minilm-reference.json")).expect("the reference vectors parse");
    let reference: Vec<(String, Vec<f32>)> = reference["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let v = t["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            (t["text"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    let inputs: Vec<EmbedInput> = reference.iter().map(|(t, _)| EmbedInput::Text(t.clone())).collect();
    let out = engine.embed("all-minilm-l6-v2", &inputs).unwrap();
    assert_eq!(out.vectors.len(), reference.len());
    for (v, (text, expected)) in out.vectors.iter().zip(&reference) {
        assert_eq!(v.len(), 384);
        assert!((dot(v, v) - 1.0).abs() < 1e-4, "unit length");
        let same = dot(v, expected);
        assert!(same > 0.9999, "{text:?}: cosine {same} with the model's own vector");
    }
    let (close, far) = (dot(&out.vectors[0], &out.vectors[1]), dot(&out.vectors[0], &out.vectors[2]));
    assert!(close > 0.6, "a paraphrase is near: {close}");
    assert!(far < 0.2, "an unrelated sentence is far: {far}");
    // Past its 512 positions the model cannot read: refused, and the engine serves on.
    let long = EmbedInput::Text("soil ".repeat(600));
    let refused = engine.embed("all-minilm-l6-v2", &[long]).unwrap_err();
    assert!(matches!(refused, hearth_llm::LlmError::ContextOverflow { context: 512, .. }), "{refused:?}");
    // The same text alone gives the same vector as in a batch.
    let alone = engine.embed("all-minilm-l6-v2", &inputs[..1]).unwrap();
    assert!(dot(&alone.vectors[0], &out.vectors[0]) > 0.9999);
}
