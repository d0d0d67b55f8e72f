# The API suite's shared parts: a real `hearth serve` (one for the session, more on demand),
# clients for it, the error-shape check and the one SSE parser.
#
# Every server runs on a throwaway data folder with a random token and the real default
# model (HEARTH_E2E_MODEL, registered as smollm2-135m-instruct), on a port it picks itself; its stderr
# goes to a file that failures quote. Stopping one sends SIGTERM and requires exit status 0.

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

MODEL = "smollm2-135m-instruct"
START_TIMEOUT = 60
STOP_TIMEOUT = 30
LISTENING = re.compile(r"^hearth: listening on (http://127\.0\.0\.1:(\d+))$")

ERROR_TYPES = {
    400: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
}


def required_file(var: str) -> Path:
    value = os.environ.get(var)
    if not value:
        raise pytest.UsageError(f"{var} is not set: the API suite needs HEARTH_BIN (the built hearth binary) and HEARTH_E2E_MODEL (the GGUF model)")
    if not Path(value).is_file():
        raise pytest.UsageError(f"{var}={value} is not a file")
    return Path(value)


def pytest_configure(config: pytest.Config) -> None:
    required_file("HEARTH_BIN")
    required_file("HEARTH_E2E_MODEL")


def hearth_bin() -> Path:
    return required_file("HEARTH_BIN")


@dataclass
class Server:
    base_url: str
    token: str
    data_dir: Path
    process: subprocess.Popen
    stderr_path: Path

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> int:
        """Sends SIGTERM and returns the exit status; fails if it takes over STOP_TIMEOUT."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"hearth serve did not exit within {STOP_TIMEOUT} s of SIGTERM\n--- stderr ---\n{self.stderr()}")


def start_server(workdir: Path, *, data_dir: Path | None = None, token: str | None = None, env: dict[str, str] | None = None) -> Server:
    """Starts `hearth serve` on a free port: in `data_dir` (reused, for a restart) or a new
    folder, with `token` (or a random one) and extra environment variables."""
    workdir.mkdir(parents=True, exist_ok=True)
    if data_dir is None:
        data_dir = workdir / "data"
        data_dir.mkdir()
    token = token or secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "HEARTH_DATA_DIR": str(data_dir),
        "HEARTH_API_TOKEN": token,
        "HEARTH_DEFAULT_MODEL": str(required_file("HEARTH_E2E_MODEL")),
        # A test's own values win (a first-run server names a model file that is not there).
        **(env or {}),
    }
    env.pop("HEARTH_PORT", None)
    stderr_path = workdir / f"stderr-{secrets.token_hex(4)}.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(hearth_bin()), "serve", "--port", "0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )

    # A thread reads stdout for the whole life of the process, so the pipe never fills.
    found: queue.Queue[str | None] = queue.Queue()
    stdout_lines: list[str] = []

    def read_stdout() -> None:
        announced = False
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            stdout_lines.append(line)
            match = LISTENING.match(line)
            if match and not announced:
                announced = True
                found.put(match.group(1))
        if not announced:
            found.put(None)

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        base_url = found.get(timeout=START_TIMEOUT)
        why = "exited before printing its listening line"
    except queue.Empty:
        base_url = None
        why = f"did not print its listening line within {START_TIMEOUT} s"
    if base_url is None:
        if process.poll() is None:
            process.kill()
        process.wait()
        stdout = "\n".join(stdout_lines)
        stderr = stderr_path.read_text(errors="replace")
        pytest.fail(f"hearth serve {why} (exit status {process.returncode})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
    return Server(base_url=base_url, token=token, data_dir=data_dir, process=process, stderr_path=stderr_path)


@pytest.fixture(scope="session")
def hearth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("hearth"))
    yield server
    status = server.stop()
    assert status == 0, f"hearth serve exited with {status} on SIGTERM\n--- stderr ---\n{server.stderr()}"


@pytest.fixture
def start_hearth(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Starts servers of a test's own; any still running at the end must stop cleanly."""
    started: list[Server] = []

    def start(**options) -> Server:
        server = start_server(tmp_path / f"server-{len(started)}", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            status = server.stop()
            assert status == 0, f"hearth serve exited with {status} on SIGTERM\n--- stderr ---\n{server.stderr()}"


@pytest.fixture(scope="session")
def client(hearth: Server) -> Iterator[openai.OpenAI]:
    # No retries: a 5xx or 429 must show as the failure it is, not be retried away.
    sdk = openai.OpenAI(base_url=hearth.base_url + "/v1", api_key=hearth.token, max_retries=0, timeout=120)
    yield sdk
    sdk.close()


@pytest.fixture(scope="session")
def http(hearth: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hearth.base_url, headers=hearth.auth, timeout=120) as c:
        yield c


def assert_error(response: httpx.Response, status: int, code: str, param: str | None = None) -> dict:
    """Checks the error shape every route answers with; returns the inner object."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    # Only an invalid workflow lists its problems, each naming its node or edge.
    assert set(error) == {"message", "type", "param", "code"} | ({"problems"} if code == "invalid_workflow" else set()), error
    assert isinstance(error["message"], str) and error["message"], error
    assert (error["type"], error["code"]) == (ERROR_TYPES[status], code), error
    assert error["param"] is None or isinstance(error["param"], str), error
    if param is not None:
        assert error["param"] == param, error
    return error


@dataclass(frozen=True)
class SseEvent:
    id: str | None
    event: str | None
    data: str

    def json(self):
        return json.loads(self.data)


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Server-sent events from a stream's lines: `id:`, `event:`, `data:` fields, a blank line
    ends an event, `:` lines are comments. A stream that stops inside an event is an error."""
    event_id: str | None = None
    name: str | None = None
    data: list[str] = []
    pending = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line == "":
            if pending:
                yield SseEvent(event_id, name, "\n".join(data))
            event_id, name, data, pending = None, None, [], False
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        pending = True
        if field == "id":
            event_id = value
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)
    assert not pending, f"the stream ended inside an event (id {event_id}, event {name}, data {data})"


def read_sse(response: httpx.Response) -> list[SseEvent]:
    """All events of a streamed httpx response, which must be a 200 event stream."""
    if response.status_code != 200:
        response.read()
        pytest.fail(f"expected an event stream, got {response.status_code}: {response.text}")
    assert response.headers.get("content-type", "").startswith("text/event-stream"), response.headers
    return list(parse_sse(response.iter_lines()))
