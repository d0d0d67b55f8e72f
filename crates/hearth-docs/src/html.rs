//! HTML to text: the page's content, its boilerplate left out.
//!
//! The content is the first `<main>`, else the first `<article>`, else `<body>`. Inside it,
//! what is not content is dropped: scripts, styles, navigation, headers, footers, asides,
//! forms, and anything hidden. Headings become Markdown heading lines (so chunking cuts at
//! them and keeps their path), block elements become paragraphs, list items `- ` lines, and
//! `<pre>` keeps its lines; other whitespace collapses as a browser shows it. The parser is
//! dom_query (html5ever), the one Tauri's build already uses.

use dom_query::{Document, NodeRef};

/// Elements whose content is never the page's text.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button", "select", "svg", "canvas", "iframe",
    "object", "embed", "head", "dialog", "menu",
];
/// Landmark roles of boilerplate.
const DROPPED_ROLES: &[&str] = &["navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog"];
/// Elements that end a paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
    "br",
    "td",
    "th",
];

/// The page's text (see the module docs) and its `<title>`, if it has one.
pub(crate) fn to_text(html: &str) -> (String, Option<String>) {
    let doc = Document::from(html);
    let first = |s: &str| doc.select(s).nodes().first().cloned();
    let title = first("title").map(|t| collapse(&t.text())).filter(|t| !t.is_empty());
    let root = first("main").or_else(|| first("article")).or_else(|| doc.body()).unwrap_or_else(|| doc.root());
    let mut out = Writer::default();
    walk(&root, &mut out, false);
    (out.finish(), title)
}

#[derive(Default)]
struct Writer {
    text: String,
    /// The paragraph being written.
    line: String,
}

impl Writer {
    fn words(&mut self, s: &str) {
        for word in s.split_whitespace() {
            if !self.line.is_empty() && !self.line.ends_with([' ', '\n']) {
                self.line.push(' ');
            }
            self.line.push_str(word);
        }
        if s.ends_with(char::is_whitespace) && !self.line.is_empty() && !self.line.ends_with(' ') {
            self.line.push(' ');
        }
    }

    fn raw(&mut self, s: &str) {
        self.line.push_str(s);
    }

    /// Ends the paragraph being written.
    fn block(&mut self) {
        let line = self.line.trim();
        if !line.is_empty() {
            self.text.push_str(line);
            self.text.push_str("\n\n");
        }
        self.line.clear();
    }

    fn finish(mut self) -> String {
        self.block();
        self.text.trim_end().to_owned()
    }
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hidden(e: &NodeRef<'_>) -> bool {
    e.has_attr("hidden")
        || e.attr("aria-hidden").is_some_and(|v| &*v == "true")
        || e.attr("role").is_some_and(|r| DROPPED_ROLES.contains(&&*r))
        || e.attr("style").is_some_and(|s| s.replace(' ', "").contains("display:none"))
}

fn walk(el: &NodeRef<'_>, out: &mut Writer, pre: bool) {
    for child in el.children() {
        if child.is_text() {
            let text = child.text();
            if pre {
                out.raw(&text);
            } else {
                out.words(&text);
            }
            continue;
        }
        let Some(name) = child.node_name().filter(|_| child.is_element()) else { continue };
        let name: &str = &name;
        if DROPPED.contains(&name) || hidden(&child) {
            continue;
        }
        if let Some(level) = name.strip_prefix('h').and_then(|n| n.parse::<usize>().ok()).filter(|l| (1..=6).contains(l)) {
            out.block();
            let text = collapse(&child.text());
            if !text.is_empty() {
                out.raw(&format!("{} {text}", "#".repeat(level)));
                out.block();
            }
            continue;
        }
        match name {
            "pre" => {
                out.block();
                walk(&child, out, true);
                out.block();
            }
            "li" => {
                out.block();
                out.raw("- ");
                walk(&child, out, pre);
                out.block();
            }
            _ if BLOCKS.contains(&name) => {
                out.block();
                walk(&child, out, pre);
                out.block();
            }
            _ => walk(&child, out, pre),
        }
    }
}
