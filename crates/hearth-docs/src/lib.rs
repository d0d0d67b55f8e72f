//! Hearth's documents: which files it reads as knowledge, the text it takes from them and the
//! chunks it cuts that text into.
//!
//! Pure functions over bytes (the caller reads the file): [`format_of`] picks the format by
//! the file's extension, [`extract`] turns the bytes into text (Markdown, plain text and
//! code as they are; HTML without its boilerplate, `html.rs`; a PDF's text layer with its
//! pages, `pdf.rs`; a DOCX's paragraphs, `docx.rs`), refusing what is not what its name says
//! (a binary file named `.txt`, a damaged or password-protected PDF, a zip bomb), and [`chunk`] cuts the text by its structure,
//! headings and paragraphs (blank-line blocks for code), into pieces within a [`Budget`],
//! consecutive pieces of one section overlapping a little so a passage cut in two is still
//! found whole in one of them. Each chunk keeps its place (byte offsets into the text), its
//! heading path and its page, for citations.
//!
//! The budget is in bytes, about four per token for English text; the embedding model's own
//! tokenizer is the better measure once one is part of ingestion.

mod chunk;
mod docx;
mod extract;
mod html;
mod pdf;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

pub use chunk::{Budget, chunk};
pub use docx::MAX_EXPANDED as MAX_DOCX_EXPANDED;
pub use extract::{DocError, Extracted, extract, format_of, title};

/// The SHA-256 of `bytes`, as lowercase hex: a document's identity of content.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
