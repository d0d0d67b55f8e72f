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
