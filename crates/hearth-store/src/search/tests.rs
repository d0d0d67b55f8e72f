//! Query building and snippet parsing, without a database.

use super::*;

fn check_query(input: &str, expected: Option<&str>) {
    assert_eq!(fts_query(input).as_deref(), expected, "fts_query({input:?})");
}

#[test]
fn queries() {
    check_query("", None);
    check_query("   ", None);
    check_query("-- ** \"", None);
    check_query("rust", Some("\"rust\"*"));
    check_query("borrow checker", Some("\"borrow\" \"checker\"*"));
    check_query("say \"hi", Some("\"say\" \"\"\"hi\"*"));
    check_query("AND OR NOT", Some("\"AND\" \"OR\" \"NOT\"*"));
}

#[test]
fn snippets() {
    let s = parse_snippet("a \u{2}rust\u{3} book about \u{2}rust\u{3}…");
    assert_eq!(s.text, "a rust book about rust…");
    assert_eq!(s.highlights, vec![(2, 6), (18, 22)]);
    assert_eq!(&s.text[2..6], "rust");
}
