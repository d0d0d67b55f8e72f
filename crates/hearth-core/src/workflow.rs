//! Workflows: definitions stored with the other data, checked before they run, and run by
//! an engine that is a pure state machine (`machine.rs`) with an async driver (`driver.rs`).
//!
//! - `graph.rs` checks a definition into a [`Plan`], listing every problem.
//! - `template.rs` resolves `{{#node.path#}}` references.
//! - `request.rs` builds an http node's request so that values cannot change where it goes.
//! - `machine.rs` decides what runs, what is skipped and when the run ends.
//! - `driver.rs` performs model calls, code and HTTP with their time limits and cancellation.
//! - `record.rs` numbers events, publishes them live and writes runs in batches.
//! - `runs.rs` is [`WorkflowRuns`], the service that owns the runs going on in this process.
//! - `import.rs` reads the accepted formats and writes the canonical one.
//! - `secrets.rs` keeps the keychain secrets http headers name as `{{secret:NAME}}`.
//!
//! Core's own methods here are the plain use cases on stored definitions and records.

mod driver;
mod graph;
mod import;
mod machine;
mod record;
mod request;
mod runs;
mod secrets;
mod template;

use hearth_types::{Graph, NewWorkflow, Run, RunDetail, RunId, Workflow, WorkflowId, WorkflowPatch, non_blank};
use serde_json::Value;

pub use driver::Services;
pub use graph::{MAX_EDGES, MAX_NODES, NODE_TYPES, Plan, Problem, plan, validate};
pub use import::{Imported, export, normalize, parse_definition};
pub use machine::RunLimits;
pub use runs::{EventStream, RunSource, WorkflowRuns};
pub(crate) use secrets::NAMES_SETTING as SECRET_NAMES_SETTING;
pub use secrets::{WorkflowSecret, check_name as check_secret_name};

use crate::{Core, Error, Result};

/// The name an imported workflow gets when it has none.
const UNNAMED: &str = "Imported workflow";

impl Core {
    /// Stores a workflow. Drafts with problems may be stored (the editor saves as you go);
    /// validation judges them before a run.
    pub fn create_workflow(&self, new: &NewWorkflow) -> Result<Workflow> {
        let new = NewWorkflow { name: non_blank("name", &new.name)?, ..new.clone() };
        Ok(self.store.write(|w| w.create_workflow(&new))?)
    }

    pub fn update_workflow(&self, id: WorkflowId, patch: &WorkflowPatch) -> Result<Workflow> {
        let mut patch = patch.clone();
        patch.name = patch.name.map(|n| non_blank("name", &n)).transpose()?;
        Ok(self.store.write(|w| w.update_workflow(id, &patch))?)
    }

    pub fn delete_workflow(&self, id: WorkflowId) -> Result<()> {
        Ok(self.store.write(|w| w.delete_workflow(id))?)
    }

    pub fn workflow(&self, id: WorkflowId) -> Result<Workflow> {
        Ok(self.store.read(|r| r.workflow(id))?)
    }

    /// Every workflow, the most recently changed first.
    pub fn workflows(&self) -> Result<Vec<Workflow>> {
        Ok(self.store.read(|r| r.workflows())?)
    }

    /// Imports a definition in any accepted format; refuses one with problems, listing them.
    pub fn import_workflow(&self, definition: &Value, name: Option<&str>) -> Result<Workflow> {
        let imported = normalize(definition).map_err(Error::Workflow)?;
        let problems = validate(&imported.graph);
        if !problems.is_empty() {
            return Err(Error::Workflow(problems));
        }
        let name = name.map(str::to_owned).or(imported.name).unwrap_or_else(|| UNNAMED.to_owned());
        self.create_workflow(&NewWorkflow { name, description: imported.description, graph: imported.graph })
    }

    /// The problems of a graph (empty when it can run).
    pub fn validate_workflow(&self, graph: &Graph) -> Vec<Problem> {
        validate(graph)
    }

    /// The runs of a workflow (or of all), newest first.
    pub fn runs(&self, workflow: Option<WorkflowId>, limit: u32) -> Result<Vec<Run>> {
        if let Some(id) = workflow {
            self.workflow(id)?;
        }
        Ok(self.store.read(|r| r.runs(workflow, limit.clamp(1, 500)))?)
    }

    pub fn run(&self, id: RunId) -> Result<RunDetail> {
        Ok(self.store.read(|r| r.run(id))?)
    }
}

/// Lists problems in one line, for an error message.
pub(crate) fn describe(problems: &[Problem]) -> String {
    let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
    match all.len() {
        1 => format!("the workflow has a problem: {}", all[0]),
        n => format!("the workflow has {n} problems: {}", all.join("; ")),
    }
}

#[cfg(test)]
mod tests;
