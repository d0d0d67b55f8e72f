# Remote providers through the full remote path: a second `hearth serve` (the real local
# model) is added as a custom OpenAI-compatible provider, its API token as the provider's key
# in the real Secret Service. Replies through it match the model asked directly; a chat moves
# between the remote and the local model with its history intact; a fallback chain answers
# when a provider is down; a refused key is named; the key never leaves the keychain, and
# never goes to a host it was not given for.

import secrets
from pathlib import Path

import httpx
import openai
import pytest

from conftest import MODEL, SseEvent, assert_error, read_sse

SSE = {"Accept": "text/event-stream"}
GREEDY = {"max_tokens": 12, "temperature": 0, "seed": 1}


def dead_url() -> str:
    """A loopback URL where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def add_provider(http: httpx.Client, name: str, base_url: str, key: str | None = None, **fields) -> dict:
    r = http.post("/api/v1/providers", json={"name": name, "kind": "openai-compatible", "base_url": base_url, **fields})
    assert r.status_code == 201, r.text
    if key is not None:
        r = http.put(f"/api/v1/providers/{name}/key", json={"key": key})
        assert r.status_code == 200, r.text
    return r.json()


def new_chat(http: httpx.Client, model: str, settings: dict | None = None) -> str:
    suffix = secrets.token_hex(4)
    ws = http.post("/api/v1/workspaces", json={"name": f"Remote {suffix}", "handle": f"remote-{suffix}", "settings": settings or {}})
    assert ws.status_code == 201, ws.text
    chat = http.post(f"/api/v1/workspaces/{ws.json()['id']}/chats", json={"title": "remote", "model": model})
    assert chat.status_code == 201, chat.text
    return chat.json()["id"]


def ask(http: httpx.Client, chat: str, text: str) -> list[SseEvent]:
    with http.stream("POST", f"/api/v1/chats/{chat}/messages", json={"content": text, **GREEDY}, headers=SSE) as r:
        assert r.status_code == 200, r.read()
        return read_sse(r)


def answers(http: httpx.Client, chat: str) -> list[dict]:
    r = http.get(f"/api/v1/chats/{chat}/messages")
    assert r.status_code == 200, r.text
    return [m for m in r.json()["messages"] if m["role"] == "assistant"]


def sdk(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.token, max_retries=0, timeout=120)


def test_a_second_hearth_answers_through_the_remote_path(hearth, start_hearth):
    remote = hearth  # the provider: a real hearth serve with the real model
    local = start_hearth()
    with httpx.Client(base_url=local.base_url, headers=local.auth, timeout=120) as http:
        added = add_provider(http, "peer", remote.base_url + "/v1", key=remote.token, default_model=MODEL)
        assert added["key"] == {"set": True, "last_four": remote.token[-4:], "error": None}
        assert remote.token not in http.get("/api/v1/providers").text

        tested = http.post("/api/v1/providers/peer/test")
        assert tested.status_code == 200, tested.text
        assert MODEL in tested.json()["models"]
        listed = {m["id"]: m["owned_by"] for m in http.get("/v1/models").json()["data"]}
        assert listed[MODEL] == "hearth" and listed[f"peer/{MODEL}"] == "peer"
        assert http.get(f"/v1/models/peer/{MODEL}").json()["owned_by"] == "peer"

        # Greedy decoding through the provider gives what the provider's model gives directly.
        # The prompt is new to the provider, and asked directly twice first: a prompt the
        # engine has cached can decode differently from a cold one (docs/llama-determinism.md), so
        # both sides compared here read it from the cache.
        messages = [{"role": "user", "content": f"Name three colours, {secrets.token_hex(3)}."}]
        with sdk(local) as via, sdk(remote) as direct:
            direct.chat.completions.create(model=MODEL, messages=messages, **GREEDY)
            straight = direct.chat.completions.create(model=MODEL, messages=messages, **GREEDY)
            routed = via.chat.completions.create(model=f"peer/{MODEL}", messages=messages, **GREEDY)
            assert routed.choices[0].message.content == straight.choices[0].message.content
            assert routed.usage.completion_tokens == straight.usage.completion_tokens
            assert routed.model == f"peer/{MODEL}"
            chunks = list(via.chat.completions.create(model=f"peer/{MODEL}", messages=messages, stream=True, stream_options={"include_usage": True}, **GREEDY))
            streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert streamed == straight.choices[0].message.content
            assert chunks[-1].usage.completion_tokens == straight.usage.completion_tokens
            # `peer/` alone is the provider's default model.
            assert via.chat.completions.create(model="peer/", messages=messages, **GREEDY).choices[0].message.content == streamed

        # A chat moves from the remote model to the local one mid-conversation, history intact.
        chat = new_chat(http, f"peer/{MODEL}")
        first = ask(http, chat, "My name is Ada. Say hello.")
        assert first[-1].event == "message_end", first[-1]
        assert http.patch(f"/api/v1/chats/{chat}", json={"model": MODEL}).status_code == 200
        second = ask(http, chat, "What is my name?")
        assert second[-1].event == "message_end", second[-1]
        replies = answers(http, chat)
        assert [(m["model"], m["provider"], m["status"]) for m in replies] == [(f"peer/{MODEL}", "peer", "complete"), (MODEL, "local", "complete")]
        # The local model read the whole conversation, the remote turn included.
        assert replies[1]["prompt_tokens"] > replies[0]["prompt_tokens"] + replies[0]["completion_tokens"]

        usage = http.get("/api/v1/usage", params={"days": 1}).json()
        by = {(r["provider"], r["model"]): r for r in usage["rows"]}
        # Three /v1 requests and one chat reply went through the provider.
        assert (by[("peer", MODEL)]["calls"], by[("peer", MODEL)]["errors"]) == (4, 0)
        assert by[("local", MODEL)]["calls"] >= 1 and by[("local", MODEL)]["cost"] == 0
        assert usage["calls"] == sum(r["calls"] for r in usage["rows"])
        assert http.get("/api/v1/usage", params={"days": 0}).status_code == 400


def test_a_fallback_chain_answers_when_the_provider_is_down(start_hearth):
    server = start_hearth()
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=120) as http:
        add_provider(http, "down", dead_url(), default_model="m")
        chat = new_chat(http, "down/m", settings={"fallback_models": [MODEL]})
        events = ask(http, chat, "Say hi.")
        assert events[-1].event == "message_end", events[-1]
        [reply] = answers(http, chat)
        assert (reply["model"], reply["provider"], reply["status"]) == (MODEL, "local", "complete")
        assert reply["notice"].startswith("down/m failed (provider down: could not connect"), reply["notice"]
        rows = {r["provider"]: r for r in http.get("/api/v1/usage").json()["rows"]}
        assert rows["down"]["errors"] == 1 and rows["local"]["errors"] == 0

        # Without a chain the failure is the reply's: stored as an error, with the reason.
        alone = new_chat(http, "down/m")
        events = ask(http, alone, "Say hi.")
        assert events[-1].event == "error" and "could not connect" in events[-1].json()["error"]["message"], events[-1]
        assert answers(http, alone)[0]["status"] == "error"
        r = http.post("/v1/chat/completions", json={"model": "down/m", "messages": [{"role": "user", "content": "Hi"}]})
        assert_error(r, 502, "upstream")
        assert "provider down" in r.json()["error"]["message"]


def test_bad_provider_input_is_refused_clearly(hearth, start_hearth):
    server = start_hearth()
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=120) as http:
        body = {"name": "x", "kind": "openai-compatible"}
        assert_error(http.post("/api/v1/providers", json=body), 400, "invalid", "base_url")
        assert_error(http.post("/api/v1/providers", json={**body, "base_url": "ftp://h/v1"}), 400, "invalid", "base_url")
        assert_error(http.post("/api/v1/providers", json={**body, "base_url": "https://u:p@h/v1"}), 400, "invalid", "base_url")
        assert_error(http.post("/api/v1/providers", json={**body, "kind": "nope", "base_url": "http://h/v1"}), 400, "invalid", "kind")
        assert_error(http.post("/api/v1/providers", json={**body, "name": "local", "base_url": "http://h/v1"}), 400, "invalid", "name")
        headers = {"Authorization": "Bearer sk-nope"}
        assert_error(http.post("/api/v1/providers", json={**body, "base_url": "https://h/v1", "headers": headers}), 400, "invalid", "headers")
        for credential in ("x-goog-api-key", "api-key", "X-Auth-Token", "Cookie"):
            assert_error(http.post("/api/v1/providers", json={**body, "base_url": "https://h/v1", "headers": {credential: "v"}}), 400, "invalid", "headers")
        # Plain http only to this machine: elsewhere the key and the chats would travel readable.
        r = assert_error(http.post("/api/v1/providers", json={**body, "base_url": "http://192.0.2.1:11434/v1"}), 400, "invalid", "base_url")
        assert "https://" in r["message"], r
        assert_error(http.put("/api/v1/providers/nobody/key", json={"key": "k"}), 404, "not_found")
        assert_error(http.post("/v1/chat/completions", json={"model": "nobody/m", "messages": [{"role": "user", "content": "Hi"}]}), 404, "not_found", "model")

        # A wrong key: the provider and the refusal are named.
        add_provider(http, "peer", hearth.base_url + "/v1", key="wrong-key-0000000000")
        r = http.post("/v1/chat/completions", json={"model": f"peer/{MODEL}", "messages": [{"role": "user", "content": "Hi"}]})
        assert_error(r, 502, "upstream")
        assert "provider peer" in r.json()["error"]["message"] and "key was refused" in r.json()["error"]["message"]
        assert_error(http.post("/api/v1/providers/peer/test"), 502, "upstream")


class Capture:
    """A loopback HTTP server that answers a model list and keeps every request's headers:
    the host someone with the API token would point a provider at."""

    def __init__(self) -> None:
        import http.server
        import threading

        seen: list[dict[str, str]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append({k.lower(): v for k, v in self.headers.items()})
                body = b'{"data": [{"id": "captured"}]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.requests = seen
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_moving_a_provider_to_another_host_needs_its_key_again(hearth, start_hearth):
    remote = hearth
    local = start_hearth()
    capture = Capture()
    try:
        with httpx.Client(base_url=local.base_url, headers=local.auth, timeout=120) as http:
            add_provider(http, "mover", remote.base_url + "/v1", key=remote.token, default_model=MODEL)
            # Another port is another host: while a key is stored, moving there without one is
            # refused, and nothing changes.
            r = http.patch("/api/v1/providers/mover", json={"base_url": capture.url + "/v1"})
            assert "give the key again" in assert_error(r, 400, "invalid", "api_key")["message"]
            assert http.get("/api/v1/providers/mover").json()["base_url"] == remote.base_url + "/v1"
            assert http.post("/api/v1/providers/mover/test").status_code == 200
            assert capture.requests == [], "the stored key went to the new host"

            # With a new key in the same request it moves, and only the new key travels.
            new_key = "sk-capture-" + secrets.token_hex(12)
            r = http.patch("/api/v1/providers/mover", json={"base_url": capture.url + "/v1", "api_key": new_key})
            assert r.status_code == 200, r.text
            assert (r.json()["base_url"], r.json()["key"]["last_four"]) == (capture.url + "/v1", new_key[-4:])
            assert new_key not in r.text and remote.token not in r.text
            tested = http.post("/api/v1/providers/mover/test")
            assert tested.status_code == 200 and tested.json()["models"] == ["captured"], tested.text
            assert [h.get("authorization") for h in capture.requests] == [f"Bearer {new_key}"]
            assert all(remote.token not in str(h) for h in capture.requests)
    finally:
        capture.close()


def test_a_provider_key_never_leaves_the_keychain(start_hearth, tmp_path: Path):
    """The key (here the provider server's own API token, so the remote path really uses it)
    is set, survives a restart, is used, and deleted; meanwhile nothing Hearth writes or
    answers contains it: not the database, its WAL, the debug logs, or any response."""
    key = "sk-hearth-leak-" + secrets.token_hex(16)
    remote = start_hearth(token=key)
    data_dir = tmp_path / "keeper"
    data_dir.mkdir()
    debug = {"RUST_LOG": "debug"}
    local = start_hearth(data_dir=data_dir, env=debug)
    seen: list[bytes] = []

    def log(r: httpx.Response) -> None:
        r.read()
        seen.append(r.content)
        seen.append(str(r.headers).encode())

    def client(server) -> httpx.Client:
        return httpx.Client(base_url=server.base_url, headers=server.auth, timeout=120, event_hooks={"response": [log]})

    with client(local) as http:
        add_provider(http, "vault", remote.base_url + "/v1", key=key, default_model=MODEL)
        assert http.post("/api/v1/providers/vault/test").status_code == 200
        chat = new_chat(http, "vault/")
        assert ask(http, chat, "Hello there.")[-1].event == "message_end"
        http.get(f"/api/v1/chats/{chat}/messages")
        http.get("/api/v1/providers")
        http.get("/api/v1/providers/vault")
        http.get("/api/v1/usage")
        http.get("/v1/models")
        http.get("/openapi.json")
        http.get("/metrics")
        http.get("/api/v1/settings")
        http.post("/v1/chat/completions", json={"model": "vault/", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
        # While the server runs, its WAL holds the latest writes.
        assert any(p.name.endswith("-wal") for p in data_dir.iterdir())
        assert not leaked(data_dir, key, seen)
    assert local.stop() == 0

    # After a restart the key is read back from the keychain and used.
    local = start_hearth(data_dir=data_dir, env=debug)
    with client(local) as http:
        again = http.get("/api/v1/providers/vault").json()
        assert again["key"] == {"set": True, "last_four": key[-4:], "error": None}
        r = http.post("/v1/chat/completions", json={"model": "vault/", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
        assert r.status_code == 200, r.text
        removed = http.delete("/api/v1/providers/vault/key")
        assert removed.status_code == 200 and removed.json()["key"]["set"] is False
        # Without its key the provider refuses, and says so.
        r = http.post("/v1/chat/completions", json={"model": "vault/", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
        assert r.status_code == 502 and "key was refused" in r.json()["error"]["message"]
    assert local.stop() == 0

    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "hearth.db" for p in files) and any(p.parent.name == "logs" for p in files), files
    assert any(b'"debug"' in p.read_bytes().lower() for p in files if p.parent.name == "logs"), "the logs ran at debug level"
    assert len(seen) > 20
    assert not leaked(data_dir, key, seen)


def leaked(data_dir: Path, key: str, seen: list[bytes]) -> list[str]:
    """Where the key's bytes appear: files under the data folder, or recorded responses."""
    needle = key.encode()
    leaks = [str(p) for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]
    return leaks + [f"response {i}" for i, body in enumerate(seen) if needle in body]
