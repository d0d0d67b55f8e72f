//! Ingestion as a job on real files: every outcome per file, search, re-adding, resuming,
//! cancelling, and the background runner.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use hearth_types::{Handle, JobStatus, NewWorkspace};

use crate::{JOB_STALE, JobRunner};

use hearth_llm::EmbedInput;

use super::*;

fn core_with_workspace() -> (Core, WorkspaceRef) {
    let core = Core::in_memory().unwrap();
    core.create_workspace(&NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap()).unwrap();
    (core, "notes".parse().unwrap())
}

fn run(core: &Core, job: &Job) -> Job {
    core.run_job(job.id, &AtomicBool::new(false), &mut |_| {}).unwrap()
}

fn failed_paths(job: &Job) -> Vec<(String, String)> {
    job.output["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_owned(), f["error"].as_str().unwrap().to_owned()))
        .collect()
}

/// A folder with one file of each kind Hearth reads, and each kind of bad input.
fn fixture(dir: &Path) {
    std::fs::create_dir_all(dir.join("docs/deeper")).unwrap();
    std::fs::write(
        dir.join("docs/garden.md"),
        "# Garden\n\n## Soil\nBlueberries want acidic soil, near pH 5.\n\n## Water\nWater at dawn.\n",
    )
    .unwrap();
    std::fs::write(dir.join("docs/deeper/todo.txt"), "Buy the zyxquartz fertilizer before spring.\n").unwrap();
    std::fs::write(dir.join("docs/deeper/tool.py"), "def water(plants):\n    return [p.water() for p in plants]\n").unwrap();
    std::fs::write(dir.join("docs/photo.jpg"), [0xFF, 0xD8, 0xFF, 0x00]).unwrap(); // not a document: skipped
    std::fs::write(dir.join("docs/blob.txt"), b"PK\x03\x04\x00\x00\x00 a zip named .txt").unwrap();
    std::fs::write(dir.join("docs/.hidden.md"), "# hidden").unwrap();
    std::fs::write(
        dir.join("docs/page.html"),
        "<html><head><title>Pruning</title></head><body><nav>NAVLINKS</nav><main><h1>Pruning</h1>\
         <p>Prune roses in late winter.</p></main><footer>FOOTER</footer></body></html>",
    )
    .unwrap();
    std::fs::write(dir.join("docs/paper.pdf"), hearth_docs::fixtures::pdf(&["Mulch keeps moisture in.", "Page two mentions voles."]))
        .unwrap();
    std::fs::write(dir.join("docs/plan.docx"), hearth_docs::fixtures::docx(&[(1, "Plan"), (0, "Sow radishes in March.")])).unwrap();
    std::fs::write(dir.join("docs/locked.pdf"), hearth_docs::fixtures::encrypted_pdf()).unwrap();
    std::fs::write(dir.join("docs/bomb.docx"), hearth_docs::fixtures::docx_bomb(hearth_docs::MAX_DOCX_EXPANDED + 1)).unwrap();
    let big = std::fs::File::create(dir.join("docs/huge.txt")).unwrap();
    big.set_len(MAX_FILE_BYTES + 1).unwrap(); // sparse: costs no disk
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("docs"), dir.join("docs/deeper/loop")).unwrap();
}

#[test]
fn a_folder_is_ingested_file_by_file_with_each_bad_file_its_own_error() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let job = core.add_knowledge(&ws, &[dir.path().join("docs"), dir.path().join("missing.md")]).unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    let done = run(&core, &job);
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!((done.output["added"].as_u64(), done.output["unchanged"].as_u64()), (Some(6), Some(0)), "{:?}", done.output);
    let failed = failed_paths(&done);
    let reason = |name: &str| failed.iter().find(|(p, _)| p.ends_with(name)).map(|(_, e)| e.clone()).unwrap_or_default();
    assert!(reason("missing.md").starts_with("could not read it"), "{failed:?}");
    assert!(reason("blob.txt").starts_with("not a text file"), "{failed:?}");
    assert!(reason("huge.txt").starts_with("too large"), "{failed:?}");
    assert!(reason("locked.pdf").contains("encrypted"), "{failed:?}");
    assert!(reason("bomb.docx").starts_with("too large"), "{failed:?}");
    assert_eq!(failed.len(), 5, "{failed:?}");
    assert_eq!((done.done, done.total), (10, Some(10)), "progress counts the files read");
    assert_eq!(done.message, "6 added, 0 updated, 0 unchanged, 5 failed");

    let docs = core.documents(&ws).unwrap();
    let names: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
    // By path: docs/deeper/todo.txt, docs/deeper/tool.py, docs/garden.md, docs/page.html, ...
    assert_eq!(
        names,
        ["todo.txt", "tool.py", "Garden", "Pruning", "paper.pdf", "Plan"],
        "the link loop was walked once, the hidden file left out"
    );
    let garden = &docs[2];
    assert_eq!((garden.format, garden.chunks), (hearth_types::DocFormat::Markdown, 3));

    let hits = core.search_knowledge(&ws, "zyxquartz", 5).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "todo.txt");
    let hits = core.search_knowledge(&ws, "voles", 5).unwrap();
    assert_eq!((hits[0].title.as_str(), hits[0].page), ("paper.pdf", Some(2)), "a PDF's chunks keep their page");
    assert_eq!(core.search_knowledge(&ws, "radishes", 5).unwrap()[0].heading, "Plan");
    assert_eq!(core.search_knowledge(&ws, "roses", 5).unwrap()[0].title, "Pruning");
    assert!(core.search_knowledge(&ws, "NAVLINKS", 5).unwrap().is_empty(), "an HTML page's boilerplate is left out");
    let hits = core.search_knowledge(&ws, "acidic blueberries", 5).unwrap();
    assert_eq!((hits[0].title.as_str(), hits[0].heading.as_str(), hits[0].chunk), ("Garden", "Garden > Soil", 1));
}

#[test]
fn adding_again_costs_nothing_and_a_changed_file_is_reindexed_without_duplicates() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.md");
    std::fs::write(&file, "# Plan\nPlant tomatoes in May.\n").unwrap();
    run(&core, &core.add_knowledge(&ws, std::slice::from_ref(&file)).unwrap());
    let again = run(&core, &core.add_knowledge(&ws, std::slice::from_ref(&file)).unwrap());
    assert_eq!(again.output["unchanged"].as_u64(), Some(1));
    std::fs::write(&file, "# Plan\nPlant peppers in June.\n").unwrap();
    let changed = run(&core, &core.add_knowledge(&ws, std::slice::from_ref(&file)).unwrap());
    assert_eq!(changed.output["updated"].as_u64(), Some(1));
    let docs = core.documents(&ws).unwrap();
    assert_eq!(docs.len(), 1);
    assert!(core.search_knowledge(&ws, "tomatoes", 5).unwrap().is_empty(), "the old text is gone");
    assert_eq!(core.search_knowledge(&ws, "peppers", 5).unwrap().len(), 1);
    core.delete_document(docs[0].id).unwrap();
    assert!(core.search_knowledge(&ws, "peppers", 5).unwrap().is_empty());
    assert!(core.documents(&ws).unwrap().is_empty());
}

#[test]
fn a_job_left_running_by_a_dead_process_is_queued_again_and_resumes_without_duplicates() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        std::fs::write(dir.path().join(format!("n{i}.md")), format!("# Note {i}\nNote number {i} mentions qwertyuiop.\n")).unwrap();
    }
    let job = core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap();
    // A process claims it, stores two files, then dies (its heartbeat goes stale).
    let claimed = core.store.write(|w| w.claim_job(&[JobKind::Ingest], None)).unwrap().unwrap();
    assert_eq!((claimed.id, claimed.attempts), (job.id, 1));
    for i in 0..2 {
        core.ingest_file(core.workspace(&ws).unwrap().id, &dir.path().join(format!("n{i}.md")), None).ok().unwrap();
    }
    assert_eq!(core.store.write(|w| w.requeue_stale_jobs(JOB_STALE.as_millis() as i64, &[])).unwrap(), 0, "a fresh heartbeat is alive");
    assert_eq!(core.store.write(|w| w.requeue_stale_jobs(-1, &[])).unwrap(), 1);
    assert_eq!(core.job(job.id).unwrap().status, JobStatus::Queued);
    let done = run(&core, &job);
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.attempts, 2);
    assert_eq!((done.output["added"].as_u64(), done.output["unchanged"].as_u64()), (Some(3), Some(2)));
    assert_eq!(core.search_knowledge(&ws, "qwertyuiop", 50).unwrap().len(), 5, "one chunk per note, none twice");
}

#[test]
fn a_queued_job_is_cancelled_at_once_and_a_finished_one_stays() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.md"), "# A\ntext").unwrap();
    let job = core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap();
    assert_eq!(core.cancel_job(job.id).unwrap().status, JobStatus::Cancelled);
    assert_eq!(run(&core, &job).status, JobStatus::Cancelled, "a cancelled job is not run");
    assert!(core.documents(&ws).unwrap().is_empty());
    let other = run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!(core.cancel_job(other.id).unwrap().status, JobStatus::Succeeded);
}

#[test]
fn bad_requests_are_refused_before_a_job_is_queued() {
    let (core, ws) = core_with_workspace();
    assert_eq!(core.add_knowledge(&ws, &[]).unwrap_err().code(), crate::ErrorCode::Invalid);
    assert_eq!(core.add_knowledge(&ws, &[PathBuf::from("relative.md")]).unwrap_err().code(), crate::ErrorCode::Invalid);
    let nowhere: WorkspaceRef = "nowhere".parse().unwrap();
    assert_eq!(core.add_knowledge(&nowhere, &[PathBuf::from("/a.md")]).unwrap_err().code(), crate::ErrorCode::NotFound);
    assert!(core.jobs(10).unwrap().is_empty());
}

/// Polls `probe` every 20 ms until `done` holds, for at most 10 s.
fn wait_for<T: std::fmt::Debug>(mut probe: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = probe();
        if done(&v) || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_runner_runs_queued_jobs_and_stopping_it_queues_the_running_one_again() {
    let (core, ws) = core_with_workspace();
    let core = Arc::new(core);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.md"), "# A\nalpha text").unwrap();
    let runner = JobRunner::start(core.clone());
    let job = core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap();
    runner.notify();
    let done = wait_for(|| core.job(job.id).unwrap(), |j| j.status.is_finished());
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");

    // Files that take seconds to index: stopping the runner after the first queues the job
    // again, to resume on the next start.
    let line = "Many words about gardens and soil and water, over and over again.\n";
    for i in 0..60 {
        std::fs::write(dir.path().join(format!("f{i:02}.txt")), line.repeat(8000)).unwrap();
    }
    let big = core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap();
    runner.notify();
    wait_for(|| core.job(big.id).unwrap(), |j| j.done > 1);
    runner.stop();
    let stopped = core.job(big.id).unwrap();
    assert_eq!(stopped.status, JobStatus::Queued, "{stopped:?}");
    assert!(stopped.done < 61, "it stopped before the end: {stopped:?}");
    assert_eq!(stopped.attempts, 1);
}

#[test]
fn a_cancel_asked_from_another_process_stops_the_running_job_at_its_next_report() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.md"), "# A\nalpha text").unwrap();
    let job = core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap();
    // This process claims it; another asks to cancel it (a flag in the row).
    let claimed = core.store.write(|w| w.claim_job(&[JobKind::Ingest], None)).unwrap().unwrap();
    let flagged = core.store.write(|w| w.request_job_cancel(job.id)).unwrap();
    assert_eq!((flagged.status, flagged.cancel_requested), (JobStatus::Running, true));
    let ended = core.run_claimed(claimed, None).unwrap();
    assert_eq!(ended.status, JobStatus::Cancelled, "{ended:?}");
    assert!(core.documents(&ws).unwrap().is_empty(), "it stopped before the first file");
}

/// A fake for these unit tests only: each text becomes a normalized bag of its words, with
/// a few words standing for the same concept, so "meaning" is checkable without a model.
/// The real model's ranking is tested end to end (`tests/e2e/embedder.rs`).
struct Concepts;

impl Concepts {
    fn vector(text: &str) -> Vec<f32> {
        let mut v = [0f32; 16];
        for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            let concept = match word {
                "berries" | "blueberries" | "fruit" => 0,
                "acidic" | "sour" | "ph" => 1,
                "soil" | "ground" | "earth" => 2,
                "train" | "rail" => 3,
                _ => 4 + word.bytes().map(usize::from).sum::<usize>() % 12,
            };
            v[concept] += 1.0;
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        v.iter().map(|x| x / n).collect()
    }
}

impl hearth_llm::ChatModel for Concepts {
    fn chat(
        &self,
        _: hearth_llm::ChatRequest,
        _: hearth_llm::CancellationToken,
    ) -> std::result::Result<hearth_llm::ChatStream, hearth_llm::LlmError> {
        Err(hearth_llm::LlmError::Unsupported("embeddings only".into()))
    }
    fn embed(&self, _: &str, inputs: &[EmbedInput]) -> std::result::Result<hearth_llm::Embeddings, hearth_llm::LlmError> {
        let vectors = inputs
            .iter()
            .map(|i| match i {
                EmbedInput::Text(t) => Concepts::vector(t),
                EmbedInput::Tokens(_) => vec![0.0; 16],
            })
            .collect();
        Ok(hearth_llm::Embeddings { vectors, prompt_tokens: 0 })
    }
}

#[test]
fn with_an_embedder_search_is_hybrid_and_each_side_finds_what_the_other_misses() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("berries.md"), "# Berries\nBlueberries like acidic soil.\n").unwrap();
    std::fs::write(dir.path().join("trains.md"), "# Trains\nThe rail timetable changes in May. Part ZX81Q is the coupler.\n").unwrap();
    // Stored before an embedder was there: words only.
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!(core.retrieve(&ws, "fruit", 5, Retrieval::Vector).unwrap_err().code(), crate::ErrorCode::Invalid);

    core.use_embedder(Embedder { model: Arc::new(Concepts), name: "concepts".into() });
    // Adding again embeds what was stored without vectors; nothing else changes.
    let again = run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!((again.output["updated"].as_u64(), again.output["unchanged"].as_u64()), (Some(2), Some(0)), "{:?}", again.output);
    let third = run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!(third.output["unchanged"].as_u64(), Some(2));

    // A paraphrase shares no word with the passage: only the vector side finds it.
    let paraphrase = "sour ground for fruit";
    assert!(core.retrieve(&ws, paraphrase, 5, Retrieval::Words).unwrap().is_empty());
    assert_eq!(core.retrieve(&ws, paraphrase, 5, Retrieval::Vector).unwrap()[0].title, "Berries");
    assert_eq!(core.retrieve(&ws, paraphrase, 5, Retrieval::Hybrid).unwrap()[0].title, "Berries");
    // A rare exact term: the word side finds it, and the fusion keeps it first.
    assert_eq!(core.retrieve(&ws, "ZX81Q", 5, Retrieval::Words).unwrap()[0].title, "Trains");
    let hybrid = core.search_knowledge(&ws, "ZX81Q", 5).unwrap();
    assert_eq!(hybrid[0].title, "Trains");
    assert!(hybrid[0].score > 0.0 && hybrid[0].score <= 2.0 / 61.0, "an RRF score: {}", hybrid[0].score);
}

#[test]
fn rankings_fuse_by_reciprocal_rank_and_the_nearest_vectors_come_first() {
    // In both lists beats first in one; equal scores (2 and 4, each second once) keep row order.
    let fused = super::fuse(&[vec![(1, 1.0), (2, 1.0), (3, 1.0)], vec![(3, 1.0), (4, 1.0)]]);
    assert_eq!(fused.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [3, 1, 2, 4]);
    assert!((fused[0].1 - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-12);
    // A half-weight first place loses to a full-weight first place.
    let weighted = super::fuse(&[vec![(7, 0.5)], vec![(8, 1.0)]]);
    assert_eq!(weighted.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [8, 7]);
    let all = vec![(10, vec![1.0, 0.0]), (11, vec![0.0, 1.0]), (12, vec![0.6, 0.8]), (13, vec![1.0, 0.0, 0.0])];
    let stamp = hearth_store::KnowledgeStamp::default();
    let near = super::vectors::Block::new(stamp, all).nearest(&[0.0, 1.0], 2);
    assert_eq!(near.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [11, 12], "best first; a vector of another size is left out");
    assert!((near[1].1 - 0.8).abs() < 1e-6);
    assert!(super::vectors::Block::new(stamp, Vec::new()).nearest(&[1.0, 0.0], 5).is_empty());
    // Long vectors: the eight-lane product equals the plain one.
    let long: Vec<f32> = (0..389).map(|i| ((i * 37) % 101) as f32 / 101.0).collect();
    let plain: f32 = long.iter().map(|x| x * x).sum();
    let fast = super::vectors::Block::new(stamp, vec![(1, long.clone())]).nearest(&long, 1)[0].1;
    assert!((fast - f64::from(plain)).abs() < 1e-3, "{fast} vs {plain}");
}

// ------------------------------------------------------------------ knowledge in replies

/// A workspace with a system prompt and two documents, and a chat in it.
fn cited_setup(dir: &Path) -> (Core, WorkspaceRef, hearth_types::ChatId) {
    let (core, ws) = core_with_workspace();
    core.update_workspace(&ws, &hearth_types::WorkspacePatch { system_prompt: Some("Be brief.".into()), ..Default::default() }).unwrap();
    std::fs::write(dir.join("berries.md"), "# Berries\nBlueberries like acidic soil.\n").unwrap();
    std::fs::write(dir.join("trains.md"), "# Trains\nThe rail timetable changes in May. Part ZX81Q is the coupler.\n").unwrap();
    let chat = core.create_chat(&ws, "t", None).unwrap().id;
    (core, ws, chat)
}

fn ask(core: &Core, chat: hearth_types::ChatId, question: &str, answer: &str) -> (crate::Reply, hearth_llm::testing::ScriptedModel) {
    let model = hearth_llm::testing::ScriptedModel::new([answer]);
    let request = crate::ReplyRequest::new(chat, question, "m", hearth_llm::SamplingParams::greedy(8));
    let reply = core.reply(&request, &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap();
    (reply, model)
}

#[test]
fn a_reply_is_given_the_matching_passages_and_keeps_the_ones_it_cites() {
    let dir = tempfile::tempdir().unwrap();
    let (core, ws, chat) = cited_setup(dir.path());
    core.use_embedder(Embedder { model: Arc::new(Concepts), name: "concepts".into() });
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());

    // A paraphrase of the trains passage ("train" and "rail" are one concept to the fake).
    let (reply, model) = ask(&core, chat, "when does the train schedule change", "In May [1].");
    let system = &model.seen()[0].messages[0];
    assert_eq!(system.role, hearth_types::Role::System);
    assert!(system.content.starts_with("Be brief.\n\n"), "the workspace's prompt comes first: {}", system.content);
    assert!(system.content.contains("[1] Trains (\"Trains\")\n"), "{}", system.content);
    assert!(system.content.contains("The rail timetable changes in May."), "{}", system.content);

    let citations = &reply.answer.citations;
    assert_eq!(citations[0].n, 1);
    assert_eq!(citations[0].title, "Trains");
    assert!(citations[0].snippet.contains("ZX81Q"), "{:?}", citations[0]);
    assert!(citations[0].cited);
    assert!(citations[1..].iter().all(|c| !c.cited), "only [1] is cited: {citations:?}");
    assert!(citations.iter().enumerate().all(|(i, c)| c.n == i as u32 + 1));
    // Stored with the message: a reload shows the same sources.
    let stored = core.thread(chat).unwrap().messages.pop().unwrap().message;
    assert_eq!(&stored.citations, citations);
}

#[test]
fn without_an_embedder_passages_are_found_by_their_words() {
    let dir = tempfile::tempdir().unwrap();
    let (core, ws, chat) = cited_setup(dir.path());
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    let (reply, _) = ask(&core, chat, "What is part ZX81Q?", "The coupler.");
    assert_eq!(reply.answer.citations[0].title, "Trains");
    assert!(!reply.answer.citations[0].cited, "the answer cites nothing");
}

#[test]
fn knowledge_turned_off_or_absent_leaves_the_prompt_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (core, ws, chat) = cited_setup(dir.path());
    // No documents yet: nothing is searched.
    let (reply, model) = ask(&core, chat, "What is part ZX81Q?", "?");
    assert!(reply.answer.citations.is_empty());
    assert_eq!(model.seen()[0].messages[0].content, "Be brief.");

    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    let settings = serde_json::json!({ "knowledge": false }).as_object().unwrap().clone();
    core.update_workspace(&ws, &hearth_types::WorkspacePatch { settings: Some(settings), ..Default::default() }).unwrap();
    let (reply, model) = ask(&core, chat, "What is part ZX81Q?", "?");
    assert!(reply.answer.citations.is_empty());
    assert_eq!(model.seen()[0].messages[0].content, "Be brief.");

    let bad = serde_json::json!({ "knowledge": "yes" }).as_object().unwrap().clone();
    let err = core.update_workspace(&ws, &hearth_types::WorkspacePatch { settings: Some(bad), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("knowledge must be true or false"), "{err}");
}

/// An embedding model that always fails.
struct Broken;

impl hearth_llm::ChatModel for Broken {
    fn chat(
        &self,
        _: hearth_llm::ChatRequest,
        _: hearth_llm::CancellationToken,
    ) -> std::result::Result<hearth_llm::ChatStream, hearth_llm::LlmError> {
        Err(hearth_llm::LlmError::Unsupported("embeddings only".into()))
    }
    fn embed(&self, _: &str, _: &[EmbedInput]) -> std::result::Result<hearth_llm::Embeddings, hearth_llm::LlmError> {
        Err(hearth_llm::LlmError::Engine("the embedder crashed".into()))
    }
}

impl hearth_llm::ModelHost for Broken {
    fn load(&self, _: &str) -> std::result::Result<(), hearth_llm::LlmError> {
        Ok(())
    }
    fn unload(&self) {}
    fn loaded(&self) -> Option<String> {
        None
    }
}

#[test]
fn a_failed_knowledge_search_costs_the_reply_its_sources_not_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let (core, ws, chat) = cited_setup(dir.path());
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    core.use_embedder(Embedder { model: Arc::new(Broken), name: "broken".into() });
    let (reply, model) = ask(&core, chat, "What is part ZX81Q?", "No idea.");
    assert_eq!(reply.answer.status, hearth_types::MessageStatus::Complete);
    assert_eq!(reply.answer.content, "No idea.");
    assert!(reply.answer.citations.is_empty());
    let notice = reply.answer.notice.unwrap_or_default();
    assert!(notice.contains("knowledge could not be searched") && notice.contains("the embedder crashed"), "{notice}");
    assert_eq!(model.seen()[0].messages[0].content, "Be brief.");
}

#[test]
fn the_embedding_models_name_reaches_the_embedding_model_through_the_router() {
    use hearth_llm::ChatModel as _;
    let core = Arc::new(Core::in_memory().unwrap());
    core.use_embedder(Embedder { model: Arc::new(Concepts), name: "concepts".into() });
    let router = crate::ModelRouter::new(core.clone(), Arc::new(Broken));
    let got = router.embed("concepts", &[EmbedInput::Text("rail".into())]).unwrap();
    assert_eq!(got.vectors, vec![Concepts::vector("rail")]);
    // Any other name is the chat engine's (here one that fails).
    let other = router.embed("m", &[EmbedInput::Text("rail".into())]).unwrap_err();
    assert!(other.to_string().contains("the embedder crashed"), "{other}");
}

#[test]
fn the_vectors_kept_in_memory_follow_every_added_replaced_and_removed_document() {
    let (core, ws) = core_with_workspace();
    core.use_embedder(Embedder { model: Arc::new(Concepts), name: "concepts".into() });
    let dir = tempfile::tempdir().unwrap();
    let titles = |q: &str| -> Vec<String> { core.retrieve(&ws, q, 5, Retrieval::Vector).unwrap().into_iter().map(|h| h.title).collect() };
    std::fs::write(dir.path().join("berries.md"), "# Berries\nBlueberries like acidic soil.\n").unwrap();
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!(titles("fruit"), ["Berries"]);
    assert!(titles("rail").is_empty());

    std::fs::write(dir.path().join("trains.md"), "# Trains\nThe rail timetable changes in May.\n").unwrap();
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!(titles("rail"), ["Trains"], "an added document is searched at once");

    std::fs::write(dir.path().join("berries.md"), "# Trains too\nA train a day.\n").unwrap();
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert!(titles("fruit").is_empty(), "a replaced document's old vectors are gone");

    let doc = core.documents(&ws).unwrap().into_iter().find(|d| d.title == "Trains").unwrap();
    core.delete_document(doc.id).unwrap();
    assert_eq!(titles("rail"), ["Trains too"], "a removed document is no longer found");
}

/// Documents stored without vectors (as a pull brings them, or before an embedding model was
/// set up) get theirs from an `embed` job: without a model it says so and fails nothing;
/// with one it embeds each document once, and a second job finds nothing left to do.
#[test]
fn an_embed_job_gives_vectors_to_the_documents_that_have_none() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("berries.md"), "# Berries\nBlueberries like acidic soil.\n").unwrap();
    std::fs::write(dir.path().join("trains.md"), "# Trains\nThe rail timetable changes in May.\n").unwrap();
    run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!(core.queue_missing_embeddings().unwrap(), 0, "no model, nothing to queue");

    let workspace = core.workspace(&ws).unwrap().id;
    let job = core.queue_job(JobKind::Embed, Some(workspace), Map::new()).unwrap();
    let idle = run(&core, &job);
    assert_eq!((idle.status, idle.output["embedded"].as_u64()), (JobStatus::Succeeded, Some(0)));
    assert!(idle.message.contains("no embedding model"), "{}", idle.message);

    core.use_embedder(Embedder { model: Arc::new(Concepts), name: "concepts".into() });
    assert_eq!(core.queue_missing_embeddings().unwrap(), 1, "one workspace has documents without vectors");
    assert_eq!(core.queue_missing_embeddings().unwrap(), 1, "still one: the queued job is not queued twice");
    let queued: Vec<Job> = core.jobs(20).unwrap().into_iter().filter(|j| j.status == JobStatus::Queued).collect();
    assert_eq!(queued.len(), 1);
    let done = run(&core, &queued[0]);
    assert_eq!((done.status, done.output["embedded"].as_u64(), done.total), (JobStatus::Succeeded, Some(2), Some(2)), "{done:?}");
    assert_eq!(core.retrieve(&ws, "sour ground for fruit", 5, Retrieval::Vector).unwrap()[0].title, "Berries");
    assert_eq!(core.queue_missing_embeddings().unwrap(), 0, "every chunk has its vector");
    let again = run(&core, &core.queue_job(JobKind::Embed, Some(workspace), Map::new()).unwrap());
    assert_eq!(again.output["embedded"].as_u64(), Some(0));
}

/// A workspace's embedding model names a provider this device does not have (settings sync,
/// providers do not): its knowledge is added and found by its words, and nothing fails.
#[test]
fn an_embedding_provider_missing_here_leaves_search_by_words() {
    let core = Core::in_memory().unwrap();
    let mut new = NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap();
    new.settings.insert(EMBEDDING_SETTING.into(), json!("elsewhere/embed-1"));
    let ws = core.create_workspace(&new).unwrap();
    assert!(core.embedder_for(&ws).unwrap().is_none());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trains.md"), "# Trains\nThe rail timetable changes in May.\n").unwrap();
    let here = WorkspaceRef::Id(ws.id);
    let job = run(&core, &core.add_knowledge(&here, &[dir.path().to_owned()]).unwrap());
    assert_eq!((job.status, job.output["added"].as_u64()), (JobStatus::Succeeded, Some(1)), "{job:?}");
    assert_eq!(core.search_knowledge(&here, "timetable", 5).unwrap()[0].title, "Trains");
    assert_eq!(core.queue_missing_embeddings().unwrap(), 0);
}

/// A file whose text passes what one document may hold is that file's error.
#[test]
fn a_document_with_too_much_text_is_refused_by_name() {
    let (core, ws) = core_with_workspace();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("huge.txt"), "word ".repeat((MAX_TEXT_BYTES / 5 + 1) as usize)).unwrap();
    std::fs::write(dir.path().join("small.txt"), "A small note.\n").unwrap();
    let job = run(&core, &core.add_knowledge(&ws, &[dir.path().to_owned()]).unwrap());
    assert_eq!(job.output["added"].as_u64(), Some(1), "{job:?}");
    let failed = failed_paths(&job);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].0.ends_with("huge.txt") && failed[0].1.contains("MB of text"), "{failed:?}");
}
