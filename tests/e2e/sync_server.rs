//! Hearth's server schema (`migrations/supabase/`) on real PostgreSQL through a
//! PostgREST-compatible server, with Supabase-style roles, JWTs and row-level security:
//! users are walled off from each other, pushes are idempotent per device, one bad
//! transaction is rejected alone, and fields merge by their clocks with losers kept.

use hearth_e2e::testbed::{TestBed, psql};
use serde_json::{Value, json};

const WS: &str = "01a20000-0000-7000-8000-000000000001";

fn push(bed: &TestBed, token: &str, client: &str, txs: Value) -> Value {
    let (status, body) = bed.post("/rpc/sync_push", token, &json!({ "p_client_id": client, "p_schema_version": 1, "p_txs": txs }));
    assert_eq!(status, 200, "{body}");
    body
}

fn workspace_tx(seq: u64, name: &str, hlc: &str) -> Value {
    json!({ "tx_seq": seq, "ops": [{ "table": "workspaces", "row": {
        "id": WS, "name": name, "handle": "home", "field_hlc": { "name": hlc, "handle": hlc } } }] })
}

fn statuses(result: &Value) -> Vec<&str> {
    result["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect()
}

#[test]
fn users_cannot_read_overwrite_or_adopt_each_others_rows() {
    let bed = TestBed::start();
    let (_, a) = bed.user();
    let (_, b) = bed.user();
    let pushed = push(&bed, &a, "aaaaaaaa-0000-4000-8000-000000000001", json!([workspace_tx(1, "Mine", "1763840000000:00000:ab")]));
    assert_eq!(statuses(&pushed), ["applied"]);

    assert_eq!(bed.get("/workspaces", &b), (200, json!([])), "B reads nothing of A's");
    let (_, page) = bed.post("/rpc/sync_pull", &b, &json!({ "p_since_version": 0 }));
    assert_eq!(page["rows"], json!([]), "B pulls nothing of A's");
    // B pushes a row with A's id: refused by row-level security, reported for that tx alone.
    let adopted = push(&bed, &b, "bbbbbbbb-0000-4000-8000-000000000001", json!([workspace_tx(1, "Stolen", "1763840000001:00000:cd")]));
    assert_eq!(statuses(&adopted), ["rejected"]);
    assert_eq!(adopted["results"][0]["sqlstate"], "42501");
    // A plain PATCH through the REST surface touches nothing.
    bed.patch(&format!("/workspaces?id=eq.{WS}"), &b, &json!({ "name": "Overwritten" }));
    let (_, mine) = bed.get("/workspaces?select=name,user_id", &a);
    assert_eq!(mine[0]["name"], "Mine");
    // Deleting is not granted at all: tombstones only.
    let rows = psql(&bed.database, &["-c", "select count(*) from public.workspaces"]);
    assert_eq!(rows.trim(), "1");
}

#[test]
fn workflows_are_each_users_own_too() {
    let bed = TestBed::start();
    let (_, a) = bed.user();
    let (_, b) = bed.user();
    let id = "01a20000-0000-7000-8000-0000000000f1";
    let graph = json!({"nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}}], "edges": []});
    let workflow = |seq: i64, name: &str, stamp: &str| {
        json!({ "tx_seq": seq, "ops": [{ "table": "workflows", "row": {
            "id": id, "name": name, "description": "", "graph": graph,
            "field_hlc": { "name": stamp, "description": stamp, "graph": stamp } } }] })
    };
    let pushed = push(&bed, &a, "aaaaaaaa-0000-4000-8000-0000000000f1", json!([workflow(1, "Mine", "1763840000000:00000:ab")]));
    assert_eq!(statuses(&pushed), ["applied"]);
    let (_, page) = bed.post("/rpc/sync_pull", &a, &json!({ "p_since_version": 0 }));
    assert_eq!((page["rows"][0]["t"].as_str(), page["rows"][0]["r"]["graph"].clone()), (Some("workflows"), graph.clone()));

    assert_eq!(bed.get("/workflows", &b), (200, json!([])), "B reads nothing of A's");
    let (_, page) = bed.post("/rpc/sync_pull", &b, &json!({ "p_since_version": 0 }));
    assert_eq!(page["rows"], json!([]), "B pulls nothing of A's");
    let adopted = push(&bed, &b, "bbbbbbbb-0000-4000-8000-0000000000f1", json!([workflow(1, "Stolen", "1763840000001:00000:cd")]));
    assert_eq!(statuses(&adopted), ["rejected"]);
    bed.patch(&format!("/workflows?id=eq.{id}"), &b, &json!({ "name": "Overwritten" }));
    let (_, mine) = bed.get("/workflows?select=name", &a);
    assert_eq!(mine[0]["name"], "Mine");
}

#[test]
fn pushes_are_idempotent_per_device_and_a_bad_transaction_is_rejected_alone() {
    let bed = TestBed::start();
    let (_, a) = bed.user();
    let device = "aaaaaaaa-0000-4000-8000-000000000002";
    let bad = json!({ "tx_seq": 2, "ops": [{ "table": "nope", "row": { "id": WS } }] });
    let chat = json!({ "tx_seq": 3, "ops": [{ "table": "chats", "row": {
        "id": "01a20000-0000-7000-8000-0000000000c1", "workspace_id": WS, "title": "Hi",
        "field_hlc": { "title": "1763840000002:00000:ab", "workspace_id": "1763840000002:00000:ab" } } }] });
    let first = push(&bed, &a, device, json!([workspace_tx(1, "Home", "1763840000000:00000:ab"), bad, chat]));
    assert_eq!(statuses(&first), ["applied", "rejected", "applied"]);
    assert_eq!(first["acked_tx_seq"], 3);
    // The response was lost and the batch is sent again: nothing is applied twice.
    let again = push(&bed, &a, device, json!([workspace_tx(1, "Home", "1763840000000:00000:ab"), chat]));
    assert_eq!(statuses(&again), ["duplicate", "duplicate"]);
    let (_, page) = bed.post("/rpc/sync_pull", &a, &json!({ "p_since_version": 0 }));
    let tables: Vec<&str> = page["rows"].as_array().unwrap().iter().map(|r| r["t"].as_str().unwrap()).collect();
    assert_eq!(tables, ["workspaces", "chats"]);
    assert_eq!(page["has_more"], false);
}

#[test]
fn fields_merge_by_clock_and_losing_values_are_kept() {
    let bed = TestBed::start();
    let (user, a) = bed.user();
    push(&bed, &a, "aaaaaaaa-0000-4000-8000-000000000003", json!([workspace_tx(1, "Newer", "1763840000500:00000:aa")]));
    // Another device wrote earlier (an older clock), but its push arrives later: it loses.
    let late = push(&bed, &a, "aaaaaaaa-0000-4000-8000-000000000004", json!([workspace_tx(1, "Older", "1763840000100:00000:bb")]));
    assert_eq!(statuses(&late), ["applied"]);
    let (_, rows) = bed.get("/workspaces?select=name", &a);
    assert_eq!(rows[0]["name"], "Newer");
    let kept = psql(
        &bed.database,
        &["-c", &format!("select losing_value #>> '{{}}' from sync.conflict where user_id = '{user}' and field = 'name'")],
    );
    assert_eq!(kept.trim(), "Older");
    // A clock far in the future is clamped to the server's now + 5 minutes, so it cannot win forever.
    push(&bed, &a, "aaaaaaaa-0000-4000-8000-000000000003", json!([workspace_tx(2, "Future", "9999999999999:00000:aa")]));
    let stamp = psql(&bed.database, &["-c", "select field_hlc ->> 'name' from public.workspaces"]);
    let ms: u64 = stamp.trim().split(':').next().unwrap().parse().unwrap();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(ms <= now_ms + 300_000 + 5_000, "clamped: {stamp}");
}

#[test]
fn a_malformed_clock_stamp_is_refused_with_its_field() {
    let bed = TestBed::start();
    let (_, a) = bed.user();
    let device = "aaaaaaaa-0000-4000-8000-000000000007";
    let bad = json!({ "tx_seq": 1, "ops": [{ "table": "workspaces", "row": {
        "id": WS, "name": "X", "handle": "x", "field_hlc": { "name": "yesterday", "handle": "1763840000000:00000:ab" } } }] });
    let result = push(&bed, &a, device, json!([bad, workspace_tx(2, "Fine", "1763840000000:00000:ab")]));
    assert_eq!(statuses(&result), ["rejected", "applied"]);
    assert_eq!(result["results"][0]["sqlstate"], "22023");
    assert_eq!(result["results"][0]["message"], "bad HLC yesterday for name");
}

/// A workspace, a chat and a message push for the tree tests.
fn message_op(id: &str, parent: Option<&str>, stamp: &str) -> Value {
    json!({ "table": "messages", "row": {
        "id": id, "chat_id": "01a20000-0000-7000-8000-0000000000c9", "parent_id": parent, "role": "user", "content": id,
        "field_hlc": { "chat_id": stamp, "parent_id": stamp, "role": stamp, "content": stamp } } })
}

#[test]
fn the_chat_tree_cannot_loop_by_push_or_by_patch() {
    let bed = TestBed::start();
    let (_, a) = bed.user();
    let device = "aaaaaaaa-0000-4000-8000-0000000000e1";
    let chat = json!({ "tx_seq": 2, "ops": [{ "table": "chats", "row": {
        "id": "01a20000-0000-7000-8000-0000000000c9", "workspace_id": WS, "title": "Tree",
        "field_hlc": { "title": "1763840000001:00000:ab", "workspace_id": "1763840000001:00000:ab" } } }] });
    let (q, r, x, y) = (
        "01a20000-0000-7000-8000-0000000000d1",
        "01a20000-0000-7000-8000-0000000000d2",
        "01a20000-0000-7000-8000-0000000000d3",
        "01a20000-0000-7000-8000-0000000000d4",
    );
    let stamp = "1763840000002:00000:ab";
    let txs = json!([
        workspace_tx(1, "Home", "1763840000000:00000:ab"),
        chat,
        { "tx_seq": 3, "ops": [message_op(q, None, stamp), message_op(r, Some(q), stamp)] },
        // Names itself.
        { "tx_seq": 4, "ops": [message_op(x, Some(x), stamp)] },
        // y arrives with a parent not there yet (allowed: devices push in any order) ...
        { "tx_seq": 5, "ops": [message_op(y, Some(x), stamp)] },
        // ... and x, written under y, would close the loop.
        { "tx_seq": 6, "ops": [message_op(x, Some(y), stamp)] },
        // The root moved under its own reply, with a newer stamp.
        { "tx_seq": 7, "ops": [message_op(q, Some(r), "1763840000009:00000:ab")] },
    ]);
    let result = push(&bed, &a, device, txs);
    assert_eq!(statuses(&result), ["applied", "applied", "applied", "rejected", "applied", "rejected", "rejected"], "{result}");
    for i in [3, 5, 6] {
        assert_eq!(result["results"][i]["sqlstate"], "23514", "{result}");
    }
    assert!(result["results"][3]["message"].as_str().unwrap().contains("own parent"), "{result}");
    assert!(result["results"][5]["message"].as_str().unwrap().contains("cycle"), "{result}");
    assert!(result["results"][6]["message"].as_str().unwrap().contains("cannot change"), "{result}");

    // A direct PATCH with the user's own session fails the same way.
    let (status, body) =
        bed.patch(&format!("/messages?id=eq.{q}"), &a, &json!({ "parent_id": r, "field_hlc": { "parent_id": "1763840000010:00000:ab" } }));
    assert!(status >= 400, "{status} {body}");
    assert!(body.to_string().contains("cannot change"), "{body}");
    let parent = psql(&bed.database, &["-c", &format!("select coalesce(parent_id::text, 'none') from public.messages where id = '{q}'")]);
    assert_eq!(parent.trim(), "none");
    // Nor may a message move to another chat.
    let other = json!({ "tx_seq": 8, "ops": [{ "table": "chats", "row": {
        "id": "01a20000-0000-7000-8000-0000000000ca", "workspace_id": WS, "title": "Other",
        "field_hlc": { "title": "1763840000011:00000:ab", "workspace_id": "1763840000011:00000:ab" } } }] });
    let moved = json!({ "tx_seq": 9, "ops": [{ "table": "messages", "row": {
        "id": r, "chat_id": "01a20000-0000-7000-8000-0000000000ca", "field_hlc": { "chat_id": "1763840000012:00000:ab" } } }] });
    let result = push(&bed, &a, device, json!([other, moved]));
    assert_eq!(statuses(&result), ["applied", "rejected"], "{result}");
    assert!(result["results"][1]["message"].as_str().unwrap().contains("chat_id cannot change"), "{result}");
}

/// Documents are each user's own, their outline must be a list, and a pull page ends before
/// it passes about 8 MB (at least one row), so a project full of long documents never
/// answers with gigabytes at once.
#[test]
fn documents_are_each_users_own_and_pull_pages_stay_near_eight_megabytes() {
    let bed = TestBed::start();
    let (_, a) = bed.user();
    let (_, b) = bed.user();
    assert_eq!(
        statuses(&push(&bed, &a, "aaaaaaaa-0000-4000-8000-0000000000d1", json!([workspace_tx(1, "Home", "1763840000000:00000:ab")]))),
        ["applied"]
    );
    let text = "word ".repeat(600_000); // 3 MB
    let document = |seq: i64, n: u32, outline: Value| {
        let stamp = "1763840000001:00000:ab";
        json!({ "tx_seq": seq, "ops": [{ "table": "documents", "row": {
            "id": format!("01a20000-0000-7000-8000-0000000000d{n}"), "workspace_id": WS, "path": format!("/notes/{n}.txt"),
            "title": "Notes", "format": "text", "sha256": "00", "size": text.len(), "text": text, "outline": outline,
            "field_hlc": { "workspace_id": stamp, "path": stamp, "title": stamp, "format": stamp, "sha256": stamp, "size": stamp,
                           "text": stamp, "outline": stamp } } }] })
    };
    let outline = json!([{ "heading": "", "page": null, "start": 0, "end": 5 }]);
    let txs: Vec<Value> = (1..=4).map(|n| document(1 + n as i64, n, outline.clone())).collect();
    let pushed = push(&bed, &a, "aaaaaaaa-0000-4000-8000-0000000000d1", Value::Array(txs));
    assert_eq!(statuses(&pushed), ["applied"; 4]);
    let bad = push(&bed, &a, "aaaaaaaa-0000-4000-8000-0000000000d1", json!([document(6, 5, json!({ "not": "a list" }))]));
    assert_eq!(statuses(&bad), ["rejected"]);

    // The workspace and three documents (9 MB in all, the third starting below 8 MB), then
    // the fourth on the next page.
    let (_, page) = bed.post("/rpc/sync_pull", &a, &json!({ "p_since_version": 0 }));
    let tables: Vec<&str> = page["rows"].as_array().unwrap().iter().map(|r| r["t"].as_str().unwrap()).collect();
    assert_eq!(tables, ["workspaces", "documents", "documents", "documents"]);
    assert_eq!(page["has_more"], true);
    let next = &page["next"];
    let (_, rest) = bed.post("/rpc/sync_pull", &a, &json!({ "p_since_version": next["version"], "p_since_id": next["id"] }));
    assert_eq!(rest["rows"].as_array().unwrap().len(), 1);
    assert_eq!(rest["rows"][0]["r"]["path"], "/notes/4.txt");
    assert_eq!(rest["has_more"], false);

    assert_eq!(bed.get("/documents?select=id", &b), (200, json!([])), "B reads nothing of A's");
    let (_, theirs) = bed.post("/rpc/sync_pull", &b, &json!({ "p_since_version": 0 }));
    assert_eq!(theirs["rows"], json!([]));
}
