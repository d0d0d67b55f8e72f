//! Cutting a document's text into chunks by its structure.
//!
//! The text is first read as blocks: a paragraph (lines up to a blank line), a fenced code
//! block (whole, blank lines and all), or a heading line, which also opens a section. Chunks
//! are then filled block by block: a heading always starts a new chunk, and so does a new
//! page (pages end with a blank line, so no block spans two), and a block that would
//! take a chunk past the budget closes it. The next chunk of the same section begins a little
//! before the one closed ends (the overlap, from a word boundary), so a passage that straddles
//! the cut is whole in one of them. A block larger than the budget on its own is cut at
//! sentence ends, else at spaces, else anywhere on a character boundary.
//!
//! A chunk's text is exactly `text[start..end]`: a citation can show the passage in place.

use hearth_types::{DocFormat, NewChunk};

use crate::Extracted;

/// How big a chunk may be, and how much consecutive chunks of a section share, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub max_bytes: usize,
    pub overlap_bytes: usize,
}

impl Default for Budget {
    /// About 250 tokens a chunk with about 40 shared: what the knowledge embedding model
    /// (all-MiniLM-L6-v2) reads whole, as sentence-transformers cuts its inputs at 256 tokens.
    fn default() -> Self {
        Self { max_bytes: 1000, overlap_bytes: 150 }
    }
}

/// One block of the text: `[start, end)`, the heading path it sits under, and whether it
/// opens a section (a heading line).
#[derive(Debug)]
struct Block {
    start: usize,
    end: usize,
    heading: String,
    opens_section: bool,
}

/// The heading a Markdown line is, as its level and title.
fn heading(line: &str) -> Option<(usize, &str)> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    Some((hashes, rest.trim().trim_end_matches('#').trim()))
}

fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// Whether the format's text marks headings as Markdown does: Markdown itself, and the text
/// Hearth makes of HTML and DOCX.
pub(crate) fn has_headings(format: DocFormat) -> bool {
    matches!(format, DocFormat::Markdown | DocFormat::Html | DocFormat::Docx)
}

/// The text's blocks, in order. Headings and fences count only where [`has_headings`].
fn blocks(text: &str, format: DocFormat) -> Vec<Block> {
    let markdown = has_headings(format);
    let mut out = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    let mut in_fence = false;
    let heading_path = |path: &[(usize, String)]| path.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" > ");
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let (start, end) = (offset, offset + line.len());
        offset = end;
        let bare = line.trim_end();
        if markdown
            && !in_fence
            && let Some((level, title)) = heading(bare)
        {
            if let Some((s, e)) = current.take() {
                out.push(Block { start: s, end: e, heading: heading_path(&path), opens_section: false });
            }
            path.retain(|(l, _)| *l < level);
            path.push((level, title.to_owned()));
            out.push(Block { start, end, heading: heading_path(&path), opens_section: true });
            continue;
        }
        if markdown && is_fence(bare) {
            if !in_fence && let Some((s, e)) = current.take() {
                out.push(Block { start: s, end: e, heading: heading_path(&path), opens_section: false });
            }
            in_fence = !in_fence;
            current = Some((current.map_or(start, |(s, _)| s), end));
            if !in_fence && let Some((s, e)) = current.take() {
                out.push(Block { start: s, end: e, heading: heading_path(&path), opens_section: false });
            }
            continue;
        }
        if !in_fence && bare.trim().is_empty() {
            if let Some((s, e)) = current.take() {
                out.push(Block { start: s, end: e, heading: heading_path(&path), opens_section: false });
            }
            continue;
        }
        current = Some((current.map_or(start, |(s, _)| s), end));
    }
    if let Some((s, e)) = current {
        out.push(Block { start: s, end: e, heading: heading_path(&path), opens_section: false });
    }
    out
}

/// The largest character boundary of `text` at or below `at`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Where to cut `text[start..]` to stay within `max` bytes: after the last sentence end in
/// the window, else after its last space, else at the window's end.
fn cut_point(text: &str, start: usize, max: usize) -> usize {
    let limit = floor_boundary(text, start + max);
    if limit >= text.len() {
        return text.len();
    }
    let window = &text[start..limit];
    // Not too early: a cut in the first half would make many tiny chunks.
    let least = window.len() / 2;
    let sentence = window.rmatch_indices(['.', '!', '?', '\n']).map(|(i, s)| i + s.len()).find(|&i| i >= least);
    let space = window.rfind([' ', '\t']).map(|i| i + 1).filter(|&i| i >= least);
    start + sentence.or(space).unwrap_or(window.len()).max(1)
}

/// Where an overlap of about `overlap` bytes before `end` begins: at a word start, never
/// at or before `floor`.
fn overlap_start(text: &str, floor: usize, end: usize, overlap: usize) -> Option<usize> {
    if overlap == 0 || end <= floor + 1 {
        return None;
    }
    let from = floor_boundary(text, end.saturating_sub(overlap).max(floor + 1));
    let tail = &text[from..end];
    let word = tail.find([' ', '\n', '\t']).map(|i| from + i + 1)?;
    (word < end && word > floor).then_some(word)
}

/// The chunks of an extracted document, in order.
pub fn chunk(format: DocFormat, doc: &Extracted, budget: Budget) -> Vec<NewChunk> {
    let text = doc.text.as_str();
    let max = budget.max_bytes.max(16);
    let overlap = budget.overlap_bytes.min(max / 2);
    let page_of =
        |at: usize| -> Option<u32> { (!doc.pages.is_empty()).then(|| doc.pages.iter().take_while(|&&p| p <= at).count().max(1) as u32) };
    let mut out: Vec<NewChunk> = Vec::new();
    // The chunk being filled: its start, end and heading.
    let mut open: Option<(usize, usize, String)> = None;
    let emit = |out: &mut Vec<NewChunk>, start: usize, end: usize, heading: &str| {
        let piece = &text[start..end];
        let trimmed = piece.trim_end();
        if trimmed.trim().is_empty() {
            return;
        }
        let end = start + trimmed.len();
        out.push(NewChunk {
            text: text[start..end].to_owned(),
            heading: heading.to_owned(),
            page: page_of(start),
            start: start as u32,
            end: end as u32,
        });
    };
    for block in blocks(text, format) {
        if let Some((s, e, h)) = open.take() {
            // A heading, or a new page (a citation names one page), starts a new chunk.
            if block.opens_section || block.heading != h || page_of(block.start) != page_of(s) {
                emit(&mut out, s, e, &h);
            } else if block.end - s <= max {
                open = Some((s, block.end, h));
                continue;
            } else {
                emit(&mut out, s, e, &h);
                // The next chunk of this section starts in the tail of the one just closed.
                if let Some(o) = overlap_start(text, s, e, overlap)
                    && block.end - o <= max
                {
                    open = Some((o, block.end, h));
                    continue;
                }
            }
        }
        if block.end - block.start <= max {
            open = Some((block.start, block.end, block.heading));
            continue;
        }
        // A block over the budget on its own: pieces, each overlapping the one before.
        let mut start = block.start;
        loop {
            let end = cut_point(&text[..block.end], start, max);
            if end >= block.end {
                open = Some((start, block.end, block.heading.clone()));
                break;
            }
            emit(&mut out, start, end, &block.heading);
            start = overlap_start(text, start, end, overlap).unwrap_or(end);
        }
    }
    if let Some((s, e, h)) = open {
        emit(&mut out, s, e, &h);
    }
    out
}

#[cfg(test)]
mod tests;
