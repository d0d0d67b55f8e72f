# The HTTP layer and the app API with plain httpx: the token, the Host allowlist, CORS, body
# limits, the error shape, request ids; sending messages with their SSE reply streams
# (resume, idempotency, cancel); concurrency; metrics and the OpenAPI document; and a
# SIGTERM in the middle of a stream, on a server of the test's own.

import base64
import http.client
import itertools
import json
import math
import re
import secrets
import signal
import socket
import struct
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import MODEL, SseEvent, assert_error, hearth_bin, parse_sse, read_sse

SSE = {"Accept": "text/event-stream"}
SHORT = {"content": "Write one sentence about the sea.", "max_tokens": 24, "temperature": 0, "seed": 1}
LONG = {"content": "Write a very long story.", "max_tokens": 2000, "temperature": 0.7, "seed": 5}
CHAT_BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}

# Documented routes other than /health, with a valid body where they take one.
PROTECTED = [
    ("GET", "/v1/models", None),
    ("GET", f"/v1/models/{MODEL}", None),
    ("POST", "/v1/chat/completions", CHAT_BODY),
    ("POST", "/v1/completions", {"model": MODEL, "prompt": "Hi", "max_tokens": 1}),
    ("POST", "/v1/embeddings", {"model": MODEL, "input": "Hi"}),
    ("GET", "/api/v1/workspaces", None),
    ("POST", "/api/v1/workspaces", {"name": "Never made"}),
    ("GET", "/api/v1/search?q=cat", None),
    ("GET", "/api/v1/models", None),
    ("POST", "/api/v1/models/unload", None),
    ("GET", "/api/v1/settings", None),
    ("PUT", "/api/v1/settings/theme", {"value": "dark"}),
    ("GET", "/metrics", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
]


def new_chat(http: httpx.Client) -> str:
    suffix = secrets.token_hex(4)
    ws = http.post("/api/v1/workspaces", json={"name": f"API test {suffix}", "handle": f"api-test-{suffix}"})
    assert ws.status_code == 201, ws.text
    chat = http.post(f"/api/v1/workspaces/{ws.json()['id']}/chats", json={"title": "API test"})
    assert chat.status_code == 201, chat.text
    return chat.json()["id"]


@pytest.fixture
def chat(http) -> str:
    return new_chat(http)


def send(http: httpx.Client, chat: str, body: dict, **kwargs) -> httpx.Response:
    return http.post(f"/api/v1/chats/{chat}/messages", json=body, **kwargs)


def sse_get(http: httpx.Client, url: str, **kwargs) -> list[SseEvent]:
    with http.stream("GET", url, **kwargs) as r:
        return read_sse(r)


def stored_messages(http: httpx.Client, chat: str) -> list[dict]:
    r = http.get(f"/api/v1/chats/{chat}/messages")
    assert r.status_code == 200, r.text
    assert r.json()["chat"]["id"] == chat
    return r.json()["messages"]


def reply_text(events: list[SseEvent], finish: tuple[str, ...] = ("stop", "length")) -> str:
    """Checks a whole reply stream (ids 1, 2, 3...; message_start, deltas, message_end) and
    returns the text of its deltas."""
    assert [e.id for e in events] == [str(i) for i in range(1, len(events) + 1)], events
    names = [e.event for e in events]
    assert names[0] == "message_start" and names[-1] == "message_end", names
    assert set(names[1:-1]) == {"delta"}, names
    text = "".join(e.json()["text"] for e in events[1:-1])
    end = events[-1].json()
    assert end["finish_reason"] in finish, end
    assert end["message"]["content"] == text
    assert end["message"]["status"] == ("cancelled" if end["finish_reason"] == "cancelled" else "complete"), end
    assert end["message"]["id"] == events[0].json()["message_id"]
    assert end["usage"]["prompt_tokens"] > 0 and end["usage"]["completion_tokens"] > 0, end
    return text


def post_raw(server, path: str, body: bytes) -> tuple[int, bytes]:
    """POSTs a body while reading the answer at the same time, so a server that answers
    (413) before reading it all is still heard."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    def write() -> None:
        try:
            sock.sendall(head)
            view = memoryview(body)
            for at in range(0, len(body), 1 << 16):
                sock.sendall(view[at : at + (1 << 16)])
        except OSError:
            pass  # the server answered and closed before reading everything

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    response = http.client.HTTPResponse(sock, method="POST")
    try:
        response.begin()
        return response.status, response.read()
    finally:
        writer.join(60)
        sock.close()


def test_health_needs_no_token(hearth):
    r = httpx.get(hearth.base_url + "/health")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    assert isinstance(r.json()["version"], str) and r.json()["version"]


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_routes_need_the_token(hearth, method, path, body):
    assert_error(httpx.request(method, hearth.base_url + path, json=body), 401, "unauthorized")


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_a_wrong_token_is_refused(hearth, method, path, body):
    wrong = {"Authorization": f"Bearer {hearth.token}x"}
    assert_error(httpx.request(method, hearth.base_url + path, json=body, headers=wrong), 401, "unauthorized")


def test_every_response_has_a_request_id(hearth, http):
    responses = [
        httpx.get(hearth.base_url + "/health"),
        httpx.get(hearth.base_url + "/v1/models"),
        http.get("/v1/models"),
        http.get("/v1/models/no-such-model"),
        http.get("/v1/models", headers={"Host": "evil.example"}),
        http.post("/v1/chat/completions", content=b"{", headers={"Content-Type": "application/json"}),
    ]
    assert [r.status_code for r in responses] == [200, 401, 200, 404, 403, 400]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(uuid.UUID(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_the_clients_request_id_is_kept(http):
    assert http.get("/v1/models", headers={"x-request-id": "hearth-test-42"}).headers["x-request-id"] == "hearth-test-42"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "localhost.evil.example", "127.0.0.1.evil.example"])
def test_a_foreign_host_is_forbidden(http, host):
    assert_error(http.get("/v1/models", headers={"Host": host}), 403, "forbidden")


@pytest.mark.parametrize("host", ["localhost", "localhost:1234", "127.0.0.1", "[::1]:7337"])
def test_loopback_hosts_are_served(http, host):
    assert http.get("/v1/models", headers={"Host": host}).status_code == 200


def test_cors_preflight_from_a_foreign_origin_gets_no_allow_origin(hearth):
    preflight = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    r = httpx.options(hearth.base_url + "/v1/models", headers=preflight)
    assert "access-control-allow-origin" not in r.headers, r.headers


def test_cors_request_from_a_foreign_origin_gets_no_allow_origin(http):
    r = http.get("/v1/models", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers, r.headers


@pytest.mark.parametrize("origin", ["tauri://localhost", "http://tauri.localhost"])
def test_cors_allows_no_other_tauri_app(hearth, origin):
    # The desktop window is same-origin (it loads the UI from this server); the origins every
    # Tauri app shares get nothing.
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    r = httpx.options(hearth.base_url + "/v1/chat/completions", headers=preflight)
    assert "access-control-allow-origin" not in r.headers, r.headers


def test_a_body_over_16_mib_is_too_large(hearth):
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "a" * (20 << 20)}]}).encode()
    status, data = post_raw(hearth, "/v1/chat/completions", body)
    assert status == 413, data[:500]
    error = json.loads(data)["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "too_large"), error


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/api/v1/workspaces"])
def test_malformed_json_is_a_400(http, path):
    assert_error(http.post(path, content=b'{"model": "gemma', headers={"Content-Type": "application/json"}), 400, "invalid")


def test_a_wrong_field_type_is_a_400(http):
    assert_error(http.post("/v1/chat/completions", json={"model": MODEL, "messages": "Hi"}), 400, "invalid")


def test_an_unknown_model_is_a_404_on_model(http):
    assert_error(http.post("/v1/chat/completions", json=CHAT_BODY | {"model": "no-such-model"}), 404, "not_found", param="model")


def test_embeddings_base64_is_little_endian_f32(http):
    body = {"model": MODEL, "input": ["The cat sat on the mat."]}
    packed = http.post("/v1/embeddings", json=body | {"encoding_format": "base64"})
    plain = http.post("/v1/embeddings", json=body | {"encoding_format": "float"})
    assert (packed.status_code, plain.status_code) == (200, 200), (packed.text, plain.text)
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    floats = plain.json()["data"][0]["embedding"]
    assert len(raw) == 4 * len(floats) > 0
    assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(struct.unpack(f"<{len(floats)}f", raw), floats))


def test_embeddings_of_token_ids(http):
    r = http.post("/v1/embeddings", json={"model": MODEL, "input": [[2, 651, 4320], [2, 9259]], "encoding_format": "float"})
    assert r.status_code == 200, r.text
    assert [d["index"] for d in r.json()["data"]] == [0, 1]


def test_send_streams_the_reply_as_sse(http, chat):
    with http.stream("POST", f"/api/v1/chats/{chat}/messages", json=SHORT, headers=SSE) as r:
        events = read_sse(r)
    text = reply_text(events)
    start = events[0].json()
    assert (start["chat_id"], start["model"]) == (chat, MODEL)
    question, answer = stored_messages(http, chat)
    assert (question["role"], question["content"]) == ("user", SHORT["content"])
    assert (answer["role"], answer["status"], answer["content"]) == ("assistant", "complete", text)
    assert (start["message_id"], start["parent_id"]) == (answer["id"], question["id"])
    assert answer["parent_id"] == question["id"]


def test_send_without_sse_answers_202_and_the_events_resume(http, chat):
    sent = send(http, chat, SHORT)
    assert sent.status_code == 202, sent.text
    message, reply = sent.json()["message"], sent.json()["reply"]
    assert (message["role"], reply["role"], reply["status"]) == ("user", "assistant", "streaming")
    assert reply["parent_id"] == message["id"]
    assert sent.json()["events"] == f"/api/v1/replies/{reply['id']}/events"
    events = sse_get(http, sent.json()["events"])
    reply_text(events)
    assert sse_get(http, sent.json()["events"], headers={"Last-Event-ID": "2"}) == [e for e in events if int(e.id) > 2]


def test_send_without_a_reply_only_stores_the_message(http, chat):
    sent = send(http, chat, {"content": "Just a note.", "reply": False})
    assert sent.status_code == 201, sent.text
    assert list(sent.json()) == ["message"]
    assert [(m["role"], m["content"]) for m in stored_messages(http, chat)] == [("user", "Just a note.")]


@pytest.mark.parametrize("where", ["header", "body"])
def test_the_same_idempotency_key_sends_once(http, chat, where):
    key = secrets.token_hex(8)
    kwargs = {"headers": {"Idempotency-Key": key}} if where == "header" else {}
    body = SHORT | ({"idempotency_key": key} if where == "body" else {})
    first, second = send(http, chat, body, **kwargs), send(http, chat, body, **kwargs)
    assert (first.status_code, second.status_code) == (202, 200), (first.text, second.text)
    ids = [(r.json()["message"]["id"], r.json()["reply"]["id"], r.json()["events"]) for r in (first, second)]
    assert ids[0] == ids[1]
    reply_text(sse_get(http, first.json()["events"]))
    assert [m["role"] for m in stored_messages(http, chat)] == ["user", "assistant"]


def test_cancel_stops_a_reply_and_keeps_its_text(http, chat):
    sent = send(http, chat, {"content": "Write a very long story about a dragon.", "max_tokens": 400, "temperature": 0.7, "seed": 5})
    assert sent.status_code == 202, sent.text
    reply_id = sent.json()["reply"]["id"]
    with http.stream("GET", sent.json()["events"]) as r:
        assert r.status_code == 200
        stream = parse_sse(r.iter_lines())
        events = list(itertools.islice(stream, 2))
        assert [e.event for e in events] == ["message_start", "delta"], events
        cancel = http.post(f"/api/v1/replies/{reply_id}/cancel")
        events.extend(stream)
    assert cancel.is_success, cancel.text
    text = reply_text(events, finish=("cancelled", "stop", "length"))
    stored = stored_messages(http, chat)[-1]
    assert (stored["id"], stored["content"]) == (reply_id, text)
    assert stored["status"] == ("cancelled" if events[-1].json()["finish_reason"] == "cancelled" else "complete")


def test_regenerate_and_answer_an_edit_as_branches(http, chat):
    with http.stream("POST", f"/api/v1/chats/{chat}/messages", json=SHORT, headers=SSE) as r:
        reply_text(read_sse(r))
    question, first = stored_messages(http, chat)

    # Regenerate: a second reply to the same question streams and is shown, the first kept.
    with http.stream("POST", f"/api/v1/messages/{first['id']}/reply", json={"max_tokens": 8}, headers=SSE) as r:
        assert r.status_code == 200, r.read()
        events = read_sse(r)
    text = reply_text(events)
    again = events[-1].json()["message"]
    assert (again["parent_id"], again["content"]) == (question["id"], text)
    shown = http.get(f"/api/v1/chats/{chat}/messages").json()["messages"]
    assert [(m["id"], m["sibling_index"], m["sibling_count"]) for m in shown] == [(question["id"], 0, 1), (again["id"], 1, 2)]
    siblings = http.get(f"/api/v1/messages/{again['id']}/siblings")
    assert siblings.status_code == 200, siblings.text
    assert [m["id"] for m in siblings.json()] == [first["id"], again["id"]]

    # An edit is a new question with no reply; answering it (202 without SSE) replies under it.
    edited = http.patch(f"/api/v1/messages/{question['id']}", json={"content": "Name a colour, please."})
    assert edited.status_code == 200, edited.text
    answered = http.post(f"/api/v1/messages/{edited.json()['id']}/reply", json={})
    assert answered.status_code == 202, answered.text
    assert answered.json()["reply"]["parent_id"] == edited.json()["id"]
    reply_text(sse_get(http, answered.json()["events"]))
    assert [m["content"] for m in stored_messages(http, chat)][0] == "Name a colour, please."

    # The first branch is one switch away, untouched.
    back = http.post(f"/api/v1/chats/{chat}/branch", json={"message_id": first["id"]})
    assert [m["id"] for m in back.json()["messages"]] == [question["id"], first["id"]]


def test_answering_an_unknown_message_is_a_404(http):
    assert_error(http.post(f"/api/v1/messages/{uuid.uuid4()}/reply", json={}), 404, "not_found")
    assert_error(http.get(f"/api/v1/messages/{uuid.uuid4()}/siblings"), 404, "not_found")


def test_cancelling_an_unknown_reply_is_a_404(http):
    assert_error(http.post(f"/api/v1/replies/{uuid.uuid4()}/cancel"), 404, "not_found")


def test_sixteen_concurrent_streams_all_finish(client):
    def one(i: int) -> list[str]:
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"Say something about the number {i}."}], max_tokens=16, temperature=0.7, seed=i, stream=True
        )
        return [c.choices[0].finish_reason for c in stream if c.choices and c.choices[0].finish_reason]

    with ThreadPoolExecutor(16) as pool:
        finishes = list(pool.map(one, range(16)))
    assert all(f in (["stop"], ["length"]) for f in finishes), finishes


def test_metrics(http):
    assert http.get("/v1/models").status_code == 200
    r = http.get("/metrics")
    assert r.status_code == 200, r.text
    counted = r'^hearth_http_requests_total\{(?=[^}]*route="/v1/models")(?=[^}]*method="GET")(?=[^}]*status="200")[^}]*\} [1-9]'
    assert re.search(counted, r.text, re.MULTILINE), r.text
    families = ["hearth_http_request_duration_seconds", "hearth_tokens_generated_total", "hearth_time_to_first_token_seconds",
                "hearth_active_streams", "hearth_model_load_seconds"]  # fmt: skip
    assert [f for f in families if f not in r.text] == []


def test_openapi_document(http):
    r = http.get("/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    documented = {"/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                  "/api/v1/workspaces", "/api/v1/search", "/api/v1/models", "/api/v1/settings"}  # fmt: skip
    assert documented <= set(doc["paths"]), sorted(doc["paths"])


def test_docs_page(http):
    r = http.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text.lower()
    # Served from the binary: the page works offline, so it loads nothing from elsewhere.
    assert not re.search(r"""src\s*=\s*["']?(https?:)?//""", r.text), r.text


def test_sigterm_ends_open_streams_and_saves_the_partial_reply(start_hearth):
    server = start_hearth()
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=60) as http:
        chat = new_chat(http)
        with http.stream("POST", f"/api/v1/chats/{chat}/messages", json=LONG, headers=SSE) as r:
            assert r.status_code == 200
            stream = parse_sse(r.iter_lines())
            events = list(itertools.islice(stream, 6))
            assert [e.event for e in events] == ["message_start"] + ["delta"] * 5, events
            server.process.send_signal(signal.SIGTERM)
            events.extend(stream)
    assert server.process.wait(30) == 0, server.stderr()

    assert [e.id for e in events] == [str(i) for i in range(1, len(events) + 1)]
    assert [e.event for e in events[1:-1]] == ["delta"] * (len(events) - 2)
    text = "".join(e.json()["text"] for e in events[1:-1])
    final = events[-1]
    assert final.event in ("message_end", "error"), final
    if final.event == "message_end":
        assert final.json()["finish_reason"] == "cancelled", final
        assert (final.json()["message"]["status"], final.json()["message"]["content"]) == ("cancelled", text)
    else:
        assert set(final.json()["error"]) == {"message", "type", "param", "code"}, final

    shown = subprocess.run([str(hearth_bin()), "--data-dir", str(server.data_dir), "--json", "chats", "show", chat], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    reply = json.loads(shown.stdout)["messages"][-1]
    assert (reply["role"], reply["status"]) == ("assistant", "cancelled"), reply
    if final.event == "message_end":
        assert reply["content"] == text
    else:
        assert reply["content"].startswith(text), (reply["content"], text)


def test_idle_and_silent_connections_are_closed(hearth):
    """A connection that sends nothing, or stays idle after a request, is closed by the
    server's header timeout (10 s) instead of holding a socket forever."""
    host, port = "127.0.0.1", hearth.port
    with socket.create_connection((host, port)) as silent, socket.create_connection((host, port)) as idle:
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        for conn in (silent, idle):
            conn.settimeout(30)
            assert conn.recv(4096) == b"", "the server should close the connection"
