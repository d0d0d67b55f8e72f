# Workflows through the HTTP API with real clients: CRUD, validation and import problems,
# runs on the real default model followed over SSE (resumed with Last-Event-ID), cancel,
# code nodes that try to escape or explode (the server carries on), the http node against
# a local test server (a dead address, a huge answer, a slow one), a workflow as an OpenAI
# model through the openai SDK, and a run whose server was killed.

from __future__ import annotations

import http.server
import json
import signal
import socket
import threading
import time

import httpx
import openai
import pytest

from conftest import assert_error, parse_sse, read_sse


def start_node(inputs=None):
    return {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "config": {"inputs": inputs or []}}


def node(id, kind, config, x=260):
    return {"id": id, "type": kind, "position": {"x": x, "y": 0}, "config": config}


def edge(source, target, handle=None):
    e = {"id": f"{source}-{target}", "source": source, "target": target}
    if handle:
        e["sourceHandle"] = handle
    return e


def chain(*steps, inputs=None, outputs=None):
    """start -> steps... -> out, each step a node."""
    nodes = [start_node(inputs)] + list(steps) + [node("out", "output", {"outputs": outputs or {"x": "1"}}, x=900)]
    ids = [n["id"] for n in nodes]
    return {"nodes": nodes, "edges": [edge(a, b) for a, b in zip(ids, ids[1:])]}


def create(http, name, graph):
    r = http.post("/api/v1/workflows", json={"name": name, **graph})
    assert r.status_code == 201, r.text
    return r.json()


def run_wait(http, workflow_id, inputs=None):
    r = http.post(f"/api/v1/workflows/{workflow_id}/runs", json={"inputs": inputs or {}, "wait": True})
    assert r.status_code == 200, r.text
    return r.json()


def events(http, run_id, **headers):
    with http.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers) as r:
        return read_sse(r)


ASK = node("ask", "llm", {"prompt_template": "Say something about {{#start.topic#}}.", "max_tokens": 12, "temperature": 0})
TOPIC = [{"name": "topic", "type": "string", "required": True}]


def test_a_workflow_is_created_changed_exported_and_deleted(http):
    graph = chain(node("v", "variable", {"variables": [{"name": "up", "value": "{{#start.topic#}}", "transform": "upper"}]}),
                  inputs=TOPIC, outputs={"up": "{{#v.up#}}"})
    w = create(http, "Shout", graph)
    assert w["nodes"] == graph["nodes"] and w["edges"] == graph["edges"] and w["description"] == ""
    assert http.get(f"/api/v1/workflows/{w['id']}").json() == w
    assert any(x["id"] == w["id"] for x in http.get("/api/v1/workflows").json())

    changed = http.patch(f"/api/v1/workflows/{w['id']}", json={"name": "Shout louder", "description": "caps"}).json()
    assert (changed["name"], changed["description"], changed["nodes"]) == ("Shout louder", "caps", graph["nodes"])

    r = http.get(f"/api/v1/workflows/{w['id']}/export")
    assert r.status_code == 200 and 'filename="Shout-louder.json"' in r.headers["content-disposition"]
    assert r.json() == {"name": "Shout louder", "description": "caps", "nodes": graph["nodes"], "edges": graph["edges"]}
    # What export writes, import reads back as the same workflow.
    again = http.post("/api/v1/workflows/import", json=r.json(), params={"name": "Copy"})
    assert again.status_code == 201, again.text
    assert (again.json()["name"], again.json()["nodes"], again.json()["edges"]) == ("Copy", graph["nodes"], graph["edges"])

    run = run_wait(http, w["id"], {"topic": "tide"})
    assert (run["status"], run["outputs"]) == ("succeeded", {"up": "TIDE"})

    assert http.delete(f"/api/v1/workflows/{w['id']}").status_code == 204
    assert_error(http.get(f"/api/v1/workflows/{w['id']}"), 404, "not_found", "workflow_id")
    # Its runs stay on record.
    assert http.get(f"/api/v1/runs/{run['id']}").json()["status"] == "succeeded"


def test_validation_names_every_problem(http):
    graph = {
        "nodes": [start_node(), node("a", "teleport", {}), node("b", "variable", {"variables": [{"name": "x", "value": "{{#ghost.y#}}"}]}),
                  node("c", "llm", {}), node("d", "variable", {"variables": [{"name": "x", "value": 1}]})],
        "edges": [edge("start", "a"), edge("start", "b"), edge("b", "c"), edge("c", "d"), edge("d", "c"), edge("b", "nowhere")],
    }
    r = http.post("/api/v1/workflows/validate", json=graph)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is False
    found = {(p["node_id"], p["edge_id"]) for p in body["problems"]}
    assert {("a", None), ("b", None), ("c", None), ("d", None), (None, "b-nowhere")} <= found, body
    text = json.dumps(body["problems"])
    for piece in ["unknown node type \\\"teleport\\\"", "missing node \\\"ghost\\\"", "prompt_template is required", "cycle", "missing node \\\"nowhere\\\""]:
        assert piece in text, (piece, text)
    assert http.post("/api/v1/workflows/validate", json=chain()).json() == {"valid": True, "problems": []}


def test_import_refuses_bad_definitions_with_every_problem(http):
    r = http.post("/api/v1/workflows/import", content=b'{"nodes": [', headers={"content-type": "application/json"})
    assert_error(r, 400, "invalid")
    cyclic = {"nodes": [{"id": "s", "type": "start"}, {"id": "a", "type": "variable", "config": {"variables": [{"name": "x", "value": 1}]}},
                        {"id": "b", "type": "zap"}],
              "edges": [{"source": "s", "target": "a"}, {"source": "a", "target": "a"}, {"source": "a", "target": "b"}]}
    error = assert_error(http.post("/api/v1/workflows/import", json=cyclic), 400, "invalid_workflow")
    assert {p["node_id"] for p in error["problems"]} >= {"a", "b"}, error
    assert "cycle" in error["message"] and "zap" in error["message"], error
    assert_error(http.post("/api/v1/workflows/import", json=[1, 2]), 400, "invalid_workflow")
    # Nothing was stored.
    assert not [w for w in http.get("/api/v1/workflows").json() if w["name"] == "Imported workflow"]


def test_the_simple_format_runs_on_the_model_and_streams_resumable_events(http):
    simple = {"nodes": [{"id": "s", "type": "start"},
                        {"id": "ask", "type": "llm", "config": {"prompt_template": "Tell me about {input}.", "max_tokens": 16, "temperature": 0}},
                        {"id": "o", "type": "output"}],
              "edges": [{"source": "s", "target": "ask"}, {"source": "ask", "target": "o"}]}
    r = http.post("/api/v1/workflows/import", json=simple, params={"name": "Simple"})
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["nodes"][0]["config"]["inputs"] == [{"name": "input", "type": "string", "required": True}]

    started = http.post(f"/api/v1/workflows/{w['id']}/runs", json={"inputs": {"input": "rivers"}})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] == "running" and run["inputs"] == {"input": "rivers"}

    live = events(http, run["id"])
    seqs = [int(e.id) for e in live]
    assert seqs == list(range(1, len(live) + 1)), seqs
    names = [e.event for e in live]
    assert names[0] == "run_started" and names[-1] == "run_finished", names
    assert all(e.json()["type"] == e.event and e.json()["seq"] == int(e.id) and e.json()["run_id"] == run["id"] for e in live)
    assert names.count("node_started") == 3 and names.count("node_finished") == 3, names
    assert "text_chunk" in names, names
    chunks = "".join(e.json()["text"] for e in live if e.event == "text_chunk")

    detail = http.get(f"/api/v1/runs/{run['id']}").json()
    assert detail["status"] == "succeeded", detail
    ask = next(n for n in detail["nodes"] if n["node_id"] == "ask")
    assert ask["outputs"]["text"] == chunks and chunks.strip()
    assert detail["outputs"] == {"text": chunks}
    assert ask["prompt_tokens"] > 0 and ask["completion_tokens"] > 0 and ask["inputs"]["prompt"] == "Tell me about rivers."
    assert detail["prompt_tokens"] == ask["prompt_tokens"] and detail["steps"] == 3

    # Resuming: after a given event, by header or by query; the replay is the same log.
    assert [e.data for e in events(http, run["id"], **{"Last-Event-ID": "2"})] == [e.data for e in live[2:]]
    with http.stream("GET", f"/api/v1/runs/{run['id']}/events", params={"after": len(live) - 1}) as r:
        assert [e.event for e in read_sse(r)] == ["run_finished"]
    assert [r["id"] for r in http.get(f"/api/v1/workflows/{w['id']}/runs").json()][0] == run["id"]


def test_a_run_can_be_cancelled_inside_the_model_stream(http):
    w = create(http, "Long", chain(node("ask", "llm", {"prompt_template": "Write a very long story.", "max_tokens": 2000, "temperature": 0.7}),
                                  outputs={"t": "{{#ask.text#}}"}))
    run = http.post(f"/api/v1/workflows/{w['id']}/runs", json={}).json()
    with http.stream("GET", f"/api/v1/runs/{run['id']}/events") as r:
        for e in parse_sse(r.iter_lines()):
            if e.event == "text_chunk":
                break
    assert http.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 202
    last = events(http, run["id"])[-1].json()
    assert (last["type"], last["status"], last["error"]) == ("run_finished", "cancelled", "cancelled")
    detail = http.get(f"/api/v1/runs/{run['id']}").json()
    ask = next(n for n in detail["nodes"] if n["node_id"] == "ask")
    assert (detail["status"], ask["status"]) == ("cancelled", "cancelled")
    assert [n["node_id"] for n in detail["nodes"]] == ["start", "ask"], "the output never started"
    # Cancelling a finished run changes nothing.
    assert http.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 202
    assert http.get(f"/api/v1/runs/{run['id']}").json()["status"] == "cancelled"


@pytest.mark.parametrize("code,config,expected", [
    ("function main() { while (true) {} }", {"timeout_ms": 500}, "longer than its 500 ms limit"),
    ("function main() { const a = []; while (true) a.push(new Array(100000).fill(1)); }", {"memory_mb": 16}, "more than its 16 MiB memory limit"),
    ("function main() { return main(); }", {}, "stack"),
    ("function main() { return require('fs').readFileSync('/etc/passwd'); }", {}, "ReferenceError"),
    ("function main() { return fetch('http://127.0.0.1/'); }", {}, "ReferenceError"),
    ("function main() { process.exit(1); }", {}, "ReferenceError"),
    ("async function main() { return await import('os'); }", {}, "could not load module"),
    ("function main() { throw new Error('on purpose'); }", {}, "main threw: Error: on purpose"),
    ("function main() { return 42; }", {}, "plain object"),
])
def test_code_that_escapes_or_explodes_fails_its_node_and_the_server_carries_on(http, hearth, code, config, expected):
    w = create(http, "Bomb", chain(node("js", "code", {"code": code, **config})))
    run = run_wait(http, w["id"])
    js = next(n for n in run["nodes"] if n["node_id"] == "js")
    assert (run["status"], js["status"]) == ("failed", "failed"), run
    assert expected in js["error"], js["error"]
    # The server is unaffected: healthy, and code runs fine right after.
    assert httpx.get(hearth.base_url + "/health").status_code == 200
    ok = create(http, "Fine", chain(node("js", "code", {"code": "function main(i) { return {sum: i.a + i.b, s: 'ok'}; }", "inputs": {"a": 2, "b": "{{#start.n#}}"}}),
                                   inputs=[{"name": "n", "type": "number", "required": True}], outputs={"sum": "{{#js.sum#}}"}))
    assert run_wait(http, ok["id"], {"n": "40"})["outputs"] == {"sum": 42}


class Site(http.server.BaseHTTPRequestHandler):
    """A local test server: JSON, a 2 MiB answer and a slow one."""

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        if self.path.startswith("/json"):
            body = json.dumps({"path": self.path, "auth": self.headers.get("X-Key"), "items": [{"name": "first"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        elif self.path == "/big":
            body = b"x" * (2 << 20)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
        elif self.path == "/hop":
            # Same origin: followed.
            body = b""
            self.send_response(302)
            self.send_header("Location", "/json?from=hop")
        elif self.path.startswith("/away"):
            # Another origin (localhost is not 127.0.0.1): not followed, so a node's headers
            # never travel to a host they were not meant for.
            body = b""
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/json")
        elif self.path == "/slow":
            time.sleep(3)
            body = b"late"
            self.send_response(200)
        else:
            body = b"nope"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):  # noqa: N802
        # The headers of /big's GET, with no body.
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(2 << 20))
        self.end_headers()

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"got": body.decode()}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def http_flow(http, config, outputs=None, allow_local=True):
    """A workflow of one http node; the test site is on loopback, so the node opts in to
    local addresses unless told otherwise."""
    config = {"allow_local": True, **config} if allow_local else config
    return create(http, "Fetch", chain(node("h", "http", config), inputs=[{"name": "q", "type": "string"}],
                                       outputs=outputs or {"status": "{{#h.status#}}"}))


def test_the_http_node_calls_a_local_server(http, site):
    w = http_flow(http, {"url": site + "/json?q={{#start.q#}}", "headers": {"X-Key": "k-{{#start.q#}}"}},
                  {"status": "{{#h.status#}}", "name": "{{#h.body.items.0.name#}}", "auth": "{{#h.body.auth#}}", "type": "{{#h.headers.content-type#}}"})
    run = run_wait(http, w["id"], {"q": "tide"})
    assert run["outputs"] == {"status": 200, "name": "first", "auth": "k-tide", "type": "application/json"}, run
    h = next(n for n in run["nodes"] if n["node_id"] == "h")
    assert h["inputs"]["url"] == site + "/json?q=tide" and h["inputs"]["headers"] == ["X-Key"], "header values are not recorded"
    post = http_flow(http, {"method": "POST", "url": site + "/echo", "body": "{\"q\": \"{{#start.q#}}\"}"}, {"got": "{{#h.body.got#}}", "status": "{{#h.status#}}"})
    assert run_wait(http, post["id"], {"q": "x"})["outputs"] == {"got": "{\"q\": \"x\"}", "status": 201}


def test_a_header_names_a_keychain_secret_that_never_reaches_the_definition(http, site):
    origin = site.split("/", 3)[0] + "//" + site.split("/", 3)[2]
    set_ = http.put("/api/v1/secrets/SITE_KEY", json={"value": "s3cret-value", "origin": site + "/anything"})
    assert set_.status_code == 200 and set_.json() == {"name": "SITE_KEY", "origin": origin}, set_.text
    assert {"name": "SITE_KEY", "origin": origin} in http.get("/api/v1/secrets").json()["secrets"]
    w = http_flow(http, {"url": site + "/json", "headers": {"X-Key": "{{secret:SITE_KEY}}"}},
                  {"auth": "{{#h.body.auth#}}"})
    run = run_wait(http, w["id"])
    assert run["outputs"] == {"auth": "s3cret-value"}, "the site received the secret"
    assert "s3cret-value" not in http.get(f"/api/v1/workflows/{w['id']}").text
    h = next(n for n in run["nodes"] if n["node_id"] == "h")
    assert h["inputs"]["headers"] == ["X-Key"]
    assert http.delete("/api/v1/secrets/SITE_KEY").status_code == 204
    assert http.delete("/api/v1/secrets/SITE_KEY").status_code == 404
    gone = run_wait(http, w["id"])
    assert gone["status"] == "failed" and 'the secret "SITE_KEY" is not set' in gone["error"], gone
    assert http.put("/api/v1/secrets/bad name", json={"value": "x", "origin": origin}).status_code == 400
    assert http.put("/api/v1/secrets/OK", json={"value": "x", "origin": "not a url"}).status_code == 400


def test_the_http_node_follows_redirects_only_within_its_origin_and_hides_secrets(http, site):
    hop = run_wait(http, http_flow(http, {"url": site + "/hop"}, {"status": "{{#h.status#}}", "path": "{{#h.body.path#}}"})["id"])
    assert hop["outputs"] == {"status": 200, "path": "/json?from=hop"}, hop
    away = run_wait(http, http_flow(http, {"url": site + "/away", "headers": {"X-Key": "sk-secret"}},
                                    {"status": "{{#h.status#}}", "to": "{{#h.headers.location#}}"})["id"])
    assert away["outputs"]["status"] == 302 and away["outputs"]["to"].startswith("http://localhost:"), away
    head = run_wait(http, http_flow(http, {"method": "HEAD", "url": site + "/big", "max_response_bytes": 1024},
                                    {"status": "{{#h.status#}}"})["id"])
    assert head["outputs"] == {"status": 200}, head
    # Credentials in the URL stay out of the record and the error.
    port = site.rsplit(":", 1)[1]
    leaky = run_wait(http, http_flow(http, {"url": f"http://ann:hunter2@127.0.0.1:{port}/json?api_key=sk-123&q=tide"},
                                     {"status": "{{#h.status#}}"})["id"])
    h = next(n for n in leaky["nodes"] if n["node_id"] == "h")
    assert h["inputs"]["url"] == f"http://127.0.0.1:{port}/json?api_key=REDACTED&q=tide", h["inputs"]
    dead = run_wait(http, http_flow(http, {"url": dead_address().replace("http://", "http://ann:hunter2@") + "?token=sk-9"})["id"])
    error = next(n for n in dead["nodes"] if n["node_id"] == "h")["error"]
    assert "hunter2" not in error and "sk-9" not in error and "could not reach" in error, error
    # (The test server echoes the path it was asked for, query included: that is its answer,
    # not Hearth's record, so the records are checked without the bodies.)
    for run in [hop, away, head, leaky, dead]:
        for n in run["nodes"]:
            n["outputs"].pop("body", None)
        record = json.dumps(run)
        for secret in ["hunter2", "sk-123", "sk-secret", "sk-9"]:
            assert secret not in record, (secret, record)


def test_the_http_node_reaches_local_addresses_only_when_allowed(http, site):
    # Without the node's opt-in or the setting, the loopback site is refused before connecting.
    refused = http_flow(http, {"url": site + "/json?q={{#start.q#}}"}, allow_local=False)
    run = run_wait(http, refused["id"], {"q": "tide"})
    h = next(n for n in run["nodes"] if n["node_id"] == "h")
    assert (run["status"], h["status"]) == ("failed", "failed"), run
    assert h["error"].startswith("refused to connect to 127.0.0.1: it is a local or private network address"), h["error"]
    assert "allow_local" in h["error"] and "workflows.allow_local_network" in h["error"], h["error"]
    # Spellings of loopback, link-local and private addresses are refused the same way.
    for url in ["http://2130706433/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/", "http://10.0.0.1/"]:
        run = run_wait(http, http_flow(http, {"url": url}, allow_local=False)["id"])
        error = next(n for n in run["nodes"] if n["node_id"] == "h")["error"]
        assert "local or private network address" in error, (url, error)
    # The setting lets every http node reach local addresses; it takes only true or false.
    assert_error(http.put("/api/v1/settings/workflows.allow_local_network", json={"value": "yes"}), 400, "invalid", "value")
    assert http.put("/api/v1/settings/workflows.allow_local_network", json={"value": True}).status_code == 200
    try:
        assert run_wait(http, refused["id"], {"q": "tide"})["outputs"] == {"status": 200}
    finally:
        assert http.put("/api/v1/settings/workflows.allow_local_network", json={"value": False}).status_code == 200
    assert run_wait(http, refused["id"], {"q": "tide"})["status"] == "failed"


def test_a_value_in_the_url_stays_inside_its_part(http, site):
    w = http_flow(http, {"url": site + "/json?q={{#start.q#}}"}, {"path": "{{#h.body.path#}}"})
    run = run_wait(http, w["id"], {"q": "a&b=c #d/@x"})
    assert run["outputs"] == {"path": "/json?q=a%26b%3Dc%20%23d%2F%40x"}, run
    bad = http.post("/api/v1/workflows/validate", json=chain(node("h", "http", {"url": "http://example.com{{#start.q#}}"}),
                                                              inputs=[{"name": "q", "type": "string"}]))
    assert bad.status_code == 200 and not bad.json()["valid"], bad.text
    assert "write the scheme and host in full" in bad.json()["problems"][0]["message"], bad.text


def dead_address():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


@pytest.mark.parametrize("path,config,expected", [
    (None, {}, "could not reach"),
    ("/big", {"max_response_bytes": 1048576}, "larger than the 1048576 byte limit"),
    ("/slow", {"timeout_ms": 500}, "timed out after 500 ms"),
    ("/json", {"url": "ftp://127.0.0.1/x"}, "only http and https"),
])
def test_the_http_node_fails_clearly_within_its_limits(http, site, path, config, expected):
    url = dead_address() if path is None else site + path
    run = run_wait(http, http_flow(http, {"url": url, **config})["id"])
    h = next(n for n in run["nodes"] if n["node_id"] == "h")
    assert (run["status"], h["status"]) == ("failed", "failed")
    assert expected in h["error"], h["error"]


def test_a_workflow_answers_as_an_openai_model(http, client):
    w = create(http, "Echo", chain(node("v", "variable", {"variables": [{"name": "said", "value": "You said: {{#start.input#}}"}]}),
                                  inputs=[{"name": "input", "type": "string", "required": True}], outputs={"text": "{{#v.said#}}"}))
    model = f"workflow/{w['id']}"
    done = client.chat.completions.create(model=model, messages=[{"role": "system", "content": "ignored"}, {"role": "user", "content": "hello"}])
    assert done.choices[0].message.content == "You said: hello" and done.model == model
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "again"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "You said: again"
    # A local model inside a workflow answers too, through the same route.
    llm = create(http, "Ask", chain(ASK, inputs=TOPIC, outputs={"text": "{{#ask.text#}}"}))
    answer = client.chat.completions.create(model=f"workflow/{llm['id']}", messages=[{"role": "user", "content": "lakes"}])
    assert answer.choices[0].message.content.strip() and answer.usage.completion_tokens > 0
    # A failing run is an upstream error; a missing workflow a 404.
    bad = create(http, "Bad", chain(node("js", "code", {"code": "function main() { throw new Error('no'); }"})))
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model=f"workflow/{bad['id']}", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502 and "main threw: Error: no" in str(failed.value)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="workflow/01a20631-e7c9-7563-8bbd-7154caf652fe", messages=[{"role": "user", "content": "x"}])


def test_a_run_whose_server_was_killed_ends_interrupted(start_hearth):
    server = start_hearth()
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=120) as c:
        w = create(c, "Long", chain(node("ask", "llm", {"prompt_template": "Write a very long story.", "max_tokens": 2000}), outputs={"t": "{{#ask.text#}}"}))
        run = c.post(f"/api/v1/workflows/{w['id']}/runs", json={}).json()
        with c.stream("GET", f"/api/v1/runs/{run['id']}/events") as r:
            for e in parse_sse(r.iter_lines()):
                if e.event == "text_chunk":
                    break
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    again = start_hearth(data_dir=server.data_dir, token=server.token)
    with httpx.Client(base_url=again.base_url, headers=again.auth, timeout=120) as c:
        # Its events replay, and end once the dead process's heartbeat is stale.
        log = events(c, run["id"])
        assert [int(e.id) for e in log] == list(range(1, len(log) + 1))
        last = log[-1].json()
        assert (last["type"], last["status"]) == ("run_finished", "failed") and "interrupted" in last["error"], last
        detail = c.get(f"/api/v1/runs/{run['id']}").json()
        assert detail["status"] == "failed" and "interrupted" in detail["error"]
        assert next(n for n in detail["nodes"] if n["node_id"] == "ask")["status"] == "cancelled"
        # The server is fine and runs workflows.
        assert run_wait(c, create(c, "After", chain())["id"])["status"] == "succeeded"
