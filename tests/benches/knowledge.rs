//! Knowledge, measured with the real embedding model (all-MiniLM-L6-v2, converted to GGUF as
//! `hearth knowledge embedder` does), each speed beside a reference in the same run:
//!
//! - Retrieval quality: recall@1 and recall@5 of hybrid, vector-only and BM25-only retrieval
//!   over a labelled set (`knowledge-eval.json`: 24 documents and 72 questions of three kinds,
//!   in the document's words, a paraphrase sharing no content word, a rare exact term; or the
//!   file `$HEARTH_KNOWLEDGE_EVAL` names, of the same shape), overall and per kind.
//! - Ingestion: chunks per second of an ingest job (read, extract, chunk, embed, store, one
//!   transaction per document) beside the embedding model alone on the same chunk texts in
//!   the same batches; the ratio is what everything but the model costs.
//! - Search at 100,000 chunks: median and p99 of a hybrid search and of a vector-only one (the
//!   query's embedding included, as a user waits for it), beside the query's embedding alone.
//!
//! Figures go to stdout and to `bench-results/knowledge.json` (or `$HEARTH_BENCH_OUT`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use hearth_core::{Core, CoreConfig, CoreServices, Embedder, Retrieval, WorkspaceRef};
use hearth_llm::{ChatModel, EmbedInput};
use hearth_types::{ChunkEmbeddings, DocFormat, Handle, NewChunk, NewDocument, NewWorkspace};
use serde_json::{Value, json};

const MODEL: &str = "all-minilm-l6-v2";
const BATCH: usize = 16;
const SCALE_CHUNKS: usize = 100_000;
const SCALE_DOCS: usize = 1_000;
const QUERIES: usize = 40;

fn main() {
    let models = tempfile::tempdir().unwrap();
    let engine: Arc<dyn ChatModel> = Arc::new(hearth_e2e::embedder_engine(models.path()).0);
    let mut results = serde_json::Map::new();
    results.insert("retrieval".into(), retrieval(&engine));
    results.insert("ingestion".into(), ingestion(&engine));
    results.insert("search_100k".into(), search_at_scale(&engine));
    let out = std::env::var_os("HEARTH_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-results/knowledge.json"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&out, serde_json::to_string_pretty(&Value::Object(results)).unwrap()).unwrap();
    println!("written to {}", out.display());
}

fn core_in(dir: &Path, engine: &Arc<dyn ChatModel>) -> (Core, WorkspaceRef) {
    let core = Core::open(&CoreConfig::new(dir), CoreServices::in_memory()).unwrap();
    core.create_workspace(&NewWorkspace::new("Bench", Handle::parse("bench").unwrap()).unwrap()).unwrap();
    core.use_embedder(Embedder { model: engine.clone(), name: MODEL.into() });
    (core, "bench".parse().unwrap())
}

fn ingest(core: &Core, ws: &WorkspaceRef, folder: &Path) -> hearth_types::Job {
    let job = core.add_knowledge(ws, &[folder.to_owned()]).unwrap();
    let job = core.run_job(job.id, &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(job.status, hearth_types::JobStatus::Succeeded, "{job:?}");
    job
}

// ------------------------------------------------------------------ retrieval quality

fn retrieval(engine: &Arc<dyn ChatModel>) -> Value {
    let path = std::env::var_os("HEARTH_KNOWLEDGE_EVAL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/knowledge-eval.json"));
    let set: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    for d in set["documents"].as_array().unwrap() {
        std::fs::write(docs.path().join(d["name"].as_str().unwrap()), d["text"].as_str().unwrap()).unwrap();
    }
    let (core, ws) = core_in(data.path(), engine);
    ingest(&core, &ws, docs.path());

    println!(
        "retrieval over {} ({} documents, {} questions)",
        path.display(),
        set["documents"].as_array().unwrap().len(),
        set["questions"].as_array().unwrap().len()
    );
    println!("  {:<10} {:>10} {:>10}   per kind (recall@1 / recall@5)", "", "recall@1", "recall@5");
    let mut out = serde_json::Map::new();
    for (name, how) in [("hybrid", Retrieval::Hybrid), ("vector", Retrieval::Vector), ("bm25", Retrieval::Words)] {
        // kind -> (questions, found first, found in 5)
        let mut kinds: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
        for q in set["questions"].as_array().unwrap() {
            let hits = core.retrieve(&ws, q["q"].as_str().unwrap(), 5, how).unwrap();
            let names: Vec<String> = hits.iter().map(|h| Path::new(&h.path).file_name().unwrap().to_string_lossy().into_owned()).collect();
            let want = q["doc"].as_str().unwrap();
            for kind in ["all".to_owned(), q["kind"].as_str().unwrap_or("other").to_owned()] {
                let e = kinds.entry(kind).or_default();
                e.0 += 1;
                e.1 += u32::from(names.first().is_some_and(|n| n == want));
                e.2 += u32::from(names.iter().any(|n| n == want));
            }
        }
        let rate = |n: u32, of: u32| f64::from(n) / f64::from(of.max(1));
        let (all_n, all_1, all_5) = kinds["all"];
        let per: Vec<String> = kinds
            .iter()
            .filter(|(k, _)| *k != "all")
            .map(|(k, (n, r1, r5))| format!("{k} {:.2}/{:.2}", rate(*r1, *n), rate(*r5, *n)))
            .collect();
        println!("  {name:<10} {:>10.3} {:>10.3}   {}", rate(all_1, all_n), rate(all_5, all_n), per.join(", "));
        let by_kind: serde_json::Map<String, Value> = kinds
            .iter()
            .map(|(k, (n, r1, r5))| (k.clone(), json!({ "questions": n, "recall_at_1": rate(*r1, *n), "recall_at_5": rate(*r5, *n) })))
            .collect();
        out.insert(name.into(), Value::Object(by_kind));
    }
    Value::Object(out)
}

// ------------------------------------------------------------------ ingestion

/// A small deterministic generator, so every run ingests the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
    fn unit_vector(&mut self, dims: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dims).map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        v.into_iter().map(|x| x / n).collect()
    }
}

const SUBJECTS: &[&str] =
    &["The committee", "Our neighbour", "The old ferry", "A careful baker", "The library", "Every gardener", "The river", "The engineer"];
const VERBS: &[&str] = &["repaired", "described", "measured", "planted", "painted", "carried", "counted", "explained"];
const OBJECTS: &[&str] = &[
    "the wooden bridge",
    "forty lanterns",
    "the winter schedule",
    "a copper kettle",
    "the north field",
    "seven letters",
    "the harbour wall",
    "a quiet song",
];
const TIMES: &[&str] = &["before dawn", "in late autumn", "after the storm", "on market day", "every Tuesday", "during the festival"];

fn sentence(rng: &mut Rng) -> String {
    format!("{} {} {} {}.", rng.pick(SUBJECTS), rng.pick(VERBS), rng.pick(OBJECTS), rng.pick(TIMES))
}

fn ingestion(engine: &Arc<dyn ChatModel>) -> Value {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let docs = tempfile::tempdir().unwrap();
    let mut texts: Vec<String> = Vec::new();
    for i in 0..40 {
        let mut text = format!("# Notes {i}\n\n");
        for s in 0..6 {
            text.push_str(&format!("## Part {s}\n\n"));
            for _ in 0..3 {
                let paragraph: Vec<String> = (0..4).map(|_| sentence(&mut rng)).collect();
                text.push_str(&paragraph.join(" "));
                text.push_str("\n\n");
            }
        }
        std::fs::write(docs.path().join(format!("notes-{i:02}.md")), &text).unwrap();
        texts.push(text);
    }
    // The same chunks the job will make.
    let chunks: Vec<String> = texts
        .iter()
        .flat_map(|t| {
            let extracted = hearth_docs::extract(DocFormat::Markdown, t.as_bytes()).unwrap();
            hearth_docs::chunk(DocFormat::Markdown, &extracted, hearth_docs::Budget::default()).into_iter().map(|c| c.text)
        })
        .collect();
    // Warm the model up once, so neither side pays its load.
    engine.embed(MODEL, &[EmbedInput::Text("warm up".into())]).unwrap();

    let started = Instant::now();
    for batch in chunks.chunks(BATCH) {
        let inputs: Vec<EmbedInput> = batch.iter().map(|t| EmbedInput::Text(t.clone())).collect();
        engine.embed(MODEL, &inputs).unwrap();
    }
    let model_alone = started.elapsed();

    let data = tempfile::tempdir().unwrap();
    let (core, ws) = core_in(data.path(), engine);
    let started = Instant::now();
    let job = ingest(&core, &ws, docs.path());
    let hearth = started.elapsed();
    assert_eq!(job.output["added"], 40, "{job:?}");
    let stored: u64 = core.documents(&ws).unwrap().iter().map(|d| u64::from(d.chunks)).sum();
    assert_eq!(stored, chunks.len() as u64, "the job made the same chunks");

    let rate = |d: Duration| chunks.len() as f64 / d.as_secs_f64();
    println!(
        "ingestion of {} chunks (40 Markdown files): hearth {:.1} chunks/s, the embedding model alone {:.1} chunks/s, ratio {:.2}",
        chunks.len(),
        rate(hearth),
        rate(model_alone),
        rate(hearth) / rate(model_alone)
    );
    json!({ "chunks": chunks.len(), "hearth_chunks_per_s": rate(hearth), "model_alone_chunks_per_s": rate(model_alone),
            "ratio": rate(hearth) / rate(model_alone) })
}

// ------------------------------------------------------------------ search at scale

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn timed(mut f: impl FnMut(usize)) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..QUERIES)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed()
        })
        .collect();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn search_at_scale(engine: &Arc<dyn ChatModel>) -> Value {
    let data = tempfile::tempdir().unwrap();
    let (core, ws) = core_in(data.path(), engine);
    let workspace = core.workspace(&ws).unwrap().id;
    // The chunks go straight into the store (a second connection to the same file): embedding
    // 100,000 chunks for real would take the bench an hour and measure nothing new.
    let store = hearth_store::Store::open(data.path().join("hearth.db")).unwrap();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let per_doc = SCALE_CHUNKS / SCALE_DOCS;
    let started = Instant::now();
    for d in 0..SCALE_DOCS {
        let chunks: Vec<NewChunk> = (0..per_doc)
            .map(|c| {
                let text = format!("{} {} {}", sentence(&mut rng), sentence(&mut rng), sentence(&mut rng));
                NewChunk { heading: format!("Doc {d}"), page: None, start: (c * 200) as u32, end: (c * 200 + text.len()) as u32, text }
            })
            .collect();
        let vectors = (0..per_doc).map(|_| rng.unit_vector(384)).collect();
        let new = NewDocument {
            workspace_id: workspace,
            path: format!("/bench/doc-{d:04}.md"),
            title: format!("Doc {d}"),
            format: DocFormat::Markdown,
            sha256: format!("{d:064x}"),
            size: 0,
            text: String::new(),
            chunks,
            embeddings: Some(ChunkEmbeddings { model: MODEL.into(), vectors }),
        };
        store.write(|w| w.put_document(&new)).unwrap();
    }
    println!("search at {SCALE_CHUNKS} chunks ({SCALE_DOCS} documents, stored in {:.1} s)", started.elapsed().as_secs_f64());
    let questions: Vec<String> = (0..QUERIES).map(|_| format!("Who {} {}?", rng.pick(VERBS), rng.pick(OBJECTS))).collect();
    let (embed_p50, embed_p99) = timed(|i| {
        engine.embed(MODEL, &[EmbedInput::Text(questions[i].clone())]).unwrap();
    });
    // The stored vectors are random, so few pass the similarity floor: what is timed is the
    // query's embedding and the scan of every vector, which is the same either way.
    let (vector_p50, vector_p99) = timed(|i| {
        core.retrieve(&ws, &questions[i], 5, Retrieval::Vector).unwrap();
    });
    let (hybrid_p50, hybrid_p99) = timed(|i| {
        assert!(!core.retrieve(&ws, &questions[i], 5, Retrieval::Hybrid).unwrap().is_empty());
    });
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("  the query's embedding alone: median {:.1} ms, p99 {:.1} ms", ms(embed_p50), ms(embed_p99));
    println!("  vector search:               median {:.1} ms, p99 {:.1} ms", ms(vector_p50), ms(vector_p99));
    println!("  hybrid search:               median {:.1} ms, p99 {:.1} ms", ms(hybrid_p50), ms(hybrid_p99));
    json!({
        "chunks": SCALE_CHUNKS, "queries": QUERIES,
        "embed_query_ms": { "median": ms(embed_p50), "p99": ms(embed_p99) },
        "vector_ms": { "median": ms(vector_p50), "p99": ms(vector_p99) },
        "hybrid_ms": { "median": ms(hybrid_p50), "p99": ms(hybrid_p99) },
    })
}
