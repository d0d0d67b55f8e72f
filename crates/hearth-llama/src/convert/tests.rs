//! A tiny BERT written as GGUF reads back as llama.cpp's loader expects it (the real model's
//! conversion and load are in the end-to-end suite); malformed inputs name their fault.

use serde_json::json;

use super::*;

/// A 1-layer BERT with hidden size 4, 2 heads, 8 tokens and 6 positions, as safetensors.
fn tiny() -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let config = json!({ "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,
        "max_position_embeddings": 6, "type_vocab_size": 2, "layer_norm_eps": 1e-12 });
    let tokenizer = json!({
        "added_tokens": [
            { "id": 0, "content": "[PAD]", "special": true }, { "id": 1, "content": "[UNK]", "special": true },
            { "id": 2, "content": "[CLS]", "special": true }, { "id": 3, "content": "[SEP]", "special": true },
            { "id": 4, "content": "[MASK]", "special": true }
        ],
        "model": { "type": "WordPiece", "vocab": { "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "soil": 5, "##s": 6, "!": 7 } }
    });
    let pooling = json!({ "pooling_mode_mean_tokens": true });
    let mut shapes: Vec<(String, Vec<u64>)> = vec![
        ("embeddings.word_embeddings.weight".into(), vec![8, 4]),
        ("embeddings.position_embeddings.weight".into(), vec![6, 4]),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, 4]),
        ("embeddings.LayerNorm.weight".into(), vec![4]),
        ("embeddings.LayerNorm.bias".into(), vec![4]),
        ("embeddings.position_ids".into(), vec![1, 6]),
        ("pooler.dense.weight".into(), vec![4, 4]),
    ];
    for (name, shape) in [
        ("attention.self.query", vec![4, 4]),
        ("attention.self.key", vec![4, 4]),
        ("attention.self.value", vec![4, 4]),
        ("attention.output.dense", vec![4, 4]),
        ("attention.output.LayerNorm", vec![4]),
        ("intermediate.dense", vec![8, 4]),
        ("output.dense", vec![4, 8]),
        ("output.LayerNorm", vec![4]),
    ] {
        let bias = vec![shape[0]];
        shapes.push((format!("encoder.layer.0.{name}.weight"), shape));
        shapes.push((format!("encoder.layer.0.{name}.bias"), bias));
    }
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape) in &shapes {
        let n: u64 = shape.iter().product();
        let start = data.len();
        let dtype = if name.ends_with("position_ids") { "I64" } else { "F32" };
        for i in 0..n {
            if dtype == "I64" {
                data.extend_from_slice(&(i as i64).to_le_bytes());
            } else {
                data.extend_from_slice(&(i as f32 * 0.01).to_le_bytes());
            }
        }
        header.insert(name.clone(), json!({ "dtype": dtype, "shape": shape, "data_offsets": [start, data.len()] }));
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut safetensors = (header.len() as u64).to_le_bytes().to_vec();
    safetensors.extend_from_slice(&header);
    safetensors.extend_from_slice(&data);
    (serde_json::to_vec(&config).unwrap(), serde_json::to_vec(&tokenizer).unwrap(), serde_json::to_vec(&pooling).unwrap(), safetensors)
}

#[test]
fn a_bert_model_becomes_a_gguf_file_llama_cpp_can_read() {
    let (config, tokenizer, pooling, safetensors) = tiny();
    let files = BertFiles { config: &config, tokenizer: &tokenizer, pooling: &pooling, safetensors: &safetensors };
    let mut out = Vec::new();
    bert_to_gguf(&files, "tiny-bert", &mut out).unwrap();
    let info = crate::gguf::parse(&out[..], out.len() as u64).unwrap();
    assert_eq!((info.version, info.architecture.as_str(), info.name.as_deref()), (3, "bert", Some("tiny-bert")));
    assert_eq!(info.tensor_count, 5 + 16, "position_ids and the pooler are left out");
    assert_eq!(info.metadata_count, 24);
    assert_eq!(info.context_length, Some(6));
    assert_eq!(info.quantization, "F32");
    // The data section starts aligned, and every tensor's bytes are there, padded.
    assert_eq!(out.len() % ALIGN, 0);
    let weights = 8 * 4 + 6 * 4 + 2 * 4 + 4 + 4 + 4 * (4 * 4 + 4) + (4 + 4) + (8 * 4 + 8) + (4 * 8 + 4) + (4 + 4);
    assert_eq!(info.parameters, weights);
}

#[test]
fn the_vocabulary_is_in_llama_cpps_wordpiece_form() {
    let (_, tokenizer, _, _) = tiny();
    let vocab = Vocab::read(&tokenizer).unwrap();
    assert_eq!(vocab.tokens, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u{2581}soil", "s", "\u{2581}!"]);
    assert_eq!(vocab.types, [CONTROL, CONTROL, CONTROL, CONTROL, CONTROL, NORMAL, NORMAL, NORMAL]);
    assert_eq!((vocab.cls, vocab.sep, vocab.unk, vocab.pad, vocab.mask), (2, 3, 1, 0, 4));
}

#[test]
fn what_is_not_a_usable_bert_model_is_refused_by_name() {
    let (config, tokenizer, pooling, safetensors) = tiny();
    let convert = |config: &[u8], tokenizer: &[u8], pooling: &[u8], safetensors: &[u8]| {
        let files = BertFiles { config, tokenizer, pooling, safetensors };
        bert_to_gguf(&files, "x", &mut Vec::new()).unwrap_err().to_string()
    };
    assert!(convert(b"{}", &tokenizer, &pooling, &safetensors).contains("hidden_size is missing"));
    assert!(convert(&config, &tokenizer, br#"{"pooling_mode_cls_token": true}"#, &safetensors).contains("only mean pooling"));
    assert!(convert(&config, br#"{"model": {"type": "BPE"}}"#, &pooling, &safetensors).contains("not a WordPiece"));
    assert!(convert(&config, &tokenizer, &pooling, &safetensors[..100]).contains("model.safetensors"));
    let mut missing = serde_json::from_slice::<serde_json::Value>(&config).unwrap();
    missing["num_hidden_layers"] = json!(2);
    let err = convert(&serde_json::to_vec(&missing).unwrap(), &tokenizer, &pooling, &safetensors);
    assert!(err.contains("encoder.layer.1.attention.self.query.weight is missing"), "{err}");
}
