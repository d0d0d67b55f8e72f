//! DOCX to text: the paragraphs of `word/document.xml`, headings (paragraph styles
//! `Heading1`..`Heading9` and `Title`) as Markdown heading lines.
//!
//! A DOCX is a zip, and a zip can claim small sizes and expand without end (a zip bomb):
//! the document part is read through a cap, and an archive with too many entries is refused
//! before anything is expanded.

use std::io::Read as _;

use quick_xml::events::Event;

use crate::DocError;

/// The most the document part may expand to.
pub const MAX_EXPANDED: u64 = 32 << 20;
/// The most entries an archive may list.
const MAX_ENTRIES: usize = 10_000;

fn damaged(why: impl std::fmt::Display) -> DocError {
    DocError::Damaged(format!("not a readable DOCX: {why}"))
}

pub(crate) fn to_text(bytes: &[u8]) -> Result<String, DocError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(damaged)?;
    if zip.len() > MAX_ENTRIES {
        return Err(damaged(format!("{} entries in the archive", zip.len())));
    }
    let part = zip.by_name("word/document.xml").map_err(|_| damaged("it has no word/document.xml"))?;
    let mut xml = Vec::new();
    part.take(MAX_EXPANDED + 1).read_to_end(&mut xml).map_err(damaged)?;
    if xml.len() as u64 > MAX_EXPANDED {
        return Err(DocError::TooLarge { size: xml.len() as u64, limit: MAX_EXPANDED });
    }
    paragraphs(&xml)
}

/// The text an entity reference (`amp`, `#38`, `#x26`) stands for; nothing for one XML does
/// not define.
fn entity(name: &str) -> String {
    let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => name.strip_prefix('#').and_then(|d| d.parse().ok()),
    };
    if let Some(c) = code.and_then(char::from_u32) {
        return c.to_string();
    }
    match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    }
    .to_owned()
}

/// The text of the document part's paragraphs, blank-line separated.
fn paragraphs(xml: &[u8]) -> Result<String, DocError> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut out = String::new();
    let (mut para, mut heading, mut in_text) = (String::new(), 0usize, false);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(damaged)? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "pStyle" => {
                for a in e.attributes().flatten() {
                    if a.key.local_name().as_ref() == "val" {
                        let style = a.value.to_ascii_lowercase();
                        heading = match style.as_str() {
                            "title" => 1,
                            s => s.strip_prefix("heading").and_then(|n| n.parse::<usize>().ok()).map_or(0, |n| n.clamp(1, 6)),
                        };
                    }
                }
            }
            Event::Start(e) if e.local_name().as_ref() == "t" => in_text = true,
            Event::End(e) if e.local_name().as_ref() == "t" => in_text = false,
            Event::Empty(e) if e.local_name().as_ref() == "tab" => para.push('\t'),
            Event::Empty(e) if matches!(e.local_name().as_ref(), "br" | "cr") => para.push('\n'),
            Event::Text(t) if in_text => para.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => para.push_str(&entity(&r.into_inner())),
            Event::End(e) if e.local_name().as_ref() == "p" => {
                let text = para.trim();
                if !text.is_empty() {
                    if heading > 0 {
                        out.push_str(&"#".repeat(heading));
                        out.push(' ');
                    }
                    out.push_str(text);
                    out.push_str("\n\n");
                }
                para.clear();
                heading = 0;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out.trim_end().to_owned())
}
