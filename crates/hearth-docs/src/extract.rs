//! From a file's bytes to its text: the formats Hearth reads and what it refuses.

use std::path::Path;

use hearth_types::DocFormat;

/// Why a file's text could not be had. Each is about that one file: the others of an ingestion
/// go on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocError {
    /// Not a format Hearth reads (by its extension).
    #[error("not a document Hearth reads (Markdown, plain text, source code, HTML, PDF, DOCX)")]
    Unknown,
    /// Not what its name says, or broken: a PDF that does not parse or needs a password, a
    /// DOCX that is not a Word archive.
    #[error("{0}")]
    Damaged(String),
    /// Its bytes are not text (a binary file with a text name, another encoding).
    #[error("not a text file: {0}")]
    NotText(String),
    /// Larger than the limit.
    #[error("too large: {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    /// Nothing in it to search (for a PDF: a scan, without a text layer).
    #[error("no text in it")]
    Empty,
}

/// A document's text, where each of its pages starts (byte offsets, empty for formats
/// without pages), and the title the file gives itself (an HTML `<title>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub pages: Vec<usize>,
    pub title: Option<String>,
}

const MARKDOWN: &[&str] = &["md", "markdown", "mdx"];
const TEXT: &[&str] = &["txt", "text", "rst", "org", "adoc", "csv", "tsv", "log"];
const CODE: &[&str] = &[
    "rs",
    "py",
    "js",
    "jsx",
    "ts",
    "tsx",
    "go",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "cs",
    "java",
    "kt",
    "swift",
    "rb",
    "php",
    "sh",
    "bash",
    "zsh",
    "sql",
    "lua",
    "r",
    "scala",
    "hs",
    "ml",
    "ex",
    "exs",
    "erl",
    "clj",
    "dart",
    "vue",
    "svelte",
    "css",
    "scss",
    "toml",
    "yaml",
    "yml",
    "json",
    "xml",
    "ini",
    "cfg",
    "conf",
    "gradle",
    "cmake",
    "makefile",
    "dockerfile",
    "proto",
    "graphql",
    "zig",
    "nim",
    "jl",
];

/// The format of the file at `path`, by its extension (or its name, for `Makefile` and the
/// like); `None` for files Hearth does not read.
pub fn format_of(path: &Path) -> Option<DocFormat> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_owned(),
        None => name.clone(),
    };
    let ext = ext.as_str();
    if MARKDOWN.contains(&ext) {
        Some(DocFormat::Markdown)
    } else if TEXT.contains(&ext) {
        Some(DocFormat::Text)
    } else if CODE.contains(&ext) {
        Some(DocFormat::Code)
    } else {
        match ext {
            "html" | "htm" | "xhtml" => Some(DocFormat::Html),
            "pdf" => Some(DocFormat::Pdf),
            "docx" => Some(DocFormat::Docx),
            _ => None,
        }
    }
}

/// The text of a file in `format`.
pub fn extract(format: DocFormat, bytes: &[u8]) -> Result<Extracted, DocError> {
    let extracted = match format {
        DocFormat::Markdown | DocFormat::Text | DocFormat::Code => Extracted { text: plain_text(bytes)?, ..Extracted::default() },
        DocFormat::Html => {
            let (text, title) = crate::html::to_text(&plain_text(bytes)?);
            Extracted { text, title, ..Extracted::default() }
        }
        DocFormat::Docx => Extracted { text: crate::docx::to_text(bytes)?, ..Extracted::default() },
        DocFormat::Pdf => crate::pdf::to_text(bytes)?,
    };
    if extracted.text.trim().is_empty() {
        return Err(DocError::Empty);
    }
    Ok(extracted)
}

/// UTF-8 text (a byte-order mark dropped, line ends made `\n`), or why it is not text. A NUL
/// byte marks a binary file: text never holds one.
fn plain_text(bytes: &[u8]) -> Result<String, DocError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(DocError::NotText(format!("it holds a NUL byte at offset {at}")));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| DocError::NotText(format!("it is not UTF-8 ({e})")))?;
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// A document's title: the one it gives itself (an HTML `<title>`), else its first top-level
/// heading (Markdown, HTML, DOCX), else its file name.
pub fn title(format: DocFormat, doc: &Extracted, path: &Path) -> String {
    if let Some(t) = &doc.title {
        return t.clone();
    }
    if crate::chunk::has_headings(format)
        && let Some(h) = doc.text.lines().find_map(|l| l.strip_prefix("# ")).map(str::trim).filter(|h| !h.is_empty())
    {
        return h.to_owned();
    }
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests;
