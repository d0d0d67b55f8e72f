//! PDF to text: the text layer, page by page, with where each page starts (lopdf).
//!
//! A scanned PDF has no text layer: it reads as empty. An encrypted one opens only when it
//! needs no password. Each page's content is decompressed through a cap, so a small file
//! cannot expand without end; a parser panic on a damaged file is caught and reported as
//! damage, for that file only.

use crate::{DocError, Extracted};

/// The most one page's content may expand to.
const MAX_PAGE_CONTENT: usize = 32 << 20;

fn damaged(why: impl std::fmt::Display) -> DocError {
    let why = why.to_string();
    if why.to_ascii_lowercase().contains("decrypt") || why.to_ascii_lowercase().contains("encrypt") {
        DocError::Damaged(format!("an encrypted PDF that needs a password ({why})"))
    } else {
        DocError::Damaged(format!("a damaged PDF ({why})"))
    }
}

pub(crate) fn to_text(bytes: &[u8]) -> Result<Extracted, DocError> {
    let read = || -> Result<Vec<String>, DocError> {
        let doc = lopdf::Document::load_mem(bytes).map_err(damaged)?;
        if doc.is_encrypted() {
            return Err(damaged("it is encrypted"));
        }
        // A page the file names but does not hold (a truncated file) is not a page.
        let numbers: Vec<u32> = doc.get_pages().into_iter().filter(|(_, id)| doc.get_object(*id).is_ok()).map(|(n, _)| n).collect();
        if numbers.is_empty() {
            return Err(damaged("it has no readable pages"));
        }
        let mut pages = Vec::new();
        let mut first_error = None;
        for number in numbers {
            // A page whose text cannot be read (an odd font) is left empty; the rest are kept.
            match doc.extract_text_with_limit(&[number], MAX_PAGE_CONTENT) {
                Ok(text) => pages.push(text),
                Err(e) => {
                    first_error.get_or_insert(e);
                    pages.push(String::new());
                }
            }
        }
        match first_error {
            Some(e) if pages.iter().all(|p| p.trim().is_empty()) => Err(damaged(e)),
            _ => Ok(pages),
        }
    };
    let pages = std::panic::catch_unwind(read).map_err(|_| DocError::Damaged("a damaged PDF (its parser gave up)".into()))??;
    let mut text = String::new();
    let mut starts = Vec::new();
    for page in pages {
        starts.push(text.len());
        let page = page.trim();
        text.push_str(page);
        text.push_str("\n\n");
    }
    Ok(Extracted { text: text.trim_end().to_owned(), pages: starts, title: None })
}
