//! Chunking by structure, within the budget, with overlap, offsets that point at the text.

use super::*;

fn doc(text: &str) -> Extracted {
    Extracted { text: text.to_owned(), ..Extracted::default() }
}

/// Every chunk is its slice of the text, within the budget, and the chunks cover every
/// non-blank byte of the text.
fn check(text: &str, chunks: &[NewChunk], budget: Budget) {
    let mut covered = vec![false; text.len()];
    for c in chunks {
        let (s, e) = (c.start as usize, c.end as usize);
        assert_eq!(c.text, &text[s..e], "a chunk is its slice of the text");
        assert!(e - s <= budget.max_bytes, "chunk of {} bytes over the budget: {:?}", e - s, c.text);
        covered[s..e].iter_mut().for_each(|b| *b = true);
    }
    for (i, b) in text.bytes().enumerate() {
        assert!(covered[i] || b.is_ascii_whitespace(), "byte {i} ({:?}) is in no chunk", b as char);
    }
}

#[test]
fn markdown_is_cut_at_headings_and_keeps_the_heading_path() {
    let text = "# Garden\nIntro line.\n\n## Soil\nLoam holds water.\n\n### Acidity\nBlueberries like pH 5.\n\n## Water\nWater at dawn.\n";
    let budget = Budget::default();
    let chunks = chunk(DocFormat::Markdown, &doc(text), budget);
    check(text, &chunks, budget);
    let got: Vec<(&str, &str)> = chunks.iter().map(|c| (c.heading.as_str(), c.text.as_str())).collect();
    assert_eq!(
        got,
        [
            ("Garden", "# Garden\nIntro line."),
            ("Garden > Soil", "## Soil\nLoam holds water."),
            ("Garden > Soil > Acidity", "### Acidity\nBlueberries like pH 5."),
            ("Garden > Water", "## Water\nWater at dawn."),
        ]
    );
}

#[test]
fn a_fenced_block_is_kept_whole_and_its_hashes_are_not_headings() {
    let text = "# Setup\n```sh\n# not a heading\n\nmake run\n```\nDone.\n";
    let chunks = chunk(DocFormat::Markdown, &doc(text), Budget::default());
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    assert_eq!(chunks[0].heading, "Setup");
    assert!(chunks[0].text.contains("# not a heading\n\nmake run"));
}

#[test]
fn paragraphs_fill_chunks_to_the_budget_and_consecutive_chunks_overlap() {
    let para = |i: usize| format!("Paragraph {i} says something about topic {i} in a sentence or two. It ends here.");
    let text = (0..40).map(para).collect::<Vec<_>>().join("\n\n");
    let budget = Budget { max_bytes: 400, overlap_bytes: 60 };
    let chunks = chunk(DocFormat::Text, &doc(&text), budget);
    check(&text, &chunks, budget);
    assert!(chunks.len() >= 8, "{} chunks", chunks.len());
    for pair in chunks.windows(2) {
        assert!(pair[1].start < pair[0].end, "consecutive chunks of a section overlap: {pair:?}");
        assert!(pair[1].start > pair[0].start);
    }
    // Chunks are mostly full: structure, not one paragraph each.
    let mean = chunks.iter().map(|c| c.text.len()).sum::<usize>() / chunks.len();
    assert!(mean > 200, "mean chunk of {mean} bytes");
}

#[test]
fn a_block_over_the_budget_is_cut_at_sentences_then_spaces_then_anywhere() {
    let sentences = "One short sentence here. ".repeat(100);
    let budget = Budget { max_bytes: 300, overlap_bytes: 40 };
    let chunks = chunk(DocFormat::Text, &doc(&sentences), budget);
    check(&sentences, &chunks, budget);
    assert!(chunks.iter().all(|c| c.text.ends_with('.')), "cut at sentence ends");

    let unbroken = "é".repeat(1000); // two bytes a character, no spaces
    let chunks = chunk(DocFormat::Text, &doc(&unbroken), budget);
    check(&unbroken, &chunks, budget);
    assert!(chunks.len() >= 7);
}

#[test]
fn pages_are_kept_for_paged_formats() {
    let text = "Page one text.\n\nPage two text.\n";
    let d = Extracted { text: text.to_owned(), pages: vec![0, 16], title: None };
    let chunks = chunk(DocFormat::Pdf, &d, Budget::default());
    let pages: Vec<Option<u32>> = chunks.iter().map(|c| c.page).collect();
    assert_eq!(pages, [Some(1), Some(2)]);
    assert!(chunk(DocFormat::Text, &doc(text), Budget::default()).iter().all(|c| c.page.is_none()));
}

#[test]
fn code_is_cut_at_blank_lines_without_headings() {
    let text = "# a comment, not a heading\nfn a() {}\n\nfn b() {}\n";
    let chunks = chunk(DocFormat::Code, &doc(text), Budget { max_bytes: 30, overlap_bytes: 0 });
    assert!(chunks.iter().all(|c| c.heading.is_empty()));
    assert_eq!(chunks.len(), 2, "{chunks:?}");
}
