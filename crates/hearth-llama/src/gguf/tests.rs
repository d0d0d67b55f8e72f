//! GGUF header parsing: valid headers, every kind of damage, and fuzzing.

use proptest::prelude::*;

use super::*;

/// Builds GGUF headers byte by byte.
#[derive(Default)]
struct Gguf {
    kvs: Vec<u8>,
    kv_count: u64,
    tensors: Vec<u8>,
    tensor_count: u64,
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

impl Gguf {
    fn kv_str(mut self, key: &str, value: &str) -> Self {
        string(&mut self.kvs, key);
        self.kvs.extend(STRING.to_le_bytes());
        string(&mut self.kvs, value);
        self.kv_count += 1;
        self
    }

    fn kv_u32(mut self, key: &str, value: u32) -> Self {
        string(&mut self.kvs, key);
        self.kvs.extend(UINT32.to_le_bytes());
        self.kvs.extend(value.to_le_bytes());
        self.kv_count += 1;
        self
    }

    fn kv_strings(mut self, key: &str, items: &[&str]) -> Self {
        string(&mut self.kvs, key);
        self.kvs.extend(ARRAY.to_le_bytes());
        self.kvs.extend(STRING.to_le_bytes());
        self.kvs.extend((items.len() as u64).to_le_bytes());
        for i in items {
            string(&mut self.kvs, i);
        }
        self.kv_count += 1;
        self
    }

    fn kv_f32s(mut self, key: &str, items: &[f32]) -> Self {
        string(&mut self.kvs, key);
        self.kvs.extend(ARRAY.to_le_bytes());
        self.kvs.extend(FLOAT32.to_le_bytes());
        self.kvs.extend((items.len() as u64).to_le_bytes());
        for i in items {
            self.kvs.extend(i.to_le_bytes());
        }
        self.kv_count += 1;
        self
    }

    fn tensor(mut self, name: &str, dims: &[u64], ggml_type: u32) -> Self {
        string(&mut self.tensors, name);
        self.tensors.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            self.tensors.extend(d.to_le_bytes());
        }
        self.tensors.extend(ggml_type.to_le_bytes());
        self.tensors.extend(0u64.to_le_bytes());
        self.tensor_count += 1;
        self
    }

    fn bytes(&self, version: u32) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(version.to_le_bytes());
        out.extend(self.tensor_count.to_le_bytes());
        out.extend(self.kv_count.to_le_bytes());
        out.extend(&self.kvs);
        out.extend(&self.tensors);
        out
    }
}

fn sample() -> Gguf {
    Gguf::default()
        .kv_str("general.architecture", "gemma3")
        .kv_str("general.name", "Tiny")
        .kv_u32("general.file_type", 15)
        .kv_u32("gemma3.context_length", 32768)
        .kv_strings("tokenizer.ggml.tokens", &["<pad>", "<eos>", "hello", "wörld"])
        .kv_f32s("tokenizer.ggml.scores", &[0.0, -1.0, -2.5, 3.0])
        .tensor("token_embd.weight", &[4, 8], 12)
        .tensor("output_norm.weight", &[8], 0)
}

fn parse_bytes(bytes: &[u8]) -> Result<GgufInfo, GgufError> {
    parse(bytes, bytes.len() as u64)
}

#[test]
fn reads_what_hearth_needs() {
    let info = parse_bytes(&sample().bytes(3)).unwrap();
    assert_eq!(info.version, 3);
    assert_eq!(info.architecture, "gemma3");
    assert_eq!(info.name.as_deref(), Some("Tiny"));
    assert_eq!(info.quantization, "Q4_K_M");
    assert_eq!(info.context_length, Some(32768));
    assert_eq!(info.parameters, 4 * 8 + 8);
    assert_eq!((info.tensor_count, info.metadata_count), (2, 6));
    assert_eq!(info.chat_template, None);

    let with_template = sample().kv_str("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}");
    let info = parse_bytes(&with_template.bytes(2)).unwrap();
    assert!(info.chat_template.unwrap().starts_with("{% for m"));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().bytes(3);
    for cut in 0..bytes.len() {
        let err = parse_bytes(&bytes[..cut]).unwrap_err();
        assert!(matches!(err, GgufError::Truncated(_) | GgufError::NotGguf), "cut at {cut}: {err:?}");
    }
}

#[test]
fn what_is_not_gguf() {
    assert!(matches!(parse_bytes(b""), Err(GgufError::NotGguf)));
    assert!(matches!(parse_bytes(b"GGML and then some"), Err(GgufError::NotGguf)));
    assert!(matches!(parse_bytes(&b"%PDF-1.7 not a model".repeat(10)), Err(GgufError::NotGguf)));
    for version in [0, 1, 4, u32::MAX] {
        assert!(matches!(parse_bytes(&sample().bytes(version)), Err(GgufError::UnsupportedVersion(v)) if v == version));
    }
}

/// Overwrites 8 bytes at `at` with `value`.
fn patched(mut bytes: Vec<u8>, at: usize, value: u64) -> Vec<u8> {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    bytes
}

#[test]
fn absurd_counts_and_lengths_are_refused_before_allocating() {
    let bytes = sample().bytes(3);
    // Tensor count (at 8) and metadata count (at 16).
    assert!(matches!(parse_bytes(&patched(bytes.clone(), 8, u64::MAX)), Err(GgufError::Absurd { what: "the tensor count", .. })));
    assert!(matches!(parse_bytes(&patched(bytes.clone(), 16, 1 << 40)), Err(GgufError::Absurd { what: "the metadata count", .. })));
    // The first key's length (at 24).
    assert!(matches!(parse_bytes(&patched(bytes.clone(), 24, u64::MAX)), Err(GgufError::Absurd { .. })));
    assert!(matches!(parse_bytes(&patched(bytes.clone(), 24, 10_000)), Err(GgufError::Truncated(_))));

    let huge_array = Gguf::default().kv_str("general.architecture", "llama").kv_strings("tokenizer.ggml.tokens", &["a"]).bytes(3);
    let count_at = huge_array.len() - (8 + 1) - 8;
    assert!(matches!(parse_bytes(&patched(huge_array, count_at, u64::MAX / 2)), Err(GgufError::Absurd { .. } | GgufError::Truncated(_))));

    let many_dims = Gguf::default().kv_str("general.architecture", "llama").tensor("t", &[1; 9], 0).bytes(3);
    assert!(matches!(parse_bytes(&many_dims), Err(GgufError::Absurd { what: "a tensor's dimension count", .. })));

    let overflow = Gguf::default().kv_str("general.architecture", "llama").tensor("t", &[u64::MAX, 3], 0).bytes(3);
    assert!(matches!(parse_bytes(&overflow), Err(GgufError::Corrupt(_))));
}

#[test]
fn a_header_without_an_architecture_is_refused() {
    let bytes = Gguf::default().kv_str("general.name", "nameless").bytes(3);
    assert!(matches!(parse_bytes(&bytes), Err(GgufError::Missing("general.architecture"))));
}

#[test]
fn inspect_names_missing_and_unsupported_models() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(inspect(&dir.path().join("nope.gguf")), Err(GgufError::NotFound(_))));
    let odd = dir.path().join("odd.gguf");
    std::fs::write(&odd, Gguf::default().kv_str("general.architecture", "quantum-brain-9000").bytes(3)).unwrap();
    let err = inspect(&odd).unwrap_err();
    assert!(matches!(&err, GgufError::UnsupportedArchitecture(a) if a == "quantum-brain-9000"), "{err:?}");
    let fine = dir.path().join("fine.gguf");
    std::fs::write(&fine, sample().bytes(3)).unwrap();
    assert_eq!(inspect(&fine).unwrap().architecture, "gemma3");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_bytes(&bytes);
        let mut with_magic = b"GGUF\x03\x00\x00\x00".to_vec();
        with_magic.extend(&bytes);
        let _ = parse_bytes(&with_magic);
    }

    #[test]
    fn corrupted_headers_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = sample().bytes(3);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = parse_bytes(&bytes);
    }
}
