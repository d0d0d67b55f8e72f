//! `make bench` (store part): the cost of Hearth's repository layer, measured against bare
//! SQLite in the same run.
//!
//! 1. Inserts 100,000 messages through the repository (`append_message`: HLC stamp, outbox
//!    row, FTS index, active-leaf update) and 100,000 through a bare prepared INSERT into the
//!    same table (its triggers, so the FTS index, included), each on its own fresh file with
//!    the same pragmas and one transaction per message, and prints both rates and their ratio.
//!    Goal: the repository reaches at least 0.5 of bare.
//! 2. With 100,000 messages in place, prints the median latency of listing a workspace's
//!    chats (goal under 5 ms) and of a ranked FTS query (goal under 20 ms).
//!
//! Figures go to stdout and to `bench-results/store.json` (or `$HEARTH_BENCH_OUT`).

use std::time::{Duration, Instant};

use hearth_store::Store;
use hearth_types::{ChatId, Handle, MessageId, NewChat, NewMessage, NewWorkspace, Role, WorkspaceId};

const MESSAGES: usize = 100_000;
const WORKSPACES: usize = 10;
const CHATS_PER_WORKSPACE: usize = 100;

/// Deterministic text with the shape of real writing: words drawn from a Zipf distribution
/// (the k-th most common word has weight 1/k) over about 8,000 words, function words first,
/// so a common word matches a few percent of messages and a rare one a handful. Both sides
/// insert the same text (same seed).
struct Words {
    state: u64,
    vocabulary: Vec<String>,
    cumulative: Vec<f64>,
}

/// The most common words, in rank order; the rest of the vocabulary is made of syllables.
const COMMON: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "is",
    "it",
    "you",
    "that",
    "for",
    "on",
    "with",
    "as",
    "this",
    "be",
    "at",
    "have",
    "from",
    "or",
    "by",
    "not",
    "but",
    "what",
    "all",
    "were",
    "when",
    "we",
    "there",
    "can",
    "an",
    "your",
    "which",
    "their",
    "said",
    "if",
    "do",
    "will",
    "each",
    "about",
    "how",
    "up",
    "out",
    "them",
    "then",
    "she",
    "many",
    "some",
    "so",
    "these",
    "would",
    "other",
    "into",
    "has",
    "more",
    "her",
    "two",
    "like",
    "him",
    "see",
    "rust",
    "model",
    "local",
    "chat",
    "sync",
    "offline",
    "memory",
    "thread",
    "branch",
    "search",
    "index",
    "query",
    "token",
    "prompt",
    "reply",
    "stream",
    "cache",
    "vector",
    "embedding",
    "workspace",
    "garden",
    "recipe",
    "travel",
    "budget",
    "meeting",
    "draft",
    "letter",
    "poem",
    "story",
    "python",
    "sqlite",
    "server",
    "window",
    "keyboard",
    "lentils",
    "sourdough",
    "bicycle",
    "mountain",
    "river",
    "piano",
    "violin",
    "chess",
    "galaxy",
];
const SYLLABLES: &[&str] = &["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "fu", "gi", "ha", "ju", "be"];
const VOCABULARY_SIZE: usize = 8_000;

impl Words {
    fn new(seed: u64) -> Self {
        let mut vocabulary: Vec<String> = COMMON.iter().map(|w| w.to_string()).collect();
        let mut k = 16usize;
        while vocabulary.len() < VOCABULARY_SIZE {
            let (mut n, mut word) = (k, String::new());
            while n > 0 {
                word.push_str(SYLLABLES[n % 16]);
                n /= 16;
            }
            vocabulary.push(word);
            k += 1;
        }
        let mut total = 0.0;
        let cumulative = (1..=vocabulary.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { state: seed, vocabulary, cumulative }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn word(&mut self) -> &str {
        let total = *self.cumulative.last().unwrap();
        let r = (self.next() % 1_000_000) as f64 / 1_000_000.0 * total;
        let i = self.cumulative.partition_point(|&c| c < r).min(self.vocabulary.len() - 1);
        &self.vocabulary[i]
    }

    /// 20 to 60 words.
    fn text(&mut self) -> String {
        let n = 20 + (self.next() % 41) as usize;
        let mut words = Vec::with_capacity(n);
        for _ in 0..n {
            words.push(self.word().to_owned());
        }
        words.join(" ")
    }
}

fn rate(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn setup(store: &Store) -> (Vec<WorkspaceId>, Vec<ChatId>) {
    let mut workspaces = Vec::new();
    let mut chats = Vec::new();
    for w in 0..WORKSPACES {
        let new = NewWorkspace::new(&format!("Bench {w}"), Handle::parse(&format!("bench-{w}")).unwrap()).unwrap();
        let ws = store.write(|tx| tx.create_workspace(&new)).unwrap();
        for c in 0..CHATS_PER_WORKSPACE {
            let new = NewChat { workspace_id: ws.id, title: format!("chat {c}"), model: None };
            chats.push(store.write(|tx| tx.create_chat(&new)).unwrap().id);
        }
        workspaces.push(ws.id);
    }
    (workspaces, chats)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    // HEARTH_BENCH_KEEP=DIR keeps the databases there for a closer look.
    let dir_path = std::env::var_os("HEARTH_BENCH_KEEP").map(std::path::PathBuf::from).unwrap_or_else(|| dir.path().to_owned());
    println!("hearth-store benchmark: {MESSAGES} messages in {} chats, one transaction per message", WORKSPACES * CHATS_PER_WORKSPACE);

    // Repository side.
    let store = Store::open(dir_path.join("repository.db")).unwrap();
    let (workspaces, chats) = setup(&store);
    let mut words = Words::new(0x9E37_79B9_7F4A_7C15);
    let mut last: Vec<Option<MessageId>> = vec![None; chats.len()];
    let started = Instant::now();
    for i in 0..MESSAGES {
        let c = i % chats.len();
        let role = if (i / chats.len()) % 2 == 0 { Role::User } else { Role::Assistant };
        let new = NewMessage::new(chats[c], last[c], role, words.text());
        last[c] = Some(store.write(|tx| tx.append_message(&new)).unwrap().message.id);
    }
    let repository = started.elapsed();

    // Bare side: a fresh file with the same schema and pragmas, plain autocommit INSERTs.
    let bare_store = Store::open(dir_path.join("bare.db")).unwrap();
    let (_, bare_chats) = setup(&bare_store);
    drop(bare_store);
    let conn = rusqlite::Connection::open(dir_path.join("bare.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    let mut insert = conn
        .prepare(
            "INSERT INTO messages (id, chat_id, parent_id, role, content, status, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'complete', ?6, ?6)",
        )
        .unwrap();
    let mut words = Words::new(0x9E37_79B9_7F4A_7C15);
    let mut last: Vec<Option<String>> = vec![None; bare_chats.len()];
    let started = Instant::now();
    for i in 0..MESSAGES {
        let c = i % bare_chats.len();
        let role = if (i / bare_chats.len()) % 2 == 0 { "user" } else { "assistant" };
        let id = MessageId::new().to_string();
        let now = jiff::Timestamp::now().as_millisecond();
        insert.execute((&id, bare_chats[c].to_string(), &last[c], role, words.text(), now)).unwrap();
        last[c] = Some(id);
    }
    let bare = started.elapsed();
    drop(insert);
    drop(conn);

    let (repo_rate, bare_rate) = (rate(MESSAGES, repository), rate(MESSAGES, bare));
    let ratio = repo_rate / bare_rate;
    println!("insert via repository  {repo_rate:>10.0} messages/s  ({:.2} s)", repository.as_secs_f64());
    println!("insert via bare INSERT {bare_rate:>10.0} messages/s  ({:.2} s)", bare.as_secs_f64());
    println!("ratio repository/bare  {ratio:>10.2}  (goal >= 0.50)");

    // Read latencies at 100,000 messages.
    if std::env::var_os("HEARTH_BENCH_KEEP").is_some() {
        return;
    }
    let list_samples: Vec<Duration> = (0..500)
        .map(|i| {
            let ws = workspaces[i % workspaces.len()];
            let t = Instant::now();
            let listed = store.read(|r| r.chats(ws, false)).unwrap();
            let took = t.elapsed();
            assert_eq!(listed.len(), CHATS_PER_WORKSPACE);
            took
        })
        .collect();
    // What people type: content words from common to rare, two-word queries, a word still being
    // typed (prefix), and the worst case, a stop word that matches almost every message.
    let vocabulary = Words::new(1).vocabulary;
    let queries: Vec<String> = vec![
        "rust".into(),
        "sourdough".into(),
        "embedd".into(),
        "violin chess".into(),
        "memory thread".into(),
        vocabulary[300].clone(),
        vocabulary[1_000].clone(),
        format!("{} {}", vocabulary[200], vocabulary[120]),
        vocabulary[2_500][..4].to_owned(),
        "the".into(),
    ];
    let search_samples: Vec<Duration> = (0..200)
        .map(|i| {
            let q = &queries[i % queries.len()];
            let t = Instant::now();
            let hits = store.read(|r| r.search(q, None, 20)).unwrap();
            let took = t.elapsed();
            assert!(!hits.is_empty(), "{q} finds something");
            took
        })
        .collect();
    let search_max = *search_samples.iter().max().unwrap();
    let (list, search) = (median(list_samples), median(search_samples));
    println!("chat list, median      {:>10.3} ms  (goal < 5 ms; {CHATS_PER_WORKSPACE} chats per workspace)", list.as_secs_f64() * 1e3);
    println!("FTS query, median      {:>10.3} ms  (goal < 20 ms; top 20, ranked, with snippets)", search.as_secs_f64() * 1e3);
    println!("FTS query, slowest     {:>10.3} ms  (\"the\": a stop word in nearly every message)", search_max.as_secs_f64() * 1e3);

    let figures = serde_json::json!({
        "messages": MESSAGES,
        "repository_inserts_per_s": repo_rate,
        "bare_inserts_per_s": bare_rate,
        "ratio": ratio,
        "chat_list_median_ms": list.as_secs_f64() * 1e3,
        "fts_query_median_ms": search.as_secs_f64() * 1e3,
        "fts_query_max_ms": search_max.as_secs_f64() * 1e3,
    });
    let out =
        std::env::var("HEARTH_BENCH_OUT").unwrap_or_else(|_| format!("{}/../../bench-results/store.json", env!("CARGO_MANIFEST_DIR")));
    if let Some(parent) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&out, serde_json::to_string_pretty(&figures).unwrap()).unwrap();
    println!("figures written to {out}");
}
