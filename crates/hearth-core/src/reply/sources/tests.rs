//! The passages a reply is given: numbered best first within the budget, written into the
//! prompt, and marked when the answer cites them.

use hearth_types::{ChunkHit, DocumentId};

use super::{mark_cited, prompt, within_budget};

fn hit(title: &str, text: &str, page: Option<u32>) -> ChunkHit {
    ChunkHit {
        document_id: DocumentId::new(),
        title: title.into(),
        path: format!("/docs/{title}.md"),
        chunk: 0,
        heading: String::new(),
        page,
        text: text.into(),
        score: 1.0,
    }
}

#[test]
fn passages_are_numbered_best_first_and_stop_at_the_budget() {
    let hits = vec![hit("a", &"a".repeat(30), None), hit("b", &"b".repeat(30), None), hit("c", &"c".repeat(30), None)];
    let got = within_budget(hits, 70);
    let got: Vec<(u32, &str, usize)> = got.iter().map(|c| (c.n, c.title.as_str(), c.snippet.len())).collect();
    assert_eq!(got, [(1, "a", 30), (2, "b", 30)]);
}

#[test]
fn the_best_passage_is_cut_to_fit_rather_than_left_out() {
    // 'é' is two bytes: the cut lands on a character boundary.
    let got = within_budget(vec![hit("a", &"é".repeat(10), None), hit("b", "bb", None)], 7);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].snippet, "ééé");
}

#[test]
fn the_prompt_names_each_passage_with_its_number_page_and_heading() {
    let mut hits = vec![hit("Trains", "The overnight rail leaves at 22:10.", Some(3)), hit("Bread", "Knead for ten minutes.", None)];
    hits[0].heading = "Timetable".into();
    let text = prompt(&within_budget(hits, 1_000));
    assert!(text.contains("\n[1] Trains (page 3, \"Timetable\")\nThe overnight rail leaves at 22:10.\n"), "{text}");
    assert!(text.contains("\n[2] Bread\nKnead for ten minutes.\n"), "{text}");
    assert!(text.contains("like [1]"), "{text}");
}

#[test]
fn only_the_sources_the_answer_cites_are_marked() {
    let mut sources = within_budget(vec![hit("a", "x", None), hit("b", "y", None), hit("c", "z", None)], 100);
    mark_cited(&mut sources, "It leaves at ten [3], as [1] says; [7] is no source.");
    let cited: Vec<bool> = sources.iter().map(|s| s.cited).collect();
    assert_eq!(cited, [true, false, true]);
}
