//! Reading a GGUF file's header in safe Rust, before llama.cpp ever sees the file.
//!
//! The header is the magic `GGUF`, a version (2 or 3), the tensor and metadata counts, the
//! metadata key/value pairs and one info record per tensor. Every length and count read from
//! the file is checked against the bytes that remain (and against fixed sanity limits) before
//! anything is allocated or skipped, so a truncated, corrupted or hostile file ends in a
//! [`GgufError`] naming what was wrong, never a panic or a huge allocation. Large arrays
//! (a tokenizer's 262,144 strings) are skipped, not kept.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// What Hearth needs to know about a model file.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufInfo {
    pub version: u32,
    pub architecture: String,
    pub name: Option<String>,
    /// Total number of weights, summed over the tensor shapes.
    pub parameters: u64,
    /// The quantization as llama.cpp names it (`Q4_K_M`, `F16`, ...).
    pub quantization: String,
    /// The context length the model was trained for, when the file says.
    pub context_length: Option<u64>,
    /// The chat template embedded in the file (`tokenizer.chat_template`), if any.
    pub chat_template: Option<String>,
    pub tensor_count: u64,
    pub metadata_count: u64,
}

/// Why a file is not a usable GGUF model.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{0}: no such file")]
    NotFound(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not a GGUF file (it does not start with the GGUF magic)")]
    NotGguf,
    #[error("GGUF version {0} is not supported (versions 2 and 3 are)")]
    UnsupportedVersion(u32),
    #[error("the file is truncated: it ends inside {0}")]
    Truncated(&'static str),
    #[error("the header is corrupt: {what} is {value}, more than {limit}")]
    Absurd { what: &'static str, value: u64, limit: u64 },
    #[error("the header is corrupt: {0}")]
    Corrupt(String),
    #[error("the file has no {0} entry")]
    Missing(&'static str),
    #[error("architecture {0:?} is not supported by this build of llama.cpp")]
    UnsupportedArchitecture(String),
}

/// Sanity limits far above any real model, far below what would exhaust memory.
const MAX_KEY_LEN: u64 = 64 * 1024;
const MAX_STRING_LEN: u64 = 64 * 1024 * 1024;
const MAX_ARRAY_DEPTH: u32 = 4;
/// No real file has more items in one count (tensors, metadata entries, array elements).
const MAX_COUNT: u64 = u32::MAX as u64;
const MAX_TENSOR_DIMS: u32 = 8;

/// Architectures known to the llama.cpp this build vendors (llama-cpp-sys-2 0.1.161,
/// `src/llama-arch.cpp`). Update with the crate.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &[
    "afmoe",
    "apertus",
    "arcee",
    "arctic",
    "arwkv7",
    "baichuan",
    "bailingmoe",
    "bailingmoe2",
    "bailingmoe3",
    "bert",
    "bitnet",
    "bloom",
    "chameleon",
    "chatglm",
    "clef",
    "clip",
    "codeshell",
    "cogvlm",
    "cohere2",
    "cohere2moe",
    "command-r",
    "dbrx",
    "deci",
    "deepseek",
    "deepseek2",
    "deepseek2-ocr",
    "deepseek32",
    "deepseek4",
    "dflash",
    "dots1",
    "dots3note",
    "dream",
    "eagle3",
    "ernie4_5",
    "ernie4_5-moe",
    "eurobert",
    "exaone",
    "exaone-moe",
    "exaone4",
    "falcon",
    "falcon-h1",
    "gemma",
    "gemma-embedding",
    "gemma2",
    "gemma3",
    "gemma3n",
    "gemma4",
    "gemma4-assistant",
    "glm-dsa",
    "glm4",
    "glm4moe",
    "glm5-next",
    "gpt-oss",
    "gpt2",
    "gptj",
    "gptneox",
    "granite",
    "granite_swa",
    "granitehybrid",
    "granitemoe",
    "graniteswitch",
    "grok",
    "grovemoe",
    "hrm_text",
    "hunyuan-dense",
    "hunyuan-moe",
    "hunyuan_vl",
    "hy_v3",
    "hy_v4",
    "internlm2",
    "jais",
    "jais2",
    "jamba",
    "jina-bert-v2",
    "jina-bert-v3",
    "kimi-k3",
    "kimi-linear",
    "laguna",
    "lfm2",
    "lfm2moe",
    "llada",
    "llada-moe",
    "llama",
    "llama-embed",
    "llama4",
    "maincoder",
    "mamba",
    "mamba2",
    "maple",
    "mellum",
    "mimo2",
    "minicpm",
    "minicpm3",
    "minimax-01",
    "minimax-m2",
    "minimax-m3",
    "mistral3",
    "mistral4",
    "modern-bert",
    "mpt",
    "muse-glimmer",
    "nanbeige",
    "nemotron",
    "nemotron_h",
    "nemotron_h_moe",
    "neo-bert",
    "nomic-bert",
    "nomic-bert-moe",
    "olmo",
    "olmo2",
    "olmoe",
    "openelm",
    "orion",
    "paddleocr",
    "pangu-embedded",
    "phi2",
    "phi3",
    "phimoe",
    "plamo",
    "plamo2",
    "plamo3",
    "plm",
    "pockettts",
    "qwen",
    "qwen2",
    "qwen2moe",
    "qwen2vl",
    "qwen3",
    "qwen35",
    "qwen35moe",
    "qwen3moe",
    "qwen3next",
    "qwen3tts",
    "qwen3vl",
    "qwen3vlmoe",
    "qwen4exp",
    "refact",
    "rnd1",
    "rwkv6",
    "rwkv6qwen2",
    "rwkv7",
    "seed_oss",
    "smallthinker",
    "smollm3",
    "spark2_5",
    "stablelm",
    "starcoder",
    "starcoder2",
    "step35",
    "t5",
    "t5encoder",
    "talkie",
    "wavtokenizer-dec",
    "xverse",
];

/// Reads the header of the GGUF file at `path`.
pub fn inspect(path: &Path) -> Result<GgufInfo, GgufError> {
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => GgufError::NotFound(path.to_owned()),
        _ => GgufError::Io { path: path.to_owned(), source: e },
    })?;
    let len = file.metadata().map_err(|source| GgufError::Io { path: path.to_owned(), source })?.len();
    let info = parse(BufReader::with_capacity(1 << 16, file), len)?;
    if !SUPPORTED_ARCHITECTURES.contains(&info.architecture.as_str()) {
        return Err(GgufError::UnsupportedArchitecture(info.architecture));
    }
    Ok(info)
}

/// Parses a GGUF header from `reader`, which holds `len` bytes in all.
pub fn parse(reader: impl Read, len: u64) -> Result<GgufInfo, GgufError> {
    let mut r = Cursor { inner: reader, remaining: len };
    let mut magic = [0u8; 4];
    r.exact(&mut magic, "the magic").map_err(|e| match e {
        GgufError::Truncated(_) => GgufError::NotGguf,
        other => other,
    })?;
    if &magic != b"GGUF" {
        return Err(GgufError::NotGguf);
    }
    let version = r.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let tensor_count = r.u64("the tensor count")?;
    let metadata_count = r.u64("the metadata count")?;
    // Each metadata entry takes at least 13 bytes (key length, one key byte, type, one value
    // byte) and each tensor info at least 25, so counts above these bounds cannot be real.
    r.check_count("the metadata count", metadata_count, 13)?;
    r.check_count("the tensor count", tensor_count, 25)?;

    let mut meta = Metadata::default();
    for _ in 0..metadata_count {
        let key = r.string("a metadata key", MAX_KEY_LEN)?;
        let kind = r.u32("a metadata type")?;
        meta.read_value(&mut r, &key, kind)?;
    }
    let mut parameters: u64 = 0;
    let mut tensor_types = std::collections::HashMap::<u32, u64>::new();
    for _ in 0..tensor_count {
        r.skip_string("a tensor name", MAX_KEY_LEN)?;
        let dims = r.u32("a tensor's dimension count")?;
        if dims > MAX_TENSOR_DIMS {
            return Err(GgufError::Absurd { what: "a tensor's dimension count", value: dims.into(), limit: MAX_TENSOR_DIMS.into() });
        }
        let mut elements: u64 = 1;
        for _ in 0..dims {
            let d = r.u64("a tensor dimension")?;
            elements = elements.checked_mul(d).ok_or_else(|| GgufError::Corrupt("a tensor's shape overflows 64 bits".into()))?;
        }
        let ggml_type = r.u32("a tensor type")?;
        r.u64("a tensor offset")?;
        parameters = parameters.checked_add(elements).ok_or_else(|| GgufError::Corrupt("the parameter count overflows 64 bits".into()))?;
        *tensor_types.entry(ggml_type).or_default() += elements;
    }

    let architecture = meta.architecture.ok_or(GgufError::Missing("general.architecture"))?;
    let quantization = match meta.file_type {
        Some(ft) => file_type_name(ft),
        // Without general.file_type, name the type that holds most of the weights.
        None => tensor_types.iter().max_by_key(|(_, n)| **n).map(|(t, _)| format!("ggml type {t}")).unwrap_or_else(|| "unknown".into()),
    };
    let context_length = meta.context_lengths.iter().find(|(k, _)| *k == format!("{architecture}.context_length")).map(|(_, v)| *v);
    Ok(GgufInfo {
        version,
        architecture,
        name: meta.name,
        parameters,
        quantization,
        context_length,
        chat_template: meta.chat_template,
        tensor_count,
        metadata_count,
    })
}

/// The metadata values Hearth keeps; everything else is read past.
#[derive(Default)]
struct Metadata {
    architecture: Option<String>,
    name: Option<String>,
    file_type: Option<u32>,
    chat_template: Option<String>,
    context_lengths: Vec<(String, u64)>,
}

impl Metadata {
    fn read_value(&mut self, r: &mut Cursor<impl Read>, key: &str, kind: u32) -> Result<(), GgufError> {
        match (key, kind) {
            ("general.architecture", STRING) => self.architecture = Some(r.string("general.architecture", MAX_KEY_LEN)?),
            ("general.name", STRING) => self.name = Some(r.string("general.name", MAX_KEY_LEN)?),
            ("tokenizer.chat_template", STRING) => self.chat_template = Some(r.string("the chat template", MAX_STRING_LEN)?),
            ("general.file_type", UINT32) => self.file_type = Some(r.u32("general.file_type")?),
            // Kept only until the architecture is known; a hostile file could repeat the key.
            (k, UINT32 | UINT64) if k.ends_with(".context_length") && self.context_lengths.len() < 16 => {
                let v = if kind == UINT32 { r.u32(".context_length")?.into() } else { r.u64(".context_length")? };
                self.context_lengths.push((k.to_owned(), v));
            }
            _ => r.skip_value(kind, 0)?,
        }
        Ok(())
    }
}

// GGUF value types.
const UINT8: u32 = 0;
const INT8: u32 = 1;
const UINT16: u32 = 2;
const INT16: u32 = 3;
const UINT32: u32 = 4;
const INT32: u32 = 5;
const FLOAT32: u32 = 6;
const BOOL: u32 = 7;
const STRING: u32 = 8;
const ARRAY: u32 = 9;
const UINT64: u32 = 10;
const INT64: u32 = 11;
const FLOAT64: u32 = 12;

fn fixed_size(kind: u32) -> Option<u64> {
    match kind {
        UINT8 | INT8 | BOOL => Some(1),
        UINT16 | INT16 => Some(2),
        UINT32 | INT32 | FLOAT32 => Some(4),
        UINT64 | INT64 | FLOAT64 => Some(8),
        _ => None,
    }
}

/// A reader that knows how many bytes are left, so every length can be checked first.
struct Cursor<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Cursor<R> {
    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), GgufError> {
        if (buf.len() as u64) > self.remaining {
            return Err(GgufError::Truncated(what));
        }
        self.inner.read_exact(buf).map_err(|_| GgufError::Truncated(what))?;
        self.remaining -= buf.len() as u64;
        Ok(())
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        let mut b = [0u8; 8];
        self.exact(&mut b, what)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Refuses a count beyond any real file (corrupt), or of items that each take at least
    /// `min_size` bytes when the rest of the file has no room for them (truncated).
    fn check_count(&self, what: &'static str, count: u64, min_size: u64) -> Result<(), GgufError> {
        if count > MAX_COUNT {
            return Err(GgufError::Absurd { what, value: count, limit: MAX_COUNT });
        }
        if count > self.remaining / min_size {
            return Err(GgufError::Truncated(what));
        }
        Ok(())
    }

    fn length(&mut self, what: &'static str, max: u64) -> Result<u64, GgufError> {
        let len = self.u64(what)?;
        let limit = max.min(self.remaining);
        if len > limit {
            return Err(if len > max { GgufError::Absurd { what, value: len, limit: max } } else { GgufError::Truncated(what) });
        }
        Ok(len)
    }

    fn string(&mut self, what: &'static str, max: u64) -> Result<String, GgufError> {
        let len = self.length(what, max)?;
        let mut buf = vec![0u8; len as usize];
        self.exact(&mut buf, what)?;
        String::from_utf8(buf).map_err(|_| GgufError::Corrupt(format!("{what} is not UTF-8")))
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), GgufError> {
        if n > self.remaining {
            return Err(GgufError::Truncated(what));
        }
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(|_| GgufError::Truncated(what))?;
        if copied != n {
            return Err(GgufError::Truncated(what));
        }
        self.remaining -= n;
        Ok(())
    }

    fn skip_string(&mut self, what: &'static str, max: u64) -> Result<(), GgufError> {
        let len = self.length(what, max)?;
        self.skip(len, what)
    }

    fn skip_value(&mut self, kind: u32, depth: u32) -> Result<(), GgufError> {
        if let Some(size) = fixed_size(kind) {
            return self.skip(size, "a metadata value");
        }
        match kind {
            STRING => self.skip_string("a metadata string", MAX_STRING_LEN),
            ARRAY => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(GgufError::Absurd { what: "array nesting", value: (depth + 1).into(), limit: MAX_ARRAY_DEPTH.into() });
                }
                let elem = self.u32("an array's element type")?;
                let count = self.u64("an array's length")?;
                match fixed_size(elem) {
                    Some(size) => {
                        let bytes = count.checked_mul(size).ok_or(GgufError::Truncated("an array"))?;
                        self.skip(bytes, "an array")
                    }
                    None => {
                        // Strings take at least 8 bytes each, nested arrays at least 12.
                        self.check_count("an array's length", count, 8)?;
                        for _ in 0..count {
                            self.skip_value(elem, depth + 1)?;
                        }
                        Ok(())
                    }
                }
            }
            other => Err(GgufError::Corrupt(format!("unknown metadata value type {other}"))),
        }
    }
}

/// llama.cpp's `llama_ftype` names.
fn file_type_name(ft: u32) -> String {
    let name = match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        other => return format!("ftype {other}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests;
