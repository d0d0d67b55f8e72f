//! Knowledge across devices and providers, for real.
//!
//! Two Cores on real SQLite files, each with the real embedding model, sync through the test
//! bed (PostgreSQL 15 with Hearth's server schema behind postrust): a document added on one
//! device arrives on the other with its text and chunks (searchable by its words at once),
//! the `embed` job queued by the pull gives it vectors there (so a paraphrase finds it), and a
//! removal travels as a tombstone.
//!
//! A workspace that names a remote provider's embedding model embeds with it: the provider is
//! another Hearth (`hearth serve`, the real binary, with the embedding model set up) reached
//! over HTTP as an OpenAI-compatible server.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use hearth_core::{Core, CoreConfig, CoreServices, Embedder, Retrieval, SyncEndpoints, WorkspaceRef};
use hearth_e2e::testbed::{TestBed, psql};
use hearth_e2e::{Hearth, embedder_dir, embedder_engine, serve};
use hearth_types::{JobKind, JobStatus};

const EMBEDDER: &str = "all-minilm-l6-v2";

fn device(rt: &tokio::runtime::Runtime, bed: &TestBed, token: &str, dir: &Path) -> Arc<Core> {
    let core = Arc::new(Core::open(&CoreConfig::new(dir), CoreServices::in_memory()).unwrap());
    let (engine, _) = embedder_engine(dir);
    core.use_embedder(Embedder { model: Arc::new(engine), name: EMBEDDER.into() });
    let sync = core.sync().unwrap();
    rt.block_on(sync.connect(&SyncEndpoints::explicit(&bed.rest_url, None, None).unwrap())).unwrap();
    rt.block_on(sync.use_tokens(token, None, None)).unwrap();
    core
}

fn sync(rt: &tokio::runtime::Runtime, core: &Core) {
    rt.block_on(core.sync().unwrap().sync_now(&mut |_| {})).unwrap();
}

fn run_queued_jobs(core: &Core) -> Vec<hearth_types::Job> {
    let queued: Vec<_> = core.jobs(50).unwrap().into_iter().filter(|j| j.status == JobStatus::Queued).collect();
    queued.iter().map(|j| core.run_job(j.id, &AtomicBool::new(false), &mut |_| {}).unwrap()).collect()
}

#[test]
fn a_document_added_on_one_device_is_found_on_the_other_by_its_words_and_by_its_meaning() {
    let bed = TestBed::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (user, token) = bed.user();
    let (laptop_dir, desktop_dir, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let laptop = device(&rt, &bed, &token, laptop_dir.path());
    let desktop = device(&rt, &bed, &token, desktop_dir.path());

    let ws = laptop
        .create_workspace(&hearth_types::NewWorkspace::new("Garden", hearth_types::Handle::parse("garden").unwrap()).unwrap())
        .unwrap();
    let file = files.path().join("berries.md");
    std::fs::write(
        &file,
        "# Blueberries\n\nBlueberries grow best in acidic soil with a pH between 4.5 and 5.5.\n\n\
         # Watering\n\nGive the bushes an inch of water every week through the summer; the zorblax gauge tells when.\n",
    )
    .unwrap();
    let job = laptop.add_knowledge(&WorkspaceRef::Id(ws.id), std::slice::from_ref(&file)).unwrap();
    let job = laptop.run_job(job.id, &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    let doc = laptop.documents(&WorkspaceRef::Id(ws.id)).unwrap().remove(0);
    // Changed after its document was added, the workspace comes after the document in the
    // pull: the document waits for it and still arrives in the same round.
    laptop.rename_workspace(&WorkspaceRef::Id(ws.id), "Garden notes").unwrap();
    sync(&rt, &laptop);

    // The server holds the document's text and outline; no vectors ever go there.
    let row = psql(&bed.database, &["-c", &format!("select to_jsonb(d) from public.documents d where user_id = '{user}'")]);
    let row: serde_json::Value = serde_json::from_str(row.trim()).unwrap();
    assert_eq!(row["id"], doc.id.to_string());
    assert!(row["text"].as_str().unwrap().contains("zorblax gauge"));
    assert_eq!(row["outline"].as_array().unwrap().len(), doc.chunks as usize);
    assert!(row.get("vector").is_none() && row.get("vectors").is_none());

    // The desktop pulls it: its words find it at once; its meaning once the job ran.
    sync(&rt, &desktop);
    assert!(rt.block_on(desktop.sync().unwrap().status()).unwrap().quarantined.is_empty(), "nothing left aside");
    let there = desktop.documents(&WorkspaceRef::Id(ws.id)).unwrap();
    assert_eq!((there.len(), there[0].id, there[0].chunks, there[0].sha256.as_str()), (1, doc.id, doc.chunks, doc.sha256.as_str()));
    let words = desktop.retrieve(&WorkspaceRef::Id(ws.id), "zorblax", 5, Retrieval::Words).unwrap();
    assert_eq!(words[0].heading, "Watering");
    let paraphrase = "what kind of earth do these plants like";
    assert!(desktop.retrieve(&WorkspaceRef::Id(ws.id), paraphrase, 5, Retrieval::Vector).unwrap().is_empty(), "no vectors before the job");
    let jobs = desktop.jobs(10).unwrap();
    let embed = jobs.iter().find(|j| j.kind == JobKind::Embed).expect("the pull queued an embed job");
    assert_eq!((embed.status, embed.workspace_id), (JobStatus::Queued, Some(ws.id)));
    let done = run_queued_jobs(&desktop);
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].status, done[0].output["embedded"].as_u64()), (JobStatus::Succeeded, Some(1)), "{:?}", done[0]);
    let by_meaning = desktop.retrieve(&WorkspaceRef::Id(ws.id), paraphrase, 5, Retrieval::Vector).unwrap();
    assert_eq!(by_meaning[0].heading, "Blueberries", "{by_meaning:?}");
    let hybrid = desktop.search_knowledge(&WorkspaceRef::Id(ws.id), paraphrase, 5).unwrap();
    assert_eq!(hybrid[0].document_id, doc.id);
    // Both devices embedded the same chunks with the same model: the same ranking.
    assert_eq!(laptop.retrieve(&WorkspaceRef::Id(ws.id), paraphrase, 5, Retrieval::Vector).unwrap()[0].heading, "Blueberries");

    // Removed on the desktop: gone on the laptop after both sync, and on the server a
    // tombstone without the text.
    desktop.delete_document(doc.id).unwrap();
    sync(&rt, &desktop);
    sync(&rt, &laptop);
    assert!(laptop.documents(&WorkspaceRef::Id(ws.id)).unwrap().is_empty());
    assert!(laptop.retrieve(&WorkspaceRef::Id(ws.id), "zorblax", 5, Retrieval::Words).unwrap().is_empty());
    let tomb =
        psql(&bed.database, &["-c", &format!("select deleted_at is not null, length(text) from public.documents where id = '{}'", doc.id)]);
    assert_eq!(tomb.trim(), "t|0");
}

#[test]
fn a_workspace_can_embed_its_knowledge_with_a_remote_providers_model() {
    // The provider: a Hearth serving the embedding model on its OpenAI-compatible /v1.
    let peer = Hearth::new();
    let installed = peer.run(&["knowledge", "embedder", embedder_dir().to_str().unwrap()]);
    assert!(installed.status.success(), "{}", String::from_utf8_lossy(&installed.stderr));
    let token = "peer-embeddings-token-0123456789abcdef";
    let served = serve(&peer, token);

    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(&CoreConfig::new(dir.path()), CoreServices::in_memory()).unwrap();
    assert!(core.embedder().is_none(), "no local embedding model on this device");
    let mut provider = hearth_types::NewProvider::new("peer", "openai-compatible");
    provider.base_url = Some(format!("{}/v1", served.url));
    core.add_provider(&provider).unwrap();
    core.set_provider_key("peer", &hearth_core::Secret::new(token.to_owned())).unwrap();

    let mut new = hearth_types::NewWorkspace::new("Garden", hearth_types::Handle::parse("garden").unwrap()).unwrap();
    new.settings.insert(hearth_core::EMBEDDING_SETTING.into(), serde_json::json!("local-ish"));
    let refused = core.create_workspace(&new).unwrap_err();
    assert_eq!(refused.code(), hearth_core::ErrorCode::Invalid, "{refused}");
    new.settings.insert(hearth_core::EMBEDDING_SETTING.into(), serde_json::json!("peer/all-minilm-l6-v2"));
    let ws = core.create_workspace(&new).unwrap();
    let here = WorkspaceRef::Id(ws.id);

    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("berries.md");
    std::fs::write(&file, "# Blueberries\n\nBlueberries grow best in acidic soil with a pH between 4.5 and 5.5.\n\n# Trains\n\nThe rail timetable changes in May.\n").unwrap();
    let job =
        core.run_job(core.add_knowledge(&here, std::slice::from_ref(&file)).unwrap().id, &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(core.documents(&here).unwrap().len(), 1);
    // Only the provider's vectors can answer this: no word of it is in the passage.
    let by_meaning = core.retrieve(&here, "what kind of earth do these plants like", 5, Retrieval::Vector).unwrap();
    assert_eq!(by_meaning[0].heading, "Blueberries", "{by_meaning:?}");

    // The provider gone: the search says why, and the words still find what they name.
    drop(served);
    let failed = core.retrieve(&here, "what kind of earth do these plants like", 5, Retrieval::Vector).unwrap_err();
    assert!(failed.to_string().contains("peer"), "{failed}");
    assert_eq!(core.retrieve(&here, "timetable", 5, Retrieval::Words).unwrap()[0].heading, "Trains");
}
