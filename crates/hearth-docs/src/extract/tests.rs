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
}

fn text(s: &str) -> Extracted {
    Extracted { text: s.into(), ..Extracted::default() }
}

#[test]
fn a_title_is_the_documents_own_then_the_first_heading_then_the_file_name() {
    assert_eq!(title(DocFormat::Markdown, &text("intro\n# Gardening notes\n## Soil"), Path::new("/x/g.md")), "Gardening notes");
    assert_eq!(title(DocFormat::Markdown, &text("no heading"), Path::new("/x/g.md")), "g.md");
    assert_eq!(title(DocFormat::Code, &text("# comment"), Path::new("/x/run.py")), "run.py");
    let page = Extracted { title: Some("The page".into()), ..text("# Heading") };
    assert_eq!(title(DocFormat::Html, &page, Path::new("/x/p.html")), "The page");
}

#[test]
fn html_keeps_the_content_and_drops_the_boilerplate() {
    let page = r#"<!doctype html><html><head><title> Soil  guide </title><style>p{color:red}</style>
        <script>var tracking = "SCRIPTTEXT";</script></head><body>
        <header><a href="/">Home</a> NAVHEADER</header>
        <nav><ul><li>NAVLINK one</li></ul></nav>
        <main>
          <h1>Soil</h1>
          <p>Blueberries   want <b>acidic</b>
             soil.</p>
          <div hidden>HIDDENTEXT</div>
          <h2>Steps</h2>
          <ul><li>Test the pH</li><li>Add sulfur &amp; wait</li></ul>
          <pre>line one
  line two</pre>
        </main>
        <aside>ASIDETEXT</aside><footer>FOOTERTEXT &copy; 2026</footer></body></html>"#;
    let got = extract(DocFormat::Html, page.as_bytes()).unwrap();
    assert_eq!(got.title.as_deref(), Some("Soil guide"));
    assert_eq!(
        got.text,
        "# Soil\n\nBlueberries want acidic soil.\n\n## Steps\n\n- Test the pH\n\n- Add sulfur & wait\n\nline one\n  line two"
    );
    for boilerplate in ["SCRIPTTEXT", "NAVHEADER", "NAVLINK", "HIDDENTEXT", "ASIDETEXT", "FOOTERTEXT", "color:red"] {
        assert!(!got.text.contains(boilerplate), "{boilerplate} left in: {}", got.text);
    }
    // Its headings cut chunks as Markdown's do.
    let chunks = crate::chunk(DocFormat::Html, &got, crate::Budget::default());
    assert_eq!(chunks.iter().map(|c| c.heading.as_str()).collect::<Vec<_>>(), ["Soil", "Soil > Steps"]);
}

#[test]
fn a_pdf_gives_its_text_layer_page_by_page() {
    let pdf = crate::fixtures::pdf(&["Loam holds water well.", "Clay drains (slowly)."]);
    let got = extract(DocFormat::Pdf, &pdf).unwrap();
    assert!(got.text.contains("Loam holds water well."), "{got:?}");
    assert!(got.text.contains("Clay drains (slowly)."), "{got:?}");
    assert_eq!(got.pages.len(), 2);
    let second = got.text.find("Clay").unwrap();
    assert!(got.pages[1] <= second && got.pages[1] > got.text.find("Loam").unwrap(), "{got:?}");
    let chunks = crate::chunk(DocFormat::Pdf, &got, crate::Budget { max_bytes: 30, overlap_bytes: 0 });
    let pages: Vec<Option<u32>> = chunks.iter().map(|c| c.page).collect();
    assert_eq!(pages, [Some(1), Some(2)], "{chunks:?}");
}

#[test]
fn a_damaged_or_locked_pdf_is_refused_with_its_reason() {
    let mut pdf = crate::fixtures::pdf(&["Some text."]);
    pdf.truncate(pdf.len() / 3);
    let damaged = extract(DocFormat::Pdf, &pdf).unwrap_err();
    assert!(matches!(&damaged, DocError::Damaged(m) if m.contains("PDF")), "{damaged:?}");
    let locked = extract(DocFormat::Pdf, &crate::fixtures::encrypted_pdf()).unwrap_err();
    assert!(matches!(&locked, DocError::Damaged(m) if m.contains("encrypted")), "{locked:?}");
    let not_pdf = extract(DocFormat::Pdf, b"just text, named .pdf").unwrap_err();
    assert!(matches!(not_pdf, DocError::Damaged(_)), "{not_pdf:?}");
}

#[test]
fn a_docx_gives_its_paragraphs_with_headings() {
    let docx = crate::fixtures::docx(&[(1, "Compost"), (0, "Turn it weekly & keep it damp."), (2, "Greens"), (0, "Grass <clippings>.")]);
    let got = extract(DocFormat::Docx, &docx).unwrap();
    assert_eq!(got.text, "# Compost\n\nTurn it weekly & keep it damp.\n\n## Greens\n\nGrass <clippings>.");
    assert_eq!(title(DocFormat::Docx, &got, Path::new("/x/c.docx")), "Compost");
}

#[test]
fn a_docx_that_is_not_one_or_expands_without_end_is_refused() {
    let not_zip = extract(DocFormat::Docx, b"plain text named .docx").unwrap_err();
    assert!(matches!(&not_zip, DocError::Damaged(m) if m.starts_with("not a readable DOCX")), "{not_zip:?}");
    let bomb = crate::fixtures::docx_bomb(crate::MAX_DOCX_EXPANDED + (4 << 20));
    assert!(bomb.len() < 200_000, "the bomb is small on disk: {} bytes", bomb.len());
    let refused = extract(DocFormat::Docx, &bomb).unwrap_err();
    assert_eq!(refused, DocError::TooLarge { size: crate::MAX_DOCX_EXPANDED + 1, limit: crate::MAX_DOCX_EXPANDED });
}
