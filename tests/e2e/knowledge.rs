//! Knowledge through the real binary: `hearth knowledge add` killed with SIGKILL mid-way
//! leaves its job `running`; `hearth serve`'s job runner finds it stale, queues it again and
//! resumes it, and the result has every document once, with no chunk twice.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use hearth_e2e::{Hearth, poll, serve};

const FILES: usize = 60;

#[test]
fn an_ingestion_killed_mid_way_resumes_in_the_app_with_no_duplicate_chunks() {
    let env = Hearth::new();
    env.json(&["workspaces", "create", "--name", "Notes", "--handle", "notes"]);
    let dir = tempfile::tempdir().unwrap();
    // About 1 MB each, so the job runs long enough to be killed part way.
    let filler = "Plain filler words about nothing in particular, repeated to make the file large.\n\n".repeat(12_000);
    for i in 0..FILES {
        std::fs::write(dir.path().join(format!("n{i:02}.md")), format!("# Note {i}\n\nsentinelword marker{i:02}\n\n{filler}")).unwrap();
    }
    let folder = dir.path().display().to_string();
    let mut child = env
        .command()
        .args(["knowledge", "add", &folder, "--workspace", "notes"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its progress lines read `[done/total] reading PATH`: kill it once five files are in.
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        let done = line.strip_prefix('[').and_then(|l| l.split('/').next()).and_then(|n| n.parse::<usize>().ok());
        if done.is_some_and(|d| d >= 5) {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let jobs = env.json(&["jobs", "list"]);
    let job = &jobs[0];
    assert_eq!(job["status"], "running", "killed mid-way, its row still says running: {job} (progress seen: {seen:?})");
    let done = job["done"].as_u64().unwrap();
    assert!((5..FILES as u64).contains(&done), "{job}");
    let id = job["id"].as_str().unwrap().to_owned();

    // The app's runner takes it back once its heartbeat is stale, and resumes it.
    let _served = serve(&env, "knowledge-test-token-0123456789abcdef");
    let job = poll(
        Duration::from_millis(250),
        Duration::from_secs(120),
        || env.json(&["jobs", "show", &id]),
        |j| j["status"] != "running" && j["status"] != "queued",
    );
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    let (added, unchanged) = (job["output"]["added"].as_u64().unwrap(), job["output"]["unchanged"].as_u64().unwrap());
    assert_eq!(added + unchanged, FILES as u64, "{job}");
    assert!(unchanged >= 5, "the files stored before the kill are not read again: {job}");

    let docs = env.json(&["knowledge", "list", "--workspace", "notes"]);
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), FILES);
    let chunks: Vec<u64> = docs.iter().map(|d| d["chunks"].as_u64().unwrap()).collect();
    assert!(chunks.iter().all(|&c| c == chunks[0] && c > 100), "same-size files, same chunks: {chunks:?}");
    // Each marker is in exactly one chunk: nothing was stored twice.
    for i in [0, 4, 5, FILES - 1] {
        let hits = env.json(&["knowledge", "search", &format!("marker{i:02}"), "--workspace", "notes"]);
        assert_eq!(hits.as_array().unwrap().len(), 1, "marker{i:02}: {hits}");
    }
    let all = env.json(&["knowledge", "search", "sentinelword", "--workspace", "notes", "--limit", "100"]);
    assert_eq!(all.as_array().unwrap().len(), FILES);
}

#[test]
fn adding_knowledge_reports_each_bad_file_and_keeps_the_rest() {
    let env = Hearth::new();
    env.json(&["workspaces", "create", "--name", "Notes", "--handle", "notes"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.md"), "# Good\nA fine note about quinces.\n").unwrap();
    std::fs::write(dir.path().join("fake.txt"), b"\x7fELF\x02\x01\x01\x00\x00binary").unwrap();
    let out =
        env.command().args(["--json", "knowledge", "add", &dir.path().display().to_string(), "--workspace", "notes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let job: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["output"]["added"], 1);
    let failed = &job["output"]["failed"][0];
    assert!(failed["path"].as_str().unwrap().ends_with("fake.txt"), "{job}");
    assert!(failed["error"].as_str().unwrap().starts_with("not a text file"), "{job}");
    let hits = env.json(&["knowledge", "search", "quinces", "--workspace", "notes"]);
    assert_eq!(hits[0]["title"], "Good");

    // Nothing readable at all: the job fails and the command says so with its exit code.
    let out = env
        .command()
        .args(["knowledge", "add", &dir.path().join("fake.txt").display().to_string(), "--workspace", "notes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(11), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no file could be added"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn with_the_embedding_model_set_up_the_cli_finds_passages_by_meaning() {
    let env = Hearth::new();
    env.json(&["workspaces", "create", "--name", "Notes", "--handle", "notes"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garden.md"), "# Garden\n\nBlueberries grow best in acidic soil.\n").unwrap();
    std::fs::write(dir.path().join("trains.md"), "# Trains\n\nThe night train to Vienna leaves at 21:40.\n").unwrap();
    env.json(&["knowledge", "add", &dir.path().display().to_string(), "--workspace", "notes"]);
    let question = "Which fruit bushes need sour earth?";
    let before = env.json(&["knowledge", "search", question, "--workspace", "notes"]);
    assert_eq!(before, serde_json::json!([]), "by words alone, nothing shares a word with the question");

    let installed = env.json(&["knowledge", "embedder", &hearth_e2e::embedder_dir().display().to_string()]);
    assert!(installed["path"].as_str().unwrap().ends_with("all-minilm-l6-v2.gguf"), "{installed}");
    // Adding again embeds what is there; then the question finds its passage.
    let job = env.json(&["knowledge", "add", &dir.path().display().to_string(), "--workspace", "notes"]);
    assert_eq!(job["output"]["updated"], 2, "{job}");
    let hits = env.json(&["knowledge", "search", question, "--workspace", "notes"]);
    assert_eq!(hits[0]["title"], "Garden", "{hits}");

    // A folder that is not the model is refused with the file it lacks.
    let bad = env.run(&["knowledge", "embedder", &dir.path().display().to_string()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("config.json"), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// One HTTP/1.1 request with a JSON body to a served Hearth: (status, JSON body).
fn post_json(base: &str, path: &str, token: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

#[test]
fn a_chat_is_given_its_workspaces_passages_and_the_embedding_model_answers_by_its_name() {
    let env = Hearth::with_default_model();
    env.json(&["workspaces", "create", "--name", "Notes", "--handle", "notes"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garden.md"), "# Garden\n\nBlueberries grow best in acidic soil.\n").unwrap();
    std::fs::write(dir.path().join("trains.md"), "# Trains\n\nThe night train to Vienna leaves at 21:40.\n").unwrap();
    env.json(&["knowledge", "embedder", &hearth_e2e::embedder_dir().display().to_string()]);
    env.json(&["knowledge", "add", &dir.path().display().to_string(), "--workspace", "notes"]);

    // The real chat model, with the passages found by meaning (no word in common).
    let question = "Which fruit bushes need sour earth?";
    let reply = env.json(&["chat", "--workspace", "notes", "--max-tokens", "24", "--seed", "7", question]);
    let citations = reply["answer"]["citations"].as_array().unwrap();
    assert_eq!(citations[0]["n"], 1);
    assert_eq!(citations[0]["title"], "Garden", "{reply}");
    assert!(citations[0]["snippet"].as_str().unwrap().contains("acidic soil"), "{reply}");
    assert_eq!(reply["answer"]["status"], "complete");
    // Printed after the answer, for a person.
    let chat = reply["chat_id"].as_str().unwrap();
    let out = env.run(&["chat", "--chat", chat, "--max-tokens", "8", "--seed", "7", question]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("[1] Garden (") && l.contains("garden.md")), "{stderr}");

    // `/v1/embeddings` serves the same model by its name.
    let token = "knowledge-embed-token-0123456789abcdef";
    let served = serve(&env, token);
    let (status, body) = post_json(
        &served.url,
        "/v1/embeddings",
        token,
        &serde_json::json!({ "model": "all-minilm-l6-v2", "input": ["sour earth", "acidic soil", "a night train"] }),
    );
    assert_eq!(status, 200, "{body}");
    let vectors: Vec<Vec<f32>> =
        body["data"].as_array().unwrap().iter().map(|d| serde_json::from_value(d["embedding"].clone()).unwrap()).collect();
    assert_eq!(vectors.iter().map(Vec::len).collect::<Vec<_>>(), [384, 384, 384]);
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let (near, far) = (dot(&vectors[0], &vectors[1]), dot(&vectors[0], &vectors[2]));
    assert!(near > far, "two phrases that mean the same are nearer than an unrelated one: {near} vs {far}");
}
