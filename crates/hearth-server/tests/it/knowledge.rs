//! Knowledge and jobs over HTTP: adding a folder queues a job (the app's runner would run it;
//! here the test runs it through Core), the job's state and events, search, removal, and the
//! refusals.

use std::sync::atomic::AtomicBool;

use hearth_types::{Handle, NewWorkspace};

use super::*;

#[tokio::test]
async fn a_folder_added_over_http_becomes_a_job_then_searchable_documents() {
    let core = Arc::new(Core::in_memory().unwrap());
    core.create_workspace(&NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap()).unwrap();
    let api = api_over(core.clone(), Arc::new(scripted()), ServerConfig::new(TOKEN));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garden.md"), "# Garden\n\n## Soil\nBlueberries want xylophage-free acidic soil.\n").unwrap();
    std::fs::write(dir.path().join("bad.txt"), b"\x00binary").unwrap();

    let folder = dir.path().display().to_string();
    let added = call(&api, "POST", "/api/v1/workspaces/notes/documents", Some(json!({ "paths": [folder] }))).await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
    let job = added.json();
    assert_eq!((job["kind"].as_str(), job["status"].as_str()), (Some("ingest"), Some("queued")));
    let id = job["id"].as_str().unwrap().to_owned();
    let listed = call(&api, "GET", "/api/v1/jobs", None).await.json();
    assert_eq!(listed[0]["id"].as_str(), Some(id.as_str()));

    // The app's runner would take it; here Core runs it.
    let job_id = hearth_types::JobId::parse_field(&id, "job_id").unwrap();
    let runner = core.clone();
    tokio::task::spawn_blocking(move || runner.run_job(job_id, &AtomicBool::new(false), &mut |_| {}).unwrap()).await.unwrap();

    let done = call(&api, "GET", &format!("/api/v1/jobs/{id}"), None).await.json();
    assert_eq!(done["status"].as_str(), Some("succeeded"), "{done}");
    assert_eq!(done["output"]["added"].as_u64(), Some(1));
    assert!(done["output"]["failed"][0]["error"].as_str().unwrap().starts_with("not a text file"), "{done}");

    // The event stream of a finished job is its last state, then the end.
    let events = call(&api, "GET", &format!("/api/v1/jobs/{id}/events"), None).await;
    assert_eq!(events.status, StatusCode::OK);
    let datas: Vec<Value> =
        events.body.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(datas.len(), 1, "{}", events.body);
    assert_eq!(datas[0]["status"].as_str(), Some("succeeded"));
    assert!(events.body.contains("event: job"));

    let docs = call(&api, "GET", "/api/v1/workspaces/notes/documents", None).await.json();
    assert_eq!(docs.as_array().unwrap().len(), 1);
    assert_eq!((docs[0]["title"].as_str(), docs[0]["format"].as_str()), (Some("Garden"), Some("markdown")));
    let hits = call(&api, "GET", "/api/v1/workspaces/notes/knowledge/search?q=xylophage", None).await.json();
    assert_eq!((hits[0]["title"].as_str(), hits[0]["heading"].as_str()), (Some("Garden"), Some("Garden > Soil")), "{hits}");

    // Cancelling a finished job leaves it as it is.
    let cancelled = call(&api, "POST", &format!("/api/v1/jobs/{id}/cancel"), None).await;
    assert_eq!((cancelled.status, cancelled.json()["status"].as_str()), (StatusCode::ACCEPTED, Some("succeeded")));

    let doc = docs[0]["id"].as_str().unwrap();
    assert_eq!(call(&api, "GET", &format!("/api/v1/documents/{doc}"), None).await.status, StatusCode::OK);
    assert_eq!(call(&api, "DELETE", &format!("/api/v1/documents/{doc}"), None).await.status, StatusCode::NO_CONTENT);
    check_error(&call(&api, "GET", &format!("/api/v1/documents/{doc}"), None).await, 404, "not_found");
    let hits = call(&api, "GET", "/api/v1/workspaces/notes/knowledge/search?q=xylophage", None).await.json();
    assert_eq!(hits, json!([]));
}

#[tokio::test]
async fn bad_knowledge_requests_are_refused_and_queue_nothing() {
    let core = Arc::new(Core::in_memory().unwrap());
    core.create_workspace(&NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap()).unwrap();
    let api = api_over(core.clone(), Arc::new(scripted()), ServerConfig::new(TOKEN));
    let relative = call(&api, "POST", "/api/v1/workspaces/notes/documents", Some(json!({ "paths": ["notes.md"] }))).await;
    check_error(&relative, 400, "invalid");
    assert_eq!(relative.json()["error"]["param"].as_str(), Some("paths"));
    check_error(&call(&api, "POST", "/api/v1/workspaces/notes/documents", Some(json!({ "paths": [] }))).await, 400, "invalid");
    check_error(&call(&api, "POST", "/api/v1/workspaces/notes/documents", Some(json!({ "files": ["/a"] }))).await, 400, "invalid");
    check_error(&call(&api, "POST", "/api/v1/workspaces/nowhere/documents", Some(json!({ "paths": ["/a.md"] }))).await, 404, "not_found");
    check_error(&call(&api, "GET", "/api/v1/jobs/not-a-uuid", None).await, 400, "invalid");
    check_error(&call(&api, "GET", &format!("/api/v1/jobs/{}", hearth_types::JobId::new()), None).await, 404, "not_found");
    check_error(&call(&api, "GET", "/api/v1/workspaces/notes/knowledge/search?q=%22%22", None).await, 400, "invalid");
    assert_eq!(call(&api, "GET", "/api/v1/jobs", None).await.json(), json!([]));
}

/// A Core over a data folder (uploads are kept there), with a workspace `notes`.
fn core_in(dir: &std::path::Path) -> Arc<Core> {
    let core = Core::open(&hearth_core::CoreConfig::new(dir), hearth_core::CoreServices::in_memory()).unwrap();
    core.create_workspace(&NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap()).unwrap();
    Arc::new(core)
}

async fn upload(api: &Api, workspace: &str, name: &str, body: impl Into<Body>) -> Answer {
    let path = format!("/api/v1/workspaces/{workspace}/documents/upload?name={}", urlencoding(name));
    send(api, request("POST", &path, None).header(header::CONTENT_TYPE, "application/octet-stream").body(body.into()).unwrap()).await
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn an_uploaded_file_is_kept_in_the_data_folder_and_read_by_a_job() {
    let data = tempfile::tempdir().unwrap();
    let core = core_in(data.path());
    let api = api_over(core.clone(), Arc::new(scripted()), ServerConfig::new(TOKEN));
    let ws = core.workspace(&"notes".parse().unwrap()).unwrap().id;

    let sent = upload(&api, "notes", "garden notes.md", "# Garden\n\nBlueberries want xylophage-free acidic soil.\n").await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let job = sent.json();
    let kept = data.path().join("knowledge").join(ws.to_string()).join("garden notes.md");
    assert_eq!(job["input"]["paths"], json!([kept.display().to_string()]));
    let job_id = hearth_types::JobId::parse_field(job["id"].as_str().unwrap(), "job_id").unwrap();
    let runner = core.clone();
    let done = tokio::task::spawn_blocking(move || runner.run_job(job_id, &AtomicBool::new(false), &mut |_| {}).unwrap()).await.unwrap();
    assert_eq!(done.output["added"].as_u64(), Some(1), "{:?}", done.output);
    let hits = call(&api, "GET", "/api/v1/workspaces/notes/knowledge/search?q=xylophage", None).await.json();
    assert_eq!(hits[0]["path"].as_str(), Some(kept.display().to_string().as_str()));

    // The same name again replaces the file.
    assert_eq!(upload(&api, "notes", "garden notes.md", "# Garden\n\nNow about voles.\n").await.status, StatusCode::ACCEPTED);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "# Garden\n\nNow about voles.\n");
    let knowledge = format!("knowledge/{ws}");
    assert_eq!(files_under(&data.path().join("knowledge")), [format!("{ws}/garden notes.md")], "no partial file is left: {knowledge}");
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing_behind() {
    let data = tempfile::tempdir().unwrap();
    let core = core_in(data.path());
    let api = api_over(core.clone(), Arc::new(scripted()), ServerConfig::new(TOKEN));
    for name in ["../escape.md", "a/b.md", ".hidden.md", "photo.jpg", "", "..", "x\\y.md"] {
        let refused = upload(&api, "notes", name, "# x\n").await;
        check_error(&refused, 400, "invalid");
        assert_eq!(refused.json()["error"]["param"].as_str(), Some("name"), "{name:?}: {}", refused.body);
    }
    check_error(&upload(&api, "nowhere", "a.md", "# x\n").await, 404, "not_found");
    // Past the largest file Hearth reads: refused while it streams, the partial file removed.
    let huge = vec![b'a'; hearth_core::MAX_FILE_BYTES as usize + 1];
    check_error(&upload(&api, "notes", "huge.txt", huge).await, 413, "too_large");
    let left = if data.path().join("knowledge").exists() { files_under(&data.path().join("knowledge")) } else { Vec::new() };
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(call(&api, "GET", "/api/v1/jobs", None).await.json(), json!([]), "nothing was queued");
    // A Core without a data folder keeps no files, and says so.
    let bare = super::api();
    call(&bare, "POST", "/api/v1/workspaces", Some(json!({ "name": "N", "handle": "n" }))).await;
    let refused = upload(&bare, "n", "a.md", "# x\n").await;
    check_error(&refused, 400, "invalid");
    assert!(refused.json()["error"]["message"].as_str().unwrap().contains("no data folder"), "{}", refused.body);
}

#[tokio::test]
async fn a_reply_in_a_workspace_with_documents_sends_its_citations_before_it_ends() {
    let core = Arc::new(Core::in_memory().unwrap());
    core.create_workspace(&NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garden.md"), "# Garden\n\n## Soil\nBlueberries want xylophage-free acidic soil.\n").unwrap();
    let job = core.add_knowledge(&"notes".parse().unwrap(), &[dir.path().to_owned()]).unwrap();
    core.run_job(job.id, &AtomicBool::new(false), &mut |_| {}).unwrap();
    let model = Arc::new(ScriptedModel::new(["Acidic", " [1]."]).only_model("m"));
    let api = api_over(core.clone(), model.clone(), ServerConfig::new(TOKEN));
    let chat = call(&api, "POST", "/api/v1/workspaces/notes/chats", Some(json!({ "title": "t", "model": "m" }))).await.json();
    let path = format!("/api/v1/chats/{}/messages", chat["id"].as_str().unwrap());
    let streamed = send(
        &api,
        request("POST", &path, None)
            .header(header::ACCEPT, "text/event-stream")
            .body(Body::from(json!({ "content": "What soil do xylophage-free blueberries want?" }).to_string()))
            .unwrap(),
    )
    .await;
    let events = parse_sse(&streamed.body);
    let names: Vec<&str> = events.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(names, ["message_start", "delta", "delta", "citations", "message_end"], "{}", streamed.body);
    let citations = &events[3].2["citations"];
    assert_eq!(citations[0]["n"], 1);
    assert_eq!((citations[0]["title"].as_str(), citations[0]["heading"].as_str()), (Some("Garden"), Some("Garden > Soil")));
    assert_eq!(citations[0]["cited"], true);
    assert!(citations[0]["snippet"].as_str().unwrap().contains("xylophage-free acidic soil"));
    assert_eq!(&events[4].2["message"]["citations"], citations, "the stored message has them too");
    // And a later read of the chat.
    let thread = call(&api, "GET", &path, None).await.json();
    assert_eq!(&thread["messages"][1]["citations"], citations);
    assert!(model.seen()[0].messages[0].content.contains("[1] Garden"), "the model was given the passage");
}
