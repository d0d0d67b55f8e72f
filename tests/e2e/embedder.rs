//! The knowledge embedding model, for real: all-MiniLM-L6-v2 from its PyPI wheel, converted
//! to GGUF in Rust (`hearth_llama::convert`) and run by the same llama.cpp engine as chat.
//! Its vectors equal the model's own (sentence-transformers' computation, written out in
//! numpy by `fixtures/minilm_reference.py` into `fixtures/minilm-reference.json`), a
//! paraphrase lands nearer its sentence than an unrelated one does, and batching changes
//! nothing.

use std::sync::Arc;

use hearth_llm::{ChatModel, EmbedInput};

use hearth_e2e::embedder_engine as converted;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_embedding_model_converts_and_ranks_a_paraphrase_above_an_unrelated_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, path) = converted(dir.path());
    let info = hearth_llama::inspect(&path).unwrap();
    assert_eq!((info.architecture.as_str(), info.context_length, info.tensor_count), ("bert", Some(512), 101));
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

/// Knowledge with the real embedding model over real files of each format: a question whose
/// words are not the passage's finds it through the vector side, a rare exact term through
/// the word side, and the hybrid ranking finds both.
#[test]
fn hybrid_search_finds_a_paraphrase_by_meaning_and_a_rare_term_by_its_words() {
    use hearth_core::{Core, CoreConfig, CoreServices, Embedder, Retrieval, WorkspaceRef};
    let models = tempfile::tempdir().unwrap();
    let engine = Arc::new(converted(models.path()).0);
    let data = tempfile::tempdir().unwrap();
    let core = Core::open(&CoreConfig::new(data.path()), CoreServices::in_memory()).unwrap();
    core.create_workspace(&hearth_types::NewWorkspace::new("Notes", hearth_types::Handle::parse("notes").unwrap()).unwrap()).unwrap();
    core.use_embedder(Embedder { model: engine, name: "all-minilm-l6-v2".into() });
    let docs = tempfile::tempdir().unwrap();
    let d = docs.path();
    std::fs::write(d.join("garden.md"), "# Garden\n\n## Soil\nBlueberries grow best in acidic soil with a pH near 5.\n").unwrap();
    std::fs::write(
        d.join("trains.html"),
        "<html><body><nav>Home</nav><main><h1>Trains</h1><p>The night train to Vienna leaves at 21:40 from platform 7.</p></main></body></html>",
    )
    .unwrap();
    std::fs::write(d.join("parts.pdf"), hearth_docs::fixtures::pdf(&["Order replacement part QX-4471 for the bicycle's rear derailleur."]))
        .unwrap();
    std::fs::write(
        d.join("bread.docx"),
        hearth_docs::fixtures::docx(&[(1, "Bread"), (0, "Let the sourdough rise overnight in a warm kitchen.")]),
    )
    .unwrap();
    let ws: WorkspaceRef = "notes".parse().unwrap();
    let job = core.add_knowledge(&ws, &[d.to_owned()]).unwrap();
    let job = core.run_job(job.id, &std::sync::atomic::AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(job.output["added"], 4, "{job:?}");

    // No word of the question is in the passage.
    let paraphrase = "Which fruit bushes need sour earth?";
    assert!(core.retrieve(&ws, paraphrase, 5, Retrieval::Words).unwrap().is_empty(), "no shared word");
    assert_eq!(core.retrieve(&ws, paraphrase, 5, Retrieval::Vector).unwrap()[0].title, "Garden");
    assert_eq!(core.retrieve(&ws, paraphrase, 5, Retrieval::Hybrid).unwrap()[0].title, "Garden");
    // A part number means nothing to the model; its words find it.
    let words = core.retrieve(&ws, "QX-4471", 5, Retrieval::Words).unwrap();
    assert_eq!((words[0].title.as_str(), words[0].page), ("parts.pdf", Some(1)));
    assert_eq!(core.retrieve(&ws, "QX-4471", 5, Retrieval::Hybrid).unwrap()[0].title, "parts.pdf");
    // And meaning across formats.
    assert_eq!(core.search_knowledge(&ws, "when does the overnight rail service depart", 5).unwrap()[0].title, "Trains");
    assert_eq!(core.search_knowledge(&ws, "how long should dough prove", 5).unwrap()[0].title, "Bread");
}
