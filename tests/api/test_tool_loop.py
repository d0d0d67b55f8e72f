# The tool loop in the app's chats, over the API with the local default model: a real MCP
# server from PyPI (mcp-server-time) started by the app, a call that waits for the person's
# approval, runs, and the reply going on with its result; the stored tree and the event
# stream show each step. And what must not happen: a denied call runs nothing, a server that
# dies mid-call is a failed result (the reply completes, the server is started again), and a
# call the model makes with no tools to call is refused before anything is stored.

import json
import secrets
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from conftest import assert_error, parse_sse

# A minimal MCP server over stdio whose `note` tool writes to a file (it changes things) and
# whose `boom` tool kills the server.
FAKE = textwrap.dedent('''
    import json, os, sys
    TOOLS = [
        {"name": "note", "description": "Writes a note.", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
        {"name": "boom", "description": "Falls over.", "inputSchema": {"type": "object"}},
    ]
    def send(msg):
        sys.stdout.write(json.dumps(msg) + "\\n"); sys.stdout.flush()
    for line in sys.stdin:
        msg = json.loads(line)
        method, id = msg.get("method"), msg.get("id")
        if id is None:
            continue
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                                                          "serverInfo": {"name": "fake", "version": "1"}}})
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": id, "result": {"tools": TOOLS}})
        elif method == "tools/call" and msg["params"]["name"] == "note":
            with open(os.environ["NOTES"], "a") as f:
                f.write(msg["params"]["arguments"]["text"] + "\\n")
            send({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "noted"}]}})
        elif method == "tools/call":
            sys.stderr.write("boom: the server fell over\\n"); sys.stderr.flush(); sys.exit(3)
        else:
            send({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no such method"}})
''')

SSE = {"Accept": "text/event-stream"}


def named(tool: str) -> dict:
    return {"type": "function", "function": {"name": tool}}


def new_chat(http: httpx.Client, settings: dict | None = None) -> str:
    suffix = secrets.token_hex(4)
    body = {"name": f"Tools {suffix}", "handle": f"tools-{suffix}", **({"settings": settings} if settings else {})}
    ws = http.post("/api/v1/workspaces", json=body)
    assert ws.status_code == 201, ws.text
    chat = http.post(f"/api/v1/workspaces/{ws.json()['id']}/chats", json={"title": "tools"})
    assert chat.status_code == 201, chat.text
    return chat.json()["id"]


def wait_ready(http: httpx.Client, name: str) -> dict:
    """Polls the servers list until `name` is ready."""
    deadline = time.monotonic() + 90
    seen = None
    while time.monotonic() < deadline:
        listed = http.get("/api/v1/mcp/servers")
        assert listed.status_code == 200, listed.text
        seen = next(s for s in listed.json() if s["name"] == name)["health"]
        if seen["state"] == "ready":
            return seen
        time.sleep(0.2)
    pytest.fail(f"MCP server {name} did not become ready: {seen}")


def converse(http: httpx.Client, chat: str, body: dict, decide=None) -> list:
    """Sends and reads the reply's events to the end, answering each approval with `decide`."""
    sent = http.post(f"/api/v1/chats/{chat}/messages", json=body)
    assert sent.status_code == 202, sent.text
    events = []
    with http.stream("GET", sent.json()["events"], headers=SSE) as r:
        assert r.status_code == 200
        for event in parse_sse(r.iter_lines()):
            events.append(event)
            if event.event == "tool_call" and event.json()["approval"] == "required":
                assert decide is not None, f"a call asked for approval unexpectedly: {event.data}"
                answered = http.post(f"/api/v1/messages/{event.json()['message_id']}/approval", json={"decision": decide})
                assert answered.status_code == 202, answered.text
    return events


def thread(http: httpx.Client, chat: str) -> list[dict]:
    r = http.get(f"/api/v1/chats/{chat}/messages")
    assert r.status_code == 200, r.text
    return r.json()["messages"]


def test_a_chat_calls_a_real_mcp_tool_with_approval_and_goes_on_with_its_result(start_hearth):
    server = start_hearth()
    command = Path(sys.executable).parent / "mcp-server-time"
    assert command.is_file(), "mcp-server-time comes with tests/api/requirements.txt"
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=180) as http:
        put = http.put("/api/v1/mcp/servers/time", json={"transport": "stdio", "command": str(command), "args": ["--local-timezone", "UTC"]})
        assert put.status_code == 200, put.text
        health = wait_ready(http, "time")
        assert health["tools"] >= 2, health
        chat = new_chat(http)
        body = {"content": "What time is it in Tokyo?", "tool_choice": named("time__get_current_time"), "seed": 7, "max_tokens": 48}
        events = converse(http, chat, body, decide="once")

        names = [e.event for e in events]
        assert names[0] == "message_start" and names[-1] == "message_end", names
        call = next(e.json() for e in events if e.event == "tool_call")
        assert call["approval"] == "required" and call["call"]["name"] == "time__get_current_time", call
        arguments = json.loads(call["call"]["arguments"])
        assert isinstance(arguments["timezone"], str), arguments  # schema-valid: the grammar made it so
        assert next(e.json() for e in events if e.event == "approval") == {"message_id": call["message_id"], "decision": "once"}
        result = next(e.json()["message"] for e in events if e.event == "tool_result")
        assert result["id"] == call["message_id"] and result["role"] == "tool" and result["status"] == "complete"
        # What the server answered: the time in that zone, or its own error for a zone the
        # small model made up.
        if result["error"] is None:
            assert json.loads(result["content"])["timezone"] == arguments["timezone"], result
        else:
            assert arguments["timezone"] in result["content"], result
        starts = [e.json() for e in events if e.event == "message_start"]
        assert len(starts) == 2 and starts[1]["parent_id"] == result["id"], starts
        assert names.index("tool_call") < names.index("approval") < names.index("tool_result") < len(names) - 1 - names[::-1].index("message_start")
        end = events[-1].json()["message"]
        assert end["id"] == starts[1]["message_id"] and end["status"] == "complete", end

        # The stored branch holds each step, in order, with the call and its result.
        messages = thread(http, chat)
        assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"], messages
        assert messages[1]["tool_calls"] == [call["call"]]
        assert (messages[2]["tool_call_id"], messages[2]["content"]) == (call["call"]["id"], result["content"])
        assert messages[3]["content"] == end["content"]
        # Search sees the tool's result like any message.
        if result["error"] is None:
            hits = http.get("/api/v1/search", params={"q": arguments["timezone"].split("/")[-1]}).json()
            assert any(h["message_id"] == result["id"] for h in hits), hits


def test_denied_calls_run_nothing_and_always_is_remembered(start_hearth, tmp_path):
    notes = tmp_path / "notes.txt"
    script = tmp_path / "fake_mcp.py"
    script.write_text(FAKE)
    server = start_hearth()
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=180) as http:
        put = http.put("/api/v1/mcp/servers/fake", json={"transport": "stdio", "command": sys.executable, "args": [str(script)], "env": {"NOTES": str(notes)}})
        assert put.status_code == 200, put.text
        wait_ready(http, "fake")
        chat = new_chat(http)
        body = {"content": "Note that the milk is out.", "tool_choice": named("fake__note"), "seed": 3, "max_tokens": 96}

        denied = converse(http, chat, body, decide="deny")
        result = next(e.json()["message"] for e in denied if e.event == "tool_result")
        assert result["error"] and "did not allow" in result["content"], result
        assert denied[-1].event == "message_end" and denied[-1].json()["message"]["status"] == "complete"
        assert not notes.exists(), "a denied call must not run"

        always = converse(http, chat, body, decide="always")
        result = next(e.json()["message"] for e in always if e.event == "tool_result")
        assert (result["content"], result["error"]) == ("noted", None), result
        assert notes.read_text().count("\n") == 1
        assert "fake__note" in http.get("/api/v1/settings").json()["tools.allowed"]

        # From now on it runs without asking (converse fails on any approval asked).
        again = converse(http, chat, body)
        call = next(e.json() for e in again if e.event == "tool_call")
        assert call["approval"] == "not_needed"
        assert notes.read_text().count("\n") == 2

        # No approval waits under a made-up id.
        assert_error(http.post(f"/api/v1/messages/{result['id']}/approval", json={"decision": "once"}), 404, "not_found")
        assert_error(http.post(f"/api/v1/messages/{result['id']}/approval", json={"decision": "maybe"}), 400, "invalid")


def test_a_server_that_dies_mid_call_is_a_failed_result_and_is_started_again(start_hearth, tmp_path):
    script = tmp_path / "fake_mcp.py"
    script.write_text(FAKE)
    server = start_hearth()
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=180) as http:
        http.put("/api/v1/mcp/servers/fake", json={"transport": "stdio", "command": sys.executable, "args": [str(script)], "env": {"NOTES": str(tmp_path / "n")}})
        wait_ready(http, "fake")
        chat = new_chat(http)
        events = converse(http, chat, {"content": "Fall over.", "tool_choice": named("fake__boom"), "seed": 1, "max_tokens": 64}, decide="once")
        result = next((e.json()["message"] for e in events if e.event == "tool_result"), None)
        assert result is not None, [(e.event, e.data) for e in events]
        assert result["error"] and "fake" in result["content"], result
        assert events[-1].event == "message_end" and events[-1].json()["message"]["status"] == "complete", events[-1].data
        # The app noticed, and starts the server again after a pause: its tools work again.
        wait_ready(http, "fake")
        again = converse(http, chat, {"content": "Note: it works.", "tool_choice": named("fake__note"), "seed": 2, "max_tokens": 96}, decide="once")
        result = next(e.json()["message"] for e in again if e.event == "tool_result")
        assert (result["content"], result["error"]) == ("noted", None), result
        assert "MCP server failed" in server.stderr(), server.stderr()[-2000:]


def test_built_in_tools_and_refused_requests(start_hearth):
    server = start_hearth()
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=180) as http:
        chat = new_chat(http, settings={"tools": True})
        events = converse(http, chat, {"content": "What day is it?", "tool_choice": named("current_time"), "seed": 5, "max_tokens": 64})
        call = next(e.json() for e in events if e.event == "tool_call")
        assert call["approval"] == "not_needed", call
        result = next(e.json()["message"] for e in events if e.event == "tool_result")
        if result["error"] is None:
            assert {"now", "weekday", "timezone"} <= set(json.loads(result["content"])), result
        else:
            assert "not a time zone" in result["content"], result
        before = len(thread(http, chat))
        # fetch_url is off until the person turns it on: asking for it is refused before
        # anything is stored.
        error = assert_error(http.post(f"/api/v1/chats/{chat}/messages", json={"content": "x", "tool_choice": named("fetch_url")}), 400, "invalid", "tool_choice")
        assert "fetch_url" in error["message"], error
        assert len(thread(http, chat)) == before
        assert_error(http.put("/api/v1/settings/tools.fetch_url", json={"value": "on"}), 400, "invalid")
        assert http.put("/api/v1/settings/tools.fetch_url", json={"value": True}).status_code == 200
        # Now it is offered, and asks first (it reaches the network).
        fetched = converse(http, chat, {"content": "Fetch example.com", "tool_choice": named("fetch_url"), "max_tokens": 96}, decide="deny")
        call = next((e.json() for e in fetched if e.event == "tool_call"), None)
        assert call is not None, [(e.event, e.data) for e in fetched]
        assert call["approval"] == "required" and call["call"]["name"] == "fetch_url", call
        assert fetched[-1].event == "message_end"
        assert_error(http.post(f"/api/v1/chats/{chat}/messages", json={"content": "x", "tool_choice": "sometimes"}), 400, "invalid", "tool_choice")
        assert_error(http.patch(f"/api/v1/workspaces/{new_chat_workspace(http, chat)}", json={"settings": {"tools": "yes"}}), 400, "invalid")


def new_chat_workspace(http: httpx.Client, chat: str) -> str:
    return http.get(f"/api/v1/chats/{chat}").json()["workspace_id"]
