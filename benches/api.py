"""`make bench` (HTTP part): `hearth serve` beside llama.cpp's own llama-server, both driven
through the openai SDK the way a client program would, on the same model and machine.

Printed, each with its goal (a missed goal is reported, never fatal):
- start-to-ready of `hearth serve` (spawn to its "listening" line, and to the first 200 from
  /health), median of several starts (goal < 150 ms), and its resident memory right after
  ready with no model loaded (goal < 60 MB, decimal);
- one streamed chat completion at a time, 128 tokens forced with `ignore_eos`, temperature 0:
  time to first content token (goal: Hearth at most 1.05x llama-server) and generation
  tokens/s between the first and last token (goal: at least 1.0x), in rounds in which the
  server that goes first alternates;
- aggregate tokens/s with 4 clients streaming at once (goal: at least 1.0x).

Each side's best round counts, as in the engine benchmark: on this 2-core machine a neighbour
process makes ggml's threads wait for each other, and a disturbed round can run at a tenth of
the speed, so the slow rounds measure the neighbours, not the server. Medians are printed
beside the best and kept in the JSON.

Inputs (options, or the environment): HEARTH_BIN (the hearth binary), HEARTH_E2E_MODEL (the
GGUF) and LLAMA_SERVER (llama-server, from scripts/build-llama-tools.sh). Figures also go to
bench-results/api.json (or HEARTH_API_BENCH_OUT).

Exit status: 0 when everything ran, whatever the figures; non-zero when a server does not
start or a request fails. Both servers are stopped on every path (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import openai

THREADS = 2
SLOTS = 4
SLOT_CONTEXT = 1024
MAX_TOKENS = 128
HEARTH_MODEL = "smollm2-135m-instruct"
PROMPT = (
    "Write a short story about a lighthouse keeper who finds a message in a bottle. "
    "Give the keeper a name and describe the weather on the island. "
    "Tell how the keeper tries to find whoever wrote the message. "
    "End the story with a surprise, and keep the language simple."
)
START_TIMEOUT = 30.0  # hearth serve: spawn to ready
LLAMA_START_TIMEOUT = 180.0  # llama-server loads the model before /health answers 200
REQUEST_TIMEOUT = 300.0

GOALS = {
    "tokens_per_second_ratio": ">= 1.0",
    "ttft_ratio": "<= 1.05",
    "aggregate_ratio": ">= 1.0",
    "start_to_ready_ms": "< 150",
    "idle_rss_mb": "< 60",
}


class BenchError(Exception):
    """A server did not start or a request failed: the run is void."""


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    log: Path
    base_url: str = ""
    api_key: str = "none"
    model: str = "default"
    drain: threading.Thread | None = field(default=None, repr=False)

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=self.api_key, max_retries=0, timeout=REQUEST_TIMEOUT)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def stop(server: Server | None) -> int | None:
    """SIGTERM, then SIGKILL after 10 s; returns the exit status (negative for a signal)."""
    if server is None:
        return None
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if server.drain is not None:
        server.drain.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_ok(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def rss_mb(pid: int) -> float:
    """VmRSS from /proc/PID/status, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise BenchError(f"no VmRSS for process {pid}")


def start_llama_server(binary: Path, model: Path, workdir: Path) -> Server:
    port = free_port()
    log = workdir / "llama-server.log"
    args = [
        str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--threads", str(THREADS), "--threads-batch", str(THREADS),
        "--parallel", str(SLOTS), "--ctx-size", str(SLOTS * SLOT_CONTEXT),
        # Hearth applies the GGUF's template through llama.cpp's built-in templates (ChatML
        # for this model); --no-jinja gives llama-server the same path, so both see the same
        # prompt tokens (its Jinja renderer would add the template's default system prompt).
        "--no-jinja",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    server = Server("llama-server", proc, log, base_url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + LLAMA_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"llama-server exited with {proc.returncode} while starting:\n{server.log_tail()}")
        if health_ok(server.base_url):
            return server
        time.sleep(0.1)
    stop(server)
    raise BenchError(f"llama-server was not healthy after {LLAMA_START_TIMEOUT:.0f} s:\n{server.log_tail()}")


READY = re.compile(rb"hearth: listening on (http://\S+)")


@dataclass
class HearthStart:
    server: Server
    to_line_ms: float
    to_health_ms: float
    idle_rss_mb: float


def start_hearth(binary: Path, model: Path, data_dir: Path, token: str, log: Path) -> HearthStart:
    """Spawns `hearth serve --port 0` and times it to its "listening" line and to /health."""
    env = dict(os.environ)
    for name in ("RUST_LOG", "HEARTH_PORT"):
        env.pop(name, None)
    env.update(HEARTH_DATA_DIR=str(data_dir), HEARTH_API_TOKEN=token, HEARTH_DEFAULT_MODEL=str(model))
    errors = open(log, "ab")
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [str(binary), "serve", "--port", "0"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        )
    finally:
        errors.close()
    server = Server("hearth", proc, log, api_key=token, model=HEARTH_MODEL)
    try:
        # Read stdout without blocking so a server that never prints still times out.
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        buffered = b""
        url = None
        deadline = started + START_TIMEOUT
        while url is None:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise BenchError(f"hearth serve printed no 'listening' line in {START_TIMEOUT:.0f} s:\n{server.log_tail()}")
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                proc.wait(timeout=10)
                raise BenchError(f"hearth serve exited with {proc.returncode} before it was ready:\n{server.log_tail()}")
            buffered += chunk
            while b"\n" in buffered and url is None:
                line, buffered = buffered.split(b"\n", 1)
                match = READY.search(line)
                if match:
                    url = match.group(1).decode().rstrip("/")
        to_line = time.perf_counter() - started
        selector.close()
        server.base_url = url
        while not health_ok(url):
            if proc.poll() is not None:
                raise BenchError(f"hearth serve exited with {proc.returncode} after its 'listening' line:\n{server.log_tail()}")
            if time.perf_counter() > deadline:
                raise BenchError(f"hearth serve's /health did not answer 200 in {START_TIMEOUT:.0f} s:\n{server.log_tail()}")
            time.sleep(0.001)
        to_health = time.perf_counter() - started
        idle = rss_mb(proc.pid)
        # Whatever else the server prints to stdout goes to its log, so the pipe never fills.
        server.drain = threading.Thread(target=drain, args=(proc.stdout, log, buffered), daemon=True)
        server.drain.start()
    except BaseException:
        stop(server)
        raise
    return HearthStart(server, to_line * 1000, to_health * 1000, idle)


def drain(pipe, log: Path, already: bytes) -> None:
    with open(log, "ab") as out:
        out.write(already)
        for chunk in iter(lambda: pipe.read1(65536), b""):
            out.write(chunk)


@dataclass
class Stream:
    ttft_ms: float
    tokens_per_second: float
    completion_tokens: int
    total_s: float
    prompt_tokens: int
    cached_prompt_tokens: int | None


def stream_once(server: Server, client: openai.OpenAI, max_tokens: int = MAX_TOKENS) -> Stream:
    """One streamed chat completion; times the first and last content tokens."""
    first = last = None
    usage = None
    sent = time.perf_counter()
    try:
        stream = client.chat.completions.create(
            model=server.model,
            messages=[{"role": "user", "content": PROMPT}],
            temperature=0,
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                now = time.perf_counter()
                if first is None:
                    first = now
                last = now
            if chunk.usage is not None:
                usage = chunk.usage
    except openai.OpenAIError as e:
        raise BenchError(f"{server.name}: request failed: {e}") from e
    done = time.perf_counter()
    if first is None:
        raise BenchError(f"{server.name}: the stream had no content")
    if usage is None:
        raise BenchError(f"{server.name}: the stream had no usage chunk (stream_options.include_usage)")
    tokens = usage.completion_tokens
    if tokens != max_tokens:
        print(f"warning: {server.name} generated {tokens} tokens, not {max_tokens} (ignore_eos not honoured?)", file=sys.stderr)
    span = last - first
    rate = (tokens - 1) / span if span > 0 and tokens > 1 else float("nan")
    details = usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None else None
    return Stream((first - sent) * 1000, rate, tokens, done - sent, usage.prompt_tokens, cached)


def concurrent(server: Server, clients: int, max_tokens: int = MAX_TOKENS) -> tuple[float, int]:
    """`clients` streams at once, one thread and client each; returns (aggregate tokens/s, tokens)."""
    sdk = [server.client() for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    results: list[Stream | BaseException | None] = [None] * clients

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = stream_once(server, sdk[i], max_tokens)
        except BaseException as e:  # re-raised on the main thread
            results[i] = e

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    for c in sdk:
        c.close()
    for r in results:
        if isinstance(r, BaseException):
            raise r if isinstance(r, BenchError) else BenchError(f"{server.name}: {r!r}")
    tokens = sum(r.completion_tokens for r in results)
    return tokens / wall, tokens


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def met(value: float, goal: str) -> str:
    op, bound = goal.split()
    bound = float(bound)
    ok = {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]
    return "yes" if ok else "NO"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hearth-bin", default=os.environ.get("HEARTH_BIN"))
    parser.add_argument("--model", default=os.environ.get("HEARTH_E2E_MODEL"))
    parser.add_argument("--llama-server", default=os.environ.get("LLAMA_SERVER"))
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of single-stream requests")
    parser.add_argument("--concurrent-rounds", type=int, default=3, help="alternating rounds of 4-client requests")
    parser.add_argument("--starts", type=int, default=5, help="timed starts of hearth serve")
    parser.add_argument(
        "--out",
        default=os.environ.get("HEARTH_API_BENCH_OUT", str(Path(__file__).resolve().parent.parent / "bench-results" / "api.json")),
    )
    args = parser.parse_args()
    paths = {}
    for name, value in (("HEARTH_BIN", args.hearth_bin), ("HEARTH_E2E_MODEL", args.model), ("LLAMA_SERVER", args.llama_server)):
        if not value:
            print(f"{name} is not set: run the benchmark with `make bench`", file=sys.stderr)
            return 2
        if not Path(value).is_file():
            print(f"{name} points at {value}, which does not exist", file=sys.stderr)
            return 2
        paths[name] = Path(value).resolve()

    # make (or a person) stopping the run with SIGTERM still goes through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="hearth-api-bench-"))
    try:
        return run(args, paths, workdir)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, paths: dict[str, Path], workdir: Path) -> int:
    hearth_bin, model, llama_bin = paths["HEARTH_BIN"], paths["HEARTH_E2E_MODEL"], paths["LLAMA_SERVER"]
    data_dir = workdir / "data"
    data_dir.mkdir()
    token = secrets.token_urlsafe(24)
    hearth_log = workdir / "hearth.log"
    print(f"hearth serve vs llama-server: {model.name} ({model.stat().st_size / 1e6:.0f} MB), {THREADS} threads, {MAX_TOKENS} tokens a request")

    servers: dict[str, Server] = {}
    try:
        # Start-to-ready and idle memory: several starts on one data folder (the first one
        # creates it, as a person's first start would), each stopped with SIGTERM.
        starts: list[HearthStart] = []
        for _ in range(args.starts):
            s = start_hearth(hearth_bin, model, data_dir, token, hearth_log)
            starts.append(s)
            status = stop(s.server)
            if status != 0:
                print(f"warning: hearth serve exited with {status} on SIGTERM (the contract says 0)", file=sys.stderr)
        to_line = median([s.to_line_ms for s in starts])
        to_health = median([s.to_health_ms for s in starts])
        idle = median([s.idle_rss_mb for s in starts])
        print(f"hearth serve starts (ms to 'listening'): {', '.join(f'{s.to_line_ms:.1f}' for s in starts)}")

        servers["llama-server"] = start_llama_server(llama_bin, model, workdir)
        servers["hearth"] = start_hearth(hearth_bin, model, data_dir, token, hearth_log).server
        clients = {name: s.client() for name, s in servers.items()}

        # Warm-up: Hearth loads its model on the first request; both fill their caches.
        warmup = {}
        for name, s in servers.items():
            started = time.perf_counter()
            stream_once(s, clients[name], 16)
            warmup[name] = (time.perf_counter() - started) * 1000
            concurrent(s, SLOTS, 8)
        print(f"first request (Hearth: includes loading the model): hearth {warmup['hearth']:.0f} ms, llama-server {warmup['llama-server']:.0f} ms")

        order = ["hearth", "llama-server"]
        single: dict[str, list[Stream]] = {name: [] for name in order}
        for i in range(args.rounds):
            for name in order if i % 2 == 0 else reversed(order):
                single[name].append(stream_once(servers[name], clients[name]))
        aggregate: dict[str, list[float]] = {name: [] for name in order}
        for i in range(args.concurrent_rounds):
            for name in order if i % 2 == 0 else reversed(order):
                aggregate[name].append(concurrent(servers[name], SLOTS)[0])
        loaded_rss = {name: rss_mb(s.proc.pid) for name, s in servers.items()}
        # Both apply the same chat template, so the prompt's token count should match; the
        # cached count shows whether a prefix cache served it (both have one, on by default).
        print(
            "prompt tokens (cached): "
            + ", ".join(f"{n} {single[n][-1].prompt_tokens} ({single[n][-1].cached_prompt_tokens})" for n in order)
        )
        for c in clients.values():
            c.close()
    finally:
        statuses = {name: stop(s) for name, s in servers.items()}
    if statuses.get("hearth") not in (0, None):
        print(f"warning: hearth serve exited with {statuses['hearth']} on SIGTERM (the contract says 0)", file=sys.stderr)

    ttft = {n: min(r.ttft_ms for r in single[n]) for n in order}
    tps = {n: max(r.tokens_per_second for r in single[n]) for n in order}
    agg = {n: max(aggregate[n]) for n in order}
    medians = {
        "ttft_ms": {n: median([r.ttft_ms for r in single[n]]) for n in order},
        "tokens_per_second": {n: median([r.tokens_per_second for r in single[n]]) for n in order},
        "aggregate_tokens_per_second": {n: median(aggregate[n]) for n in order},
    }
    ratios = {
        "ttft_ratio": ratio(ttft["hearth"], ttft["llama-server"]),
        "tokens_per_second_ratio": ratio(tps["hearth"], tps["llama-server"]),
        "aggregate_ratio": ratio(agg["hearth"], agg["llama-server"]),
    }

    rows = [
        ("time to first token, ms", f"{ttft['hearth']:.1f}", f"{ttft['llama-server']:.1f}", ratios["ttft_ratio"], "ttft_ratio"),
        ("generation, tokens/s", f"{tps['hearth']:.1f}", f"{tps['llama-server']:.1f}", ratios["tokens_per_second_ratio"], "tokens_per_second_ratio"),
        (f"{SLOTS} clients aggregate, tokens/s", f"{agg['hearth']:.1f}", f"{agg['llama-server']:.1f}", ratios["aggregate_ratio"], "aggregate_ratio"),
        ("start to 'listening', ms", f"{to_line:.1f}", "-", to_line, "start_to_ready_ms"),
        ("start to /health 200, ms", f"{to_health:.1f}", "-", to_health, "start_to_ready_ms"),
        ("idle RSS, no model, MB", f"{idle:.1f}", "-", idle, "idle_rss_mb"),
        ("RSS after the runs, MB", f"{loaded_rss['hearth']:.1f}", f"{loaded_rss['llama-server']:.1f}", None, None),
    ]
    print()
    print(f"{'metric':<32} {'hearth':>9} {'llama-server':>13} {'ratio':>7}   goal       met")
    for label, h, l, value, goal in rows:
        if goal is None:
            print(f"{label:<32} {h:>9} {l:>13}")
            continue
        shown = f"{value:.2f}" if goal.endswith("ratio") else ""
        target = ("ratio " if goal.endswith("ratio") else "") + GOALS[goal]
        print(f"{label:<32} {h:>9} {l:>13} {shown:>7}   {target:<10} {met(value, GOALS[goal])}")
    print(
        f"(best of {args.rounds} alternating single-stream rounds and of {args.concurrent_rounds} {SLOTS}-client rounds; "
        f"median of {args.starts} starts; MB = 10^6 bytes)"
    )
    print(
        "medians: "
        + "; ".join(
            f"{label} hearth {m['hearth']:.1f}, llama-server {m['llama-server']:.1f}"
            for label, m in zip(("time to first token ms", "tokens/s", f"{SLOTS} clients tokens/s"), medians.values())
        )
    )

    figures = {
        "model": str(model),
        "threads": THREADS,
        "max_tokens": MAX_TOKENS,
        "clients": SLOTS,
        "hearth": {
            "ttft_ms": ttft["hearth"],
            "tokens_per_second": tps["hearth"],
            "aggregate_tokens_per_second": agg["hearth"],
            "start_to_listening_ms": to_line,
            "start_to_health_ms": to_health,
            "idle_rss_mb": idle,
            "rss_after_runs_mb": loaded_rss["hearth"],
            "first_request_ms": warmup["hearth"],
            "rounds": [r.__dict__ for r in single["hearth"]],
            "aggregate_rounds": aggregate["hearth"],
            "starts_ms": [s.to_line_ms for s in starts],
        },
        "llama_server": {
            "ttft_ms": ttft["llama-server"],
            "tokens_per_second": tps["llama-server"],
            "aggregate_tokens_per_second": agg["llama-server"],
            "rss_after_runs_mb": loaded_rss["llama-server"],
            "rounds": [r.__dict__ for r in single["llama-server"]],
            "aggregate_rounds": aggregate["llama-server"],
        },
        "ratios": ratios,
        "medians": medians,
        "summary": "best round for ttft, tokens/s and aggregate; median of starts for start and idle RSS",
        "goals": GOALS,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
