//! A sentence-transformers BERT model (safetensors, `tokenizer.json`, `config.json`) written
//! as a GGUF file that llama.cpp runs as an embedding model, in safe Rust and offline, so
//! Hearth keeps one inference engine for chat and embeddings alike.
//!
//! What llama.cpp's loader requires, and why each piece is what it is (read from llama.cpp's
//! `convert_hf_to_gguf.py` `BertModel`, gguf-py's tensor map and the loader itself):
//! - metadata: `general.architecture = bert`, the `bert.*` sizes from `config.json`,
//!   `bert.attention.causal = false` and `bert.pooling_type = 1` (mean, what the
//!   sentence-transformers pooling config says); each key with its exact value type, which
//!   the loader checks;
//! - the vocabulary as llama.cpp's WordPiece tokenizer wants it: a `##` continuation piece
//!   loses its `##`, a word-start piece gains `▁` (U+2581), `[CLS]`-style tokens stay; the
//!   special tokens (`special: true` in `tokenizer.json`) are control tokens; ids for
//!   `[CLS]` (as bos), `[SEP]` (as eos and separator), `[UNK]`, `[PAD]` and `[MASK]`;
//! - the tensors renamed to llama.cpp's names, every one that the model uses and no other
//!   (`position_ids` and the pooler are dropped: an extra tensor fails the load), kept F32,
//!   with GGUF's dimension order (the reverse of safetensors').
//!
//! The GGUF layout is version 3: header, key/values, tensor infos, then the data, each piece
//! aligned to 32 bytes.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;

/// The files of a sentence-transformers BERT model.
#[derive(Debug)]
pub struct BertFiles<'a> {
    pub config: &'a [u8],
    pub tokenizer: &'a [u8],
    /// `1_Pooling/config.json`.
    pub pooling: &'a [u8],
    pub safetensors: &'a [u8],
}

/// Why a model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{file} is not what a BERT model has: {why}")]
    Invalid { file: &'static str, why: String },
    #[error("writing the GGUF file: {0}")]
    Write(#[from] std::io::Error),
}

fn invalid(file: &'static str, why: impl Into<String>) -> ConvertError {
    ConvertError::Invalid { file, why: why.into() }
}

const ALIGN: usize = 32;
const F32: u32 = 0;

// GGUF value types.
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;

// llama.cpp's token types.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;

/// A metadata value.
enum Kv {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(String),
    Strs(Vec<String>),
    I32s(Vec<i32>),
}

/// One tensor to write: its GGUF name, its safetensors shape and its bytes (F32).
struct Tensor<'a> {
    name: String,
    shape: Vec<u64>,
    data: &'a [u8],
}

/// Writes `files` as a GGUF file to `out`; `name` is the model's name in the file.
pub fn bert_to_gguf(files: &BertFiles<'_>, name: &str, out: &mut impl Write) -> Result<(), ConvertError> {
    let config: Value = serde_json::from_slice(files.config).map_err(|e| invalid("config.json", e.to_string()))?;
    let pooling: Value = serde_json::from_slice(files.pooling).map_err(|e| invalid("1_Pooling/config.json", e.to_string()))?;
    if pooling["pooling_mode_mean_tokens"] != Value::Bool(true) {
        return Err(invalid("1_Pooling/config.json", "only mean pooling is supported"));
    }
    let num = |key: &str| -> Result<u64, ConvertError> {
        config[key].as_u64().ok_or_else(|| invalid("config.json", format!("{key} is missing or not a number")))
    };
    let (hidden, layers, heads, ffn, context, types) = (
        num("hidden_size")?,
        num("num_hidden_layers")?,
        num("num_attention_heads")?,
        num("intermediate_size")?,
        num("max_position_embeddings")?,
        num("type_vocab_size")?,
    );
    let eps = config["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32;
    let vocab = Vocab::read(files.tokenizer)?;
    let tensors = tensors(files.safetensors, layers)?;
    let by_name: BTreeMap<&str, &Tensor<'_>> = tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let expect = |name: &str, shape: &[u64]| -> Result<(), ConvertError> {
        match by_name.get(name) {
            Some(t) if t.shape == shape => Ok(()),
            Some(t) => Err(invalid("model.safetensors", format!("{name} has shape {:?}, expected {shape:?}", t.shape))),
            None => Err(invalid("model.safetensors", format!("{name} is missing"))),
        }
    };
    expect("token_embd.weight", &[vocab.tokens.len() as u64, hidden])?;
    expect("position_embd.weight", &[context, hidden])?;
    expect("blk.0.ffn_up.weight", &[ffn, hidden])?;

    let kvs: Vec<(&str, Kv)> = vec![
        ("general.architecture", Kv::Str("bert".into())),
        ("general.name", Kv::Str(name.into())),
        ("general.file_type", Kv::U32(0)),
        ("bert.context_length", Kv::U32(context as u32)),
        ("bert.embedding_length", Kv::U32(hidden as u32)),
        ("bert.block_count", Kv::U32(layers as u32)),
        ("bert.feed_forward_length", Kv::U32(ffn as u32)),
        ("bert.attention.head_count", Kv::U32(heads as u32)),
        ("bert.attention.layer_norm_epsilon", Kv::F32(eps)),
        ("bert.attention.causal", Kv::Bool(false)),
        ("bert.pooling_type", Kv::U32(1)),
        ("tokenizer.ggml.model", Kv::Str("bert".into())),
        ("tokenizer.ggml.pre", Kv::Str("default".into())),
        ("tokenizer.ggml.tokens", Kv::Strs(vocab.tokens)),
        ("tokenizer.ggml.token_type", Kv::I32s(vocab.types)),
        ("tokenizer.ggml.token_type_count", Kv::U32(types as u32)),
        ("tokenizer.ggml.bos_token_id", Kv::U32(vocab.cls)),
        ("tokenizer.ggml.eos_token_id", Kv::U32(vocab.sep)),
        ("tokenizer.ggml.seperator_token_id", Kv::U32(vocab.sep)),
        ("tokenizer.ggml.unknown_token_id", Kv::U32(vocab.unk)),
        ("tokenizer.ggml.padding_token_id", Kv::U32(vocab.pad)),
        ("tokenizer.ggml.mask_token_id", Kv::U32(vocab.mask)),
        ("tokenizer.ggml.add_bos_token", Kv::Bool(true)),
        ("tokenizer.ggml.add_eos_token", Kv::Bool(true)),
    ];
    write_gguf(out, &kvs, &tensors)
}

/// The vocabulary in llama.cpp's form, and the special ids.
struct Vocab {
    tokens: Vec<String>,
    types: Vec<i32>,
    cls: u32,
    sep: u32,
    unk: u32,
    pad: u32,
    mask: u32,
}

impl Vocab {
    fn read(json: &[u8]) -> Result<Self, ConvertError> {
        let file = "tokenizer.json";
        let t: Value = serde_json::from_slice(json).map_err(|e| invalid(file, e.to_string()))?;
        if t["model"]["type"] != "WordPiece" {
            return Err(invalid(file, "not a WordPiece tokenizer"));
        }
        let map = t["model"]["vocab"].as_object().ok_or_else(|| invalid(file, "no model.vocab"))?;
        let mut by_id: Vec<Option<&str>> = vec![None; map.len()];
        for (token, id) in map {
            let id = id.as_u64().filter(|&i| (i as usize) < by_id.len()).ok_or_else(|| invalid(file, format!("{token:?} has a bad id")))?;
            by_id[id as usize] = Some(token);
        }
        let special: Vec<(u64, &str)> = t["added_tokens"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["special"] == Value::Bool(true))
            .filter_map(|a| Some((a["id"].as_u64()?, a["content"].as_str()?)))
            .collect();
        let id_of = |content: &str| -> Result<u32, ConvertError> {
            map.get(content).and_then(Value::as_u64).map(|i| i as u32).ok_or_else(|| invalid(file, format!("no {content} token")))
        };
        let mut tokens = Vec::with_capacity(by_id.len());
        let mut types = Vec::with_capacity(by_id.len());
        for (id, token) in by_id.iter().enumerate() {
            let token = token.ok_or_else(|| invalid(file, format!("no token has id {id}")))?;
            // llama.cpp's WordPiece marks word starts, not continuations.
            tokens.push(if token.starts_with('[') && token.ends_with(']') {
                token.to_owned()
            } else if let Some(rest) = token.strip_prefix("##") {
                rest.to_owned()
            } else {
                format!("\u{2581}{token}")
            });
            types.push(if special.iter().any(|(s, _)| *s == id as u64) { CONTROL } else { NORMAL });
        }
        Ok(Vocab {
            tokens,
            types,
            cls: id_of("[CLS]")?,
            sep: id_of("[SEP]")?,
            unk: id_of("[UNK]")?,
            pad: id_of("[PAD]")?,
            mask: id_of("[MASK]")?,
        })
    }
}

/// The safetensors' tensors under llama.cpp's names, in order; the ones llama.cpp does not
/// use left out.
fn tensors(bytes: &[u8], layers: u64) -> Result<Vec<Tensor<'_>>, ConvertError> {
    let file = "model.safetensors";
    let len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).ok_or_else(|| invalid(file, "truncated"))?;
    let header_end = 8usize.checked_add(len as usize).filter(|&e| e <= bytes.len()).ok_or_else(|| invalid(file, "truncated header"))?;
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes[8..header_end]).map_err(|e| invalid(file, format!("header: {e}")))?;
    let data = &bytes[header_end..];
    let mut names: Vec<(String, String)> = vec![
        ("embeddings.word_embeddings.weight".into(), "token_embd.weight".into()),
        ("embeddings.token_type_embeddings.weight".into(), "token_types.weight".into()),
        ("embeddings.position_embeddings.weight".into(), "position_embd.weight".into()),
        ("embeddings.LayerNorm.weight".into(), "token_embd_norm.weight".into()),
        ("embeddings.LayerNorm.bias".into(), "token_embd_norm.bias".into()),
    ];
    for n in 0..layers {
        for (hf, gguf) in [
            ("attention.self.query", "attn_q"),
            ("attention.self.key", "attn_k"),
            ("attention.self.value", "attn_v"),
            ("attention.output.dense", "attn_output"),
            ("attention.output.LayerNorm", "attn_output_norm"),
            ("intermediate.dense", "ffn_up"),
            ("output.dense", "ffn_down"),
            ("output.LayerNorm", "layer_output_norm"),
        ] {
            for part in ["weight", "bias"] {
                names.push((format!("encoder.layer.{n}.{hf}.{part}"), format!("blk.{n}.{gguf}.{part}")));
            }
        }
    }
    let mut out = Vec::with_capacity(names.len());
    for (hf, gguf) in names {
        // Some exports prefix every name with the model's class (`bert.`).
        let entry =
            header.get(&hf).or_else(|| header.get(&format!("bert.{hf}"))).ok_or_else(|| invalid(file, format!("{hf} is missing")))?;
        if entry["dtype"] != "F32" {
            return Err(invalid(file, format!("{hf} is {}, not F32", entry["dtype"])));
        }
        let shape: Vec<u64> = entry["shape"].as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
        let offsets: Vec<usize> =
            entry["data_offsets"].as_array().into_iter().flatten().filter_map(Value::as_u64).map(|o| o as usize).collect();
        let [start, end] = offsets[..] else { return Err(invalid(file, format!("{hf} has no data offsets"))) };
        let bytes = data.get(start..end).ok_or_else(|| invalid(file, format!("{hf}'s data lies past the end")))?;
        if bytes.len() as u64 != shape.iter().product::<u64>() * 4 {
            return Err(invalid(file, format!("{hf}'s data does not fit its shape {shape:?}")));
        }
        out.push(Tensor { name: gguf, shape, data: bytes });
    }
    Ok(out)
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn pad(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// The GGUF v3 file: header, key/values, tensor infos, padding, data.
fn write_gguf(out: &mut impl Write, kvs: &[(&str, Kv)], tensors: &[Tensor<'_>]) -> Result<(), ConvertError> {
    let mut head = Vec::new();
    head.extend_from_slice(b"GGUF");
    head.extend_from_slice(&3u32.to_le_bytes());
    head.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    head.extend_from_slice(&(kvs.len() as u64).to_le_bytes());
    for (key, value) in kvs {
        string(&mut head, key);
        match value {
            Kv::U32(v) => {
                head.extend_from_slice(&T_U32.to_le_bytes());
                head.extend_from_slice(&v.to_le_bytes());
            }
            Kv::F32(v) => {
                head.extend_from_slice(&T_F32.to_le_bytes());
                head.extend_from_slice(&v.to_le_bytes());
            }
            Kv::Bool(v) => {
                head.extend_from_slice(&T_BOOL.to_le_bytes());
                head.push(u8::from(*v));
            }
            Kv::Str(s) => {
                head.extend_from_slice(&T_STRING.to_le_bytes());
                string(&mut head, s);
            }
            Kv::Strs(list) => {
                head.extend_from_slice(&T_ARRAY.to_le_bytes());
                head.extend_from_slice(&T_STRING.to_le_bytes());
                head.extend_from_slice(&(list.len() as u64).to_le_bytes());
                for s in list {
                    string(&mut head, s);
                }
            }
            Kv::I32s(list) => {
                head.extend_from_slice(&T_ARRAY.to_le_bytes());
                head.extend_from_slice(&T_I32.to_le_bytes());
                head.extend_from_slice(&(list.len() as u64).to_le_bytes());
                for v in list {
                    head.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    let mut offset = 0usize;
    for t in tensors {
        string(&mut head, &t.name);
        head.extend_from_slice(&(t.shape.len() as u32).to_le_bytes());
        // GGUF lists dimensions innermost first: safetensors' shape reversed.
        for d in t.shape.iter().rev() {
            head.extend_from_slice(&(*d as i64).to_le_bytes());
        }
        head.extend_from_slice(&F32.to_le_bytes());
        head.extend_from_slice(&(offset as u64).to_le_bytes());
        offset += pad(t.data.len());
    }
    head.resize(pad(head.len()), 0);
    out.write_all(&head)?;
    for t in tensors {
        out.write_all(t.data)?;
        out.write_all(&vec![0u8; pad(t.data.len()) - t.data.len()])?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
