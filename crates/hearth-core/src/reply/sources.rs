//! What a reply is given from its workspace's knowledge: the passages that best match the
//! question, numbered, in the system message within a budget, with an instruction to cite
//! them as `[1]`, `[2]`; and, once the answer is in, which of them it cited.
//!
//! The budget is in bytes of passage text, not tokens: the prompt is rendered by the model's
//! own template later, and a fixed share keeps the smallest context the engine runs (2,048
//! tokens) open for the conversation and the answer.

use hearth_types::{ChunkHit, Citation, Workspace};

use crate::{Core, Result, Retrieval, WorkspaceRef};

/// The workspace setting that turns knowledge in replies off (`"knowledge": false`); on by
/// default, so documents a user adds are used without another step.
pub const KNOWLEDGE_SETTING: &str = "knowledge";
/// The most passages one reply is given.
pub(crate) const MAX_SOURCES: usize = 4;
/// The most passage text one reply is given (about a thousand tokens of English).
pub(crate) const SOURCE_BYTES: usize = 4_000;

/// Whether replies in a workspace with these settings use its knowledge.
pub fn knowledge_enabled(settings: &serde_json::Map<String, serde_json::Value>) -> bool {
    settings.get(KNOWLEDGE_SETTING).and_then(serde_json::Value::as_bool).unwrap_or(true)
}

impl Core {
    /// The passages of `workspace`'s knowledge for `question`, numbered from 1, within the
    /// budget; none when knowledge is off or there are no documents. Hybrid with an embedder,
    /// by words (any of them, BM25) without one.
    pub(crate) fn sources_for(&self, workspace: &Workspace, question: &str) -> Result<Vec<Citation>> {
        if !knowledge_enabled(&workspace.settings) || question.trim().is_empty() {
            return Ok(Vec::new());
        }
        if !self.store.read(|r| r.has_documents(workspace.id))? {
            return Ok(Vec::new());
        }
        let how = if self.embedder_for(workspace)?.is_some() { Retrieval::Hybrid } else { Retrieval::Words };
        let hits = self.retrieve(&WorkspaceRef::Id(workspace.id), question, MAX_SOURCES as u32, how)?;
        Ok(within_budget(hits, SOURCE_BYTES))
    }
}

/// The hits that fit in `budget` bytes, best first, numbered; the best one is cut to fit
/// rather than left out.
fn within_budget(hits: Vec<ChunkHit>, budget: usize) -> Vec<Citation> {
    let mut used = 0;
    let mut out = Vec::new();
    for hit in hits.into_iter().take(MAX_SOURCES) {
        let text = match (out.is_empty(), used + hit.text.len() <= budget) {
            (_, true) => hit.text,
            (true, false) => cut(&hit.text, budget).to_owned(),
            (false, false) => break,
        };
        used += text.len();
        out.push(Citation {
            n: out.len() as u32 + 1,
            document_id: hit.document_id,
            title: hit.title,
            path: hit.path,
            chunk: hit.chunk,
            heading: hit.heading,
            page: hit.page,
            snippet: text,
            cited: false,
        });
    }
    out
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The passages as the system message gives them to the model.
pub(crate) fn prompt(sources: &[Citation]) -> String {
    let mut out = String::from(
        "Answer from these passages of the user's documents where they help, and cite each passage you use by its number in \
         brackets, like [1]. If they do not hold the answer, say so.\n",
    );
    for s in sources {
        let mut place = Vec::new();
        if let Some(page) = s.page {
            place.push(format!("page {page}"));
        }
        if !s.heading.is_empty() {
            place.push(format!("\"{}\"", s.heading));
        }
        let place = if place.is_empty() { String::new() } else { format!(" ({})", place.join(", ")) };
        out.push_str(&format!("\n[{}] {}{place}\n{}\n", s.n, s.title, s.snippet.trim()));
    }
    out
}

/// Marks the sources `answer` cites.
pub(crate) fn mark_cited(sources: &mut [Citation], answer: &str) {
    let cited = Citation::numbers_in(answer);
    for s in sources {
        s.cited = cited.contains(&s.n);
    }
}

#[cfg(test)]
mod tests;
