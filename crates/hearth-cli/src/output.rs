//! Printing results: aligned text for people, JSON for programs (`--json`).
//!
//! Results go to stdout; errors go to stderr, as a line of text or as
//! `{"error":{"code","field","message"}}` with `--json`.

use serde::Serialize;

#[derive(Debug)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON, or `text` for people.
    pub(crate) fn show<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).expect("results serialize"));
        } else {
            let t = text();
            if !t.is_empty() {
                println!("{}", t.trim_end());
            }
        }
    }

    pub(crate) fn error(&self, code: &str, field: Option<&str>, message: &str) {
        if self.json {
            let body = serde_json::json!({ "error": { "code": code, "field": field, "message": message } });
            eprintln!("{body}");
        } else {
            eprintln!("error: {message}");
        }
    }
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 < widths.len() {
                s.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                s.push_str(cell);
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push('\n');
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// The first line of `text`, cut to `max` characters with an ellipsis.
pub(crate) fn preview(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > max || text.lines().nth(1).is_some() {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["ID", "NAME"], &[vec!["1".into(), "one".into()], vec!["22".into(), "two".into()]]);
        assert_eq!(t, "ID  NAME\n1   one\n22  two");
    }

    #[test]
    fn previews_cut_long_or_multiline_text() {
        assert_eq!(preview("short", 10), "short");
        assert_eq!(preview("a longer line", 6), "a lon…");
        assert_eq!(preview("two\nlines", 10), "two…");
    }
}
