# Hearth as an MCP server, used by another MCP client: the official `mcp` Python SDK lists
# and calls Hearth's tools over stdio (`hearth mcp serve`, started by the client) and over
# Streamable HTTP (`/mcp` of `hearth serve`), on a data folder holding a chat, a document
# and a workflow. Without the API token, or from a foreign web page's origin, `/mcp` is
# refused; writing tools appear only when the user turns them on.

import json
import os
import subprocess
from contextlib import asynccontextmanager

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from conftest import assert_error, hearth_bin, required_file, start_server

READ_ONLY = {"search_chats", "read_chat", "search_knowledge", "list_workflows", "chat"}
UPPER = {
    "nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "config": {"inputs": [{"name": "input", "type": "string"}]}},
        {"id": "js", "type": "code", "position": {"x": 200, "y": 0},
         "config": {"code": "function main(i) { return {text: i.t.toUpperCase()}; }", "inputs": {"t": "{{#start.input#}}"}}},
        {"id": "out", "type": "output", "position": {"x": 400, "y": 0}, "config": {"outputs": {"shout": "{{#js.text#}}"}}},
    ],
    "edges": [{"id": "a", "source": "start", "target": "js"}, {"id": "b", "source": "js", "target": "out"}],
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A server whose data folder holds a chat about tomatoes, a note on soil and a workflow."""
    work = tmp_path_factory.mktemp("mcp")
    server = start_server(work)
    with httpx.Client(base_url=server.base_url, headers=server.auth, timeout=120) as http:
        ws = http.post("/api/v1/workspaces", json={"name": "Garden", "handle": "garden"})
        assert ws.status_code == 201, ws.text
        chat = http.post(f"/api/v1/workspaces/{ws.json()['id']}/chats", json={"title": "Tomato plans"}).json()["id"]
        sent = http.post(f"/api/v1/chats/{chat}/messages", json={"content": "Plant the tomatoes by the south wall.", "max_tokens": 4})
        assert sent.status_code == 202, sent.text  # the reply goes on in the background
        flow = http.post("/api/v1/workflows", json={"name": "Shout", **UPPER})
        assert flow.status_code == 201, flow.text
    notes = work / "soil.md"
    notes.write_text("# Soil\n\nBlueberries want acid soil, around pH 5, with plenty of peat.\n")
    env = dict(os.environ, HEARTH_DATA_DIR=str(server.data_dir))
    added = subprocess.run([str(hearth_bin()), "knowledge", "add", str(notes), "--workspace", "garden"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert added.returncode == 0, added.stderr
    yield server, chat
    assert server.stop() == 0, server.stderr()


def text_of(result) -> str:
    assert not result.is_error, result
    assert len(result.content) == 1 and result.content[0].type == "text", result
    return result.content[0].text


async def check_tools(session: ClientSession, chat: str, writes: bool):
    """What every transport must show: the tools, and each one answering from the data."""
    await session.initialize()
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == READ_ONLY | ({"run_workflow"} if writes else set()), tools
    for tool in tools.values():
        assert tool.description and tool.input_schema["type"] == "object", tool

    hits = json.loads(text_of(await session.call_tool("search_chats", {"query": "tomatoes"})))
    assert any(h["chat_id"] == chat for h in hits), hits
    thread = json.loads(text_of(await session.call_tool("read_chat", {"chat_id": chat})))
    assert thread["title"] == "Tomato plans" and thread["messages"][0]["content"].startswith("Plant the tomatoes"), thread
    passages = json.loads(text_of(await session.call_tool("search_knowledge", {"query": "blueberries", "workspace": "garden"})))
    assert passages and "acid soil" in passages[0]["text"], passages
    flows = json.loads(text_of(await session.call_tool("list_workflows", {})))
    assert [(f["name"], f["inputs"]) for f in flows] == [("Shout", ["input"])], flows
    answer = json.loads(text_of(await session.call_tool("chat", {"message": "Say hi.", "max_tokens": 8})))
    assert answer["answer"] and answer["finish_reason"] in ("stop", "length"), answer

    # Failures are results the agent reads, and the session goes on.
    missing = await session.call_tool("read_chat", {"chat_id": "0190a0a0-0000-7000-8000-000000000000"})
    assert missing.is_error and "no chat with id" in missing.content[0].text, missing
    bad = await session.call_tool("search_knowledge", {"query": "x", "workspace": "No Such Handle!"})
    assert bad.is_error, bad
    if writes:
        run = json.loads(text_of(await session.call_tool("run_workflow", {"workflow": "Shout", "input": "quiet please"})))
        assert (run["status"], run["outputs"]) == ("succeeded", {"shout": "QUIET PLEASE"}), run
    else:
        # Not offered, so not there: the protocol's "unknown tool".
        with pytest.raises(MCPError, match="tool not found"):
            await session.call_tool("run_workflow", {"workflow": "Shout", "input": "x"})


def stdio_params(server, **env) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(hearth_bin()), args=["mcp", "serve"],
        env={**os.environ, "HEARTH_DATA_DIR": str(server.data_dir), "HEARTH_DEFAULT_MODEL": str(required_file("HEARTH_E2E_MODEL")), **env},
    )


def test_another_client_uses_hearths_tools_over_stdio(seeded):
    server, chat = seeded

    async def main():
        async with stdio_client(stdio_params(server)) as (read, write), ClientSession(read, write) as session:
            await check_tools(session, chat, writes=False)

    anyio.run(main)


def test_writing_tools_appear_when_the_user_allows_them(seeded):
    server, chat = seeded
    with httpx.Client(base_url=server.base_url, headers=server.auth) as http:
        assert http.put("/api/v1/settings/mcp.allow_writes", json={"value": True}).status_code == 200
        assert_error(http.put("/api/v1/settings/mcp.allow_writes", json={"value": "yes"}), 400, "invalid")

    async def main():
        async with stdio_client(stdio_params(server)) as (read, write), ClientSession(read, write) as session:
            await check_tools(session, chat, writes=True)
        async with http_session(server) as session:
            await check_tools(session, chat, writes=True)

    try:
        anyio.run(main)
    finally:
        with httpx.Client(base_url=server.base_url, headers=server.auth) as http:
            assert http.put("/api/v1/settings/mcp.allow_writes", json={"value": False}).status_code == 200


@asynccontextmanager
async def http_session(server, headers=None):
    headers = server.auth if headers is None else headers
    async with httpx2.AsyncClient(headers=headers, timeout=120) as client:
        async with streamable_http_client(server.base_url + "/mcp", http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                yield session


def test_another_client_uses_hearths_tools_over_http(seeded):
    server, chat = seeded

    async def main():
        async with http_session(server) as session:
            await check_tools(session, chat, writes=False)

    anyio.run(main)


def test_http_without_the_token_or_from_a_web_page_is_refused(seeded):
    server, _ = seeded
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"Accept": "application/json, text/event-stream"}
    url = server.base_url + "/mcp"
    assert_error(httpx.post(url, json=hello, headers=accept), 401, "unauthorized")
    assert_error(httpx.post(url, json=hello, headers={**accept, "Authorization": "Bearer " + "x" * 43}), 401, "unauthorized")
    page = {**accept, **server.auth, "Origin": "https://evil.example"}
    assert_error(httpx.post(url, json=hello, headers=page), 403, "forbidden")
    # Hearth's own UI origin is fine.
    own = httpx.post(url, json=hello, headers={**accept, **server.auth, "Origin": server.base_url})
    assert own.status_code == 200, own.text

    async def main():
        async with http_session(server, headers={}) as session:
            await session.initialize()

    # The SDK without the token cannot even start a session (its error does not carry the
    # status; the requests above show it is the 401).
    with pytest.raises(ExceptionGroup) as refused:
        anyio.run(main)
    assert refused.group_contains(MCPError, depth=None), repr(refused.value)
