//! Formats by name, text and what is refused.

use super::*;

#[test]
fn formats_come_from_the_name() {
    assert_eq!(format_of(Path::new("/a/notes.MD")), Some(DocFormat::Markdown));
    assert_eq!(format_of(Path::new("readme.txt")), Some(DocFormat::Text));
    assert_eq!(format_of(Path::new("src/main.rs")), Some(DocFormat::Code));
    assert_eq!(format_of(Path::new("Makefile")), Some(DocFormat::Code));
    assert_eq!(format_of(Path::new("paper.pdf")), Some(DocFormat::Pdf));
    assert_eq!(format_of(Path::new("photo.jpg")), None);
    assert_eq!(format_of(Path::new("archive")), None);
}

#[test]
fn text_is_normalized_and_binary_is_refused() {
    let got = extract(DocFormat::Text, b"\xEF\xBB\xBFone\r\ntwo\rthree").unwrap();
    assert_eq!(got.text, "one\ntwo\nthree");
    let binary = extract(DocFormat::Text, b"PK\x03\x04\x00\x00binary").unwrap_err();
    assert_eq!(binary, DocError::NotText("it holds a NUL byte at offset 4".into()));
    assert!(matches!(extract(DocFormat::Text, b"caf\xe9").unwrap_err(), DocError::NotText(m) if m.contains("not UTF-8")));
    assert_eq!(extract(DocFormat::Markdown, b"  \n\n ").unwrap_err(), DocError::Empty);
    assert_eq!(extract(DocFormat::Pdf, b"%PDF-1.7").unwrap_err(), DocError::Unsupported(DocFormat::Pdf));
}

#[test]
fn a_title_is_the_first_heading_or_the_file_name() {
    assert_eq!(title(DocFormat::Markdown, "intro\n# Gardening notes\n## Soil", Path::new("/x/g.md")), "Gardening notes");
    assert_eq!(title(DocFormat::Markdown, "no heading", Path::new("/x/g.md")), "g.md");
    assert_eq!(title(DocFormat::Code, "# comment", Path::new("/x/run.py")), "run.py");
}
