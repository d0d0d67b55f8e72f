# Hearth as an MCP client, through `hearth mcp`: a real server from PyPI (mcp-server-time,
# from this suite's venv) attached, listed and called; a secret that reaches the server's
# environment from the keychain and nowhere else; and servers that misbehave (never answer
# their handshake, write garbage, exit mid-call, answer with 50 MB, never answer a call),
# each ending in a clear error or a capped answer within its time limit.

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import httpx

from conftest import assert_error, hearth_bin

# A minimal MCP server over stdio, in plain JSON-RPC, whose tools misbehave on purpose.
FAKE = textwrap.dedent('''
    import json, os, sys, time
    TOOLS = [{"name": n, "description": n, "inputSchema": {"type": "object"}} for n in ("echo_env", "boom", "large", "huge", "mute", "garble")]
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
        elif method == "tools/call":
            name = msg["params"]["name"]
            if name == "echo_env":
                seen = os.environ.get("TOKEN", "unset") + ("|leaked" if any(k.startswith("HEARTH_") for k in os.environ) else "|clean")
                send({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": seen}]}})
            elif name == "boom":
                sys.stderr.write("boom: the server fell over\\n"); sys.stderr.flush(); sys.exit(3)
            elif name in ("large", "huge"):
                size = (5 << 20) if name == "large" else (50 << 20)
                send({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": "x" * size}]}})
            elif name == "mute":
                time.sleep(600)
            elif name == "garble":
                sys.stdout.write("{this is not json-rpc\\n"); sys.stdout.flush()
            else:
                send({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": "unknown tool " + name}})
        else:
            send({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no such method"}})
''')


@pytest.fixture
def cli(tmp_path):
    env = dict(os.environ, HEARTH_DATA_DIR=str(tmp_path / "data"))
    env.pop("HEARTH_DEFAULT_MODEL", None)

    def run(*args, stdin=None, timeout=120):
        started = time.monotonic()
        done = subprocess.run([str(hearth_bin()), *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout)
        done.seconds = time.monotonic() - started
        return done

    return run


def attach_fake(cli, tmp_path, *extra, stdin=None):
    script = tmp_path / "fake_mcp.py"
    script.write_text(FAKE)
    added = cli("mcp", "add", "fake", *extra, "--", sys.executable, str(script), stdin=stdin)
    assert added.returncode == 0, added.stderr


def test_a_real_server_from_pypi_is_attached_listed_and_called(cli):
    server = Path(sys.executable).parent / "mcp-server-time"
    assert server.is_file(), "mcp-server-time comes with tests/api/requirements.txt"
    added = cli("mcp", "add", "time", "--", str(server), "--local-timezone", "UTC")
    assert added.returncode == 0, added.stderr
    listed = json.loads(cli("--json", "mcp", "list").stdout)
    assert [(s["name"], s["transport"], s["command"], s["args"], s["enabled"]) for s in listed] == \
        [("time", "stdio", str(server), ["--local-timezone", "UTC"], True)]
    tools = cli("--json", "mcp", "tools", "time")
    assert tools.returncode == 0, tools.stderr
    names = {t["name"]: t for t in json.loads(tools.stdout)}
    assert {"get_current_time", "convert_time"} <= set(names), names
    assert names["get_current_time"]["input_schema"]["type"] == "object"
    called = cli("--json", "mcp", "call", "time", "get_current_time", '{"timezone": "Asia/Tokyo"}')
    assert called.returncode == 0, called.stderr
    outcome = json.loads(called.stdout)
    assert not outcome["is_error"] and json.loads(outcome["text"])["timezone"] == "Asia/Tokyo", outcome
    # A bad argument is the server's own error answer, which the command reports as failed.
    bad = cli("mcp", "call", "time", "get_current_time", '{"timezone": "Mars/Olympus"}')
    assert bad.returncode != 0 and "Mars/Olympus" in bad.stderr + bad.stdout, bad
    removed = cli("mcp", "rm", "time")
    assert removed.returncode == 0 and json.loads(cli("--json", "mcp", "list").stdout) == []


def test_a_secret_reaches_the_server_from_the_keychain_only(cli, tmp_path):
    """...and Hearth's own environment does not: a stdio server gets PATH, HOME, the locale and
    the like, plus its own variables."""
    attach_fake(cli, tmp_path, "--secret", "TOKEN", stdin="tok-123-secret\n")
    called = cli("mcp", "call", "fake", "echo_env")
    # The secret is there, and none of Hearth's own environment (its data folder, a token).
    assert called.returncode == 0 and called.stdout.strip() == "tok-123-secret|clean", called
    listed = cli("--json", "mcp", "list").stdout
    assert "tok-123-secret" not in listed and json.loads(listed)[0]["secrets"] == ["TOKEN"], listed
    database = (tmp_path / "data" / "hearth.db").read_bytes()
    assert b"tok-123-secret" not in database


def test_misbehaving_servers_end_in_clear_errors(cli, tmp_path):
    attach_fake(cli, tmp_path)
    # Exits mid-call: the call fails, naming what the server wrote on its way out.
    boom = cli("mcp", "call", "fake", "boom", "--timeout", "20")
    assert boom.returncode != 0 and "stopped during the call" in boom.stderr and "the server fell over" in boom.stderr, boom.stderr
    # Answers with 5 MB: the answer is kept to 256 KiB, and says it was cut.
    large = cli("--json", "mcp", "call", "fake", "large", "--timeout", "60")
    assert large.returncode == 0, large.stderr
    outcome = json.loads(large.stdout)
    assert outcome["truncated"] and len(outcome["text"]) == 256 * 1024, {k: v for k, v in outcome.items() if k != "text"}
    # Answers with 50 MB: past the SDK's 16 MiB message limit the answer is dropped unread,
    # and the call ends at its time limit.
    huge = cli("mcp", "call", "fake", "huge", "--timeout", "5")
    assert huge.returncode != 0 and "did not answer the call within 5 s" in huge.stderr, huge.stderr[-2000:]
    # Never answers a call, or answers with garbage: the time limit ends it.
    for tool in ("mute", "garble"):
        stuck = cli("mcp", "call", "fake", tool, "--timeout", "2")
        assert stuck.returncode != 0 and "did not answer the call within 2 s" in stuck.stderr, (tool, stuck.stderr)
        assert stuck.seconds < 30, (tool, stuck.seconds)
    # A tool the server does not have: its error, as the server put it.
    missing = cli("mcp", "call", "fake", "nowhere", "--timeout", "20")
    assert missing.returncode != 0 and "failed the call" in missing.stderr and "unknown tool nowhere" in missing.stderr, missing.stderr


@pytest.mark.parametrize("body, expected", [
    ("import time; time.sleep(600)", "did not answer its handshake within 2 s"),
    ("import sys, time\nprint('hello, not json'); sys.stdout.flush(); time.sleep(600)", "did not answer its handshake within 2 s"),
    ("import sys; sys.stderr.write('cannot start: no config\\n'); sys.exit(1)", "cannot start: no config"),
])
def test_servers_that_never_start_properly_are_reported(cli, tmp_path, body, expected):
    script = tmp_path / "bad.py"
    script.write_text(body)
    assert cli("mcp", "add", "bad", "--", sys.executable, str(script)).returncode == 0
    tools = cli("mcp", "tools", "bad", "--timeout", "2")
    assert tools.returncode != 0 and expected in tools.stderr, tools.stderr
    assert tools.seconds < 30, tools.seconds
    missing = cli("mcp", "add", "gone", "--", "/nonexistent/mcp-server")
    assert missing.returncode == 0
    gone = cli("mcp", "tools", "gone")
    assert gone.returncode != 0 and "could not be started" in gone.stderr, gone.stderr


def test_bad_configurations_are_refused(cli):
    for args, field in [
        (["mcp", "add", "x y", "--", "cmd"], "name"),
        (["mcp", "add", "far", "--url", "http://example.com/mcp"], "url"),
        (["mcp", "add", "none"], "command"),
        (["mcp", "add", "kv", "--env", "NOEQUALS", "--", "cmd"], "env"),
    ]:
        r = cli("--json", *args)
        assert r.returncode != 0, (args, r.stdout)
        assert json.loads(r.stdout or r.stderr)["error"]["field"] == field, (args, r.stdout, r.stderr)
    assert cli("mcp", "rm", "never-added").returncode != 0


def test_an_http_server_is_reached_with_its_secret_header(cli, start_hearth):
    # Hearth's own `/mcp` is a real Streamable HTTP server (rmcp's), behind its token.
    server = start_hearth()
    added = cli("mcp", "add", "hearth", "--url", server.base_url + "/mcp", "--secret", "Authorization", stdin=f"Bearer {server.token}\n")
    assert added.returncode == 0, added.stderr
    tools = cli("--json", "mcp", "tools", "hearth")
    assert tools.returncode == 0, tools.stderr
    assert {"search_chats", "list_workflows"} <= {t["name"] for t in json.loads(tools.stdout)}
    called = cli("--json", "mcp", "call", "hearth", "list_workflows")
    assert called.returncode == 0 and json.loads(json.loads(called.stdout)["text"]) == [], called
    # The wrong token: the handshake is refused, and the command says so.
    cli("mcp", "add", "wrong", "--url", server.base_url + "/mcp", "--secret", "Authorization", stdin="Bearer " + "x" * 43 + "\n")
    refused = cli("mcp", "tools", "wrong", "--timeout", "10")
    assert refused.returncode != 0 and "did not complete its handshake" in refused.stderr, refused.stderr


def test_servers_are_managed_over_the_api(start_hearth, tmp_path):
    server = start_hearth()
    script = tmp_path / "fake_mcp.py"
    script.write_text(FAKE)
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=120) as http:
        body = {"transport": "stdio", "command": sys.executable, "args": [str(script)], "secrets": {"TOKEN": "api-secret-456"}}
        put = http.put("/api/v1/mcp/servers/fake", json=body)
        assert put.status_code == 200, put.text
        assert "api-secret-456" not in put.text and put.json()["secrets"] == ["TOKEN"], put.json()
        listed = http.get("/api/v1/mcp/servers")
        assert [s["name"] for s in listed.json()] == ["fake"] and "api-secret-456" not in listed.text
        tools = http.get("/api/v1/mcp/servers/fake/tools")
        assert tools.status_code == 200, tools.text
        assert "echo_env" in [t["name"] for t in tools.json()["tools"]]
        # Turned off and on again, it keeps its secret (a PATCH changes only the switch).
        off = http.patch("/api/v1/mcp/servers/fake", json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["secrets"], off.text
        assert http.patch("/api/v1/mcp/servers/fake", json={"enabled": True}).json()["enabled"] is True
        assert_error(http.patch("/api/v1/mcp/servers/nope", json={"enabled": True}), 404, "not_found")
        # Refused configurations name their field; a server that cannot start is a 502.
        assert_error(http.put("/api/v1/mcp/servers/far", json={"transport": "http", "url": "http://example.com/mcp"}), 400, "invalid", "url")
        assert_error(http.put("/api/v1/mcp/servers/x", json={"transport": "pigeon"}), 400, "invalid", "transport")
        assert_error(http.put("/api/v1/mcp/servers/x", json={"transport": "stdio"}), 400, "invalid", "command")
        assert http.put("/api/v1/mcp/servers/gone", json={"transport": "stdio", "command": "/nonexistent/server"}).status_code == 200
        error = assert_error(http.get("/api/v1/mcp/servers/gone/tools"), 502, "upstream")
        assert "could not be started" in error["message"], error
        assert http.delete("/api/v1/mcp/servers/fake").status_code == 204
        assert_error(http.delete("/api/v1/mcp/servers/fake"), 404, "not_found")
        assert_error(http.get("/api/v1/mcp/servers/fake/tools"), 404, "not_found")
