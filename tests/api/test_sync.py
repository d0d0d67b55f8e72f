# The sync routes as a client sees them on a server that is not connected to any project
# (connecting needs the test bed, which the Rust end-to-end suite drives): the status says so
# truthfully, a round on demand is refused with the next step, and the event stream opens with
# the current status.

import httpx

from conftest import assert_error, parse_sse


def test_status_of_an_unconnected_device(http: httpx.Client) -> None:
    r = http.get("/api/v1/sync")
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["connected"] is False and status["signed_in"] is False
    assert status["activity"] == "stopped"
    assert status["rejected"] == [] and status["last_error"] is None
    assert set(status["pending"]) == {"changes", "transactions", "oldest"}


def test_a_round_needs_a_connection_first(http: httpx.Client) -> None:
    error = assert_error(http.post("/api/v1/sync/now"), 400, "invalid")
    assert "hearth sync connect" in error["message"]


def test_the_event_stream_opens_with_the_current_status(http: httpx.Client) -> None:
    with http.stream("GET", "/api/v1/sync/events", timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(parse_sse(r.iter_lines()))
    assert first.event == "status"
    assert first.json()["connected"] is False


def test_the_sync_routes_are_documented(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/api/v1/sync", "/api/v1/sync/now", "/api/v1/sync/events"} <= set(paths)
