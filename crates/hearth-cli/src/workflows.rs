//! `hearth workflow`: list, import, export, validate and run workflows.
//!
//! `run` takes a stored workflow (by id or by its unique name) or a definition file, which
//! runs without being stored. It runs in this process on the local engine and the
//! configured providers, prints a line per node as it finishes (on stderr) and the outputs
//! at the end (on stdout; `--json`: the run record). Ctrl-C cancels the run, which ends
//! recorded as `cancelled`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use futures_util::StreamExt as _;
use hearth_core::Core;
use hearth_core::workflow::RunSource;
use hearth_types::{NodeStatus, RunEventKind, RunStatus, Workflow, WorkflowId};
use serde_json::{Map, Value};

use crate::failure::{CmdResult, Failure};
use crate::output::{Output, table};

#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowCommand {
    /// List the stored workflows
    List,
    /// Store a workflow from a JSON file (the canonical, React Flow or simple format)
    Import {
        file: PathBuf,
        /// A name instead of the file's own
        #[arg(long)]
        name: Option<String>,
    },
    /// Write a stored workflow's definition (canonical format) to stdout or a file
    Export {
        /// The workflow's id or name
        workflow: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check a workflow (a file, or a stored workflow's id or name) and list every problem
    Validate { workflow: String },
    /// Run a workflow (a file, or a stored workflow's id or name), showing each node's progress
    Run(RunArgs),
    /// The runs of a stored workflow, newest first
    Runs {
        workflow: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Secrets an http node's headers name as {{secret:NAME}}, kept in the OS keychain
    #[command(subcommand)]
    Secret(SecretCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Set a secret for one origin (its value read from a prompt, or stdin when it is not a
    /// terminal); it is sent only in requests to that origin
    Set {
        name: String,
        /// Where the secret may be sent: a URL whose scheme, host and port are kept
        /// (https://api.github.com)
        #[arg(long)]
        origin: String,
    },
    /// The names of the secrets set (never their values)
    List,
    /// Remove a secret
    Remove { name: String },
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// A definition file, or a stored workflow's id or name
    workflow: String,
    /// An input of the start node (repeat for more)
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    inputs: Vec<String>,
}

/// What `FILE_OR_ID` named.
enum Target {
    File { name: String, graph: hearth_types::Graph },
    Stored(Workflow),
}

fn resolve(core: &Core, what: &str) -> Result<Target, Failure> {
    let path = Path::new(what);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| Failure::Other(anyhow::anyhow!("could not read {what}: {e}")))?;
        let imported = hearth_core::workflow::parse_definition(&text).map_err(|p| Failure::Core(hearth_core::Error::Workflow(p)))?;
        let name = imported.name.unwrap_or_else(|| path.file_stem().map_or_else(|| what.to_owned(), |s| s.to_string_lossy().into_owned()));
        return Ok(Target::File { name, graph: imported.graph });
    }
    stored(core, what).map(Target::Stored)
}

/// A stored workflow by id, or by a name only one workflow has.
fn stored(core: &Core, what: &str) -> Result<Workflow, Failure> {
    if let Ok(id) = what.parse::<WorkflowId>() {
        return Ok(core.workflow(id)?);
    }
    let mut named: Vec<Workflow> = core.workflows()?.into_iter().filter(|w| w.name == what).collect();
    match named.len() {
        1 => Ok(named.remove(0)),
        0 => Err(hearth_types::ValidationError::new("workflow", format!("no file, workflow id or workflow named {what:?}")).into()),
        n => Err(hearth_types::ValidationError::new(
            "workflow",
            format!("{n} workflows are named {what:?}: use an id (hearth workflow list)"),
        )
        .into()),
    }
}

fn parse_inputs(pairs: &[String]) -> Result<Map<String, Value>, Failure> {
    let mut inputs = Map::new();
    for pair in pairs {
        let (k, v) =
            pair.split_once('=').ok_or_else(|| hearth_types::ValidationError::new("input", format!("{pair:?} is not NAME=VALUE")))?;
        inputs.insert(k.trim().to_owned(), Value::String(v.to_owned()));
    }
    Ok(inputs)
}

pub(crate) fn run(cmd: WorkflowCommand, core: Arc<Core>, default_model: &Path, out: &Output) -> CmdResult {
    match cmd {
        WorkflowCommand::List => {
            let all = core.workflows()?;
            out.show(&all, || {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|w| vec![w.id.to_string(), w.name.clone(), w.graph.nodes.len().to_string(), w.updated_at.to_string()])
                    .collect();
                table(&["ID", "NAME", "NODES", "UPDATED"], &rows)
            });
        }
        WorkflowCommand::Import { file, name } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| Failure::Other(anyhow::anyhow!("could not read {}: {e}", file.display())))?;
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                Failure::Core(hearth_core::Error::Workflow(vec![hearth_core::workflow::Problem {
                    node_id: None,
                    edge_id: None,
                    message: format!("not valid JSON: {e}"),
                }]))
            })?;
            let w = core.import_workflow(&value, name.as_deref())?;
            out.show(&w, || format!("imported {} ({} nodes) as {}", w.name, w.graph.nodes.len(), w.id));
        }
        WorkflowCommand::Export { workflow, output } => {
            let w = stored(&core, &workflow)?;
            let text = serde_json::to_string_pretty(&hearth_core::workflow::export(&w)).expect("a definition is plain JSON");
            match output {
                Some(path) => {
                    std::fs::write(&path, format!("{text}\n"))
                        .map_err(|e| Failure::Other(anyhow::anyhow!("could not write {}: {e}", path.display())))?;
                    eprintln!("wrote {}", path.display());
                }
                None => println!("{text}"),
            }
        }
        WorkflowCommand::Validate { workflow } => {
            let graph = match resolve(&core, &workflow)? {
                Target::File { graph, .. } => graph,
                Target::Stored(w) => w.graph,
            };
            let problems = core.validate_workflow(&graph);
            if !problems.is_empty() {
                return Err(Failure::Core(hearth_core::Error::Workflow(problems)));
            }
            out.show(&serde_json::json!({"valid": true, "problems": []}), || {
                format!("{workflow}: no problems ({} nodes)", graph.nodes.len())
            });
        }
        WorkflowCommand::Runs { workflow, limit } => {
            let w = stored(&core, &workflow)?;
            let runs = core.runs(Some(w.id), limit)?;
            out.show(&runs, || {
                let rows: Vec<Vec<String>> = runs
                    .iter()
                    .map(|r| {
                        let ms = r.duration_ms.map_or("-".to_owned(), |d| format!("{d} ms"));
                        vec![
                            r.id.to_string(),
                            r.status.as_str().to_owned(),
                            r.started_at.to_string(),
                            ms,
                            r.error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(&["RUN", "STATUS", "STARTED", "TOOK", "ERROR"], &rows)
            });
        }
        WorkflowCommand::Run(args) => run_one(args, core, default_model, out)?,
        WorkflowCommand::Secret(SecretCommand::Set { name, origin }) => {
            hearth_core::workflow::check_secret_name(&name)?;
            let value = crate::prompt::read_hidden(&format!("Value of {name}: "))?;
            let set = core.set_workflow_secret(&name, &origin, &hearth_core::Secret::new(value))?;
            out.show(&set, || format!("set {name} for {}: headers of requests there use it as {{{{secret:{name}}}}}", set.origin));
        }
        WorkflowCommand::Secret(SecretCommand::List) => {
            let all = core.workflow_secrets()?;
            out.show(&all, || {
                if all.is_empty() {
                    "no secrets".to_owned()
                } else {
                    table(&["NAME", "ORIGIN"], &all.iter().map(|s| vec![s.name.clone(), s.origin.clone()]).collect::<Vec<_>>())
                }
            });
        }
        WorkflowCommand::Secret(SecretCommand::Remove { name }) => {
            core.delete_workflow_secret(&name)?;
            out.show(&serde_json::json!({ "removed": name }), || format!("removed {name}"));
        }
    }
    Ok(())
}

fn run_one(args: RunArgs, core: Arc<Core>, default_model: &Path, out: &Output) -> CmdResult {
    crate::models::ensure_default_model(&core, default_model)?;
    let source = match resolve(&core, &args.workflow)? {
        Target::File { name, graph } => RunSource::Definition { name, graph },
        Target::Stored(w) => RunSource::Stored(w.id),
    };
    let inputs = parse_inputs(&args.inputs)?;
    let models = crate::models::one_request_models(&core);
    let runtime = crate::models::runs_runtime()?;
    let detail = runtime.block_on(async {
        let workflows = hearth_host::workflow_runs(core.clone(), models);
        // The handler goes in before the run starts, so a Ctrl-C at any moment is heard: it
        // cancels the run once there is one (the run records its end, the command reports it).
        let current: Arc<std::sync::Mutex<Option<hearth_types::RunId>>> = Arc::default();
        let (runs, target, handle) = (workflows.clone(), current.clone(), tokio::runtime::Handle::current());
        ctrlc::set_handler(move || {
            let _guard = handle.enter();
            if let Some(id) = *target.lock().expect("the run id lock is never poisoned") {
                let _ = runs.cancel(id);
            }
        })
        .map_err(|e| Failure::Other(e.into()))?;
        let run = workflows.start(source, &inputs)?;
        *current.lock().expect("the run id lock is never poisoned") = Some(run.id);
        eprintln!("run {} of {}", run.id, run.workflow_name);
        let mut events = workflows.events(run.id, 0)?;
        while let Some(event) = events.next().await {
            if let RunEventKind::NodeFinished { node_id, node_type, status, error, duration_ms, .. } = event.kind {
                let mark = match status {
                    NodeStatus::Succeeded => "✓",
                    NodeStatus::Failed => "✗",
                    NodeStatus::Skipped => "–",
                    NodeStatus::Cancelled | NodeStatus::Running => "■",
                };
                let detail = error.map(|e| format!(": {e}")).unwrap_or_default();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{mark} {node_id} ({node_type}) {} {duration_ms} ms{detail}", status.as_str());
            }
        }
        Ok::<_, Failure>(workflows.wait(run.id).await?)
    })?;
    let run = &detail.run;
    out.show(&detail, || {
        let mut text = String::new();
        for (name, value) in &run.outputs {
            let shown = match value {
                Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).expect("outputs are plain JSON"),
            };
            text.push_str(&format!("{name}: {shown}\n"));
        }
        text.trim_end().to_owned()
    });
    eprintln!("[run {} · {} · {} steps · {} ms]", run.id, run.status.as_str(), run.steps, run.duration_ms.unwrap_or(0));
    match run.status {
        RunStatus::Succeeded => Ok(()),
        RunStatus::Cancelled => Err(Failure::Interrupted),
        _ => Err(Failure::Failed(format!("the run failed: {}", run.error.as_deref().unwrap_or("unknown error")))),
    }
}
