"""The content server's requests/s and latency, as ratios against baselines of the same run.

`io-relay content` answers IO's backend: details (`GET /messages/{id}`: the API key, the
fiscal_code header, the sealed id opened, the attachments listed) and attachments (`GET
/messages/{id}/{attachment}`: the PDF streamed from its document source). This starts the IO
sandbox (its document store holds a 1,000,000-byte PDF), the content server and a trivial
raw-ASGI app (`bench.content_target`), all under the same uvicorn settings, and drives each
from an aiohttp client with `--concurrency` requests in flight:

    details              the content server's details         against  the trivial app
    1 MB attachment      the content server relaying the PDF  against  the store serving it

The servers share core 0 and the client has core 1 (`--no-pin` leaves it to the kernel), so
in the attachment pair the relay and the store share a core: the ratio is what the relay
adds. Each round measures all four, baselines first, then the order reversed; with more
than one round every figure is the median of the rounds. Machines this small are noisy:
the absolute figures are this machine's, the ratios are what carries over, and the steadiest
is the answering server's CPU per request (read from /proc), which other load moves least.
`make bench` runs it after `bench.run_all`; alone:

    .venv/bin/python -m bench.content_server [--duration 3] [--warmup 1] [--rounds 2]
        [--concurrency 16] [--size 1000000] [--no-pin]

About 35 s by default; `--rounds 5 --duration 10` for steadier figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import uvloop

from bench import content_target
from bench.harness import LISTENING as SANDBOX_LISTENING
from bench.harness import REPO, Row, cores, percentile
from consumer.sandbox.pdf import text_pdf
from consumer.sandbox.settings import DOCUMENT_BEARER_DEFAULT

SERVER_CORE, CLIENT_CORE = 0, 1
ATTACHMENT_BYTES = 1_000_000
TARGET_LISTENING = re.compile(re.escape(content_target.LISTENING_PREFIX) + r" (http://\S+)")
START_TIMEOUT_S = 30.0
_PAD_LINE = 100
_XREF_ENTRY = re.compile(rb"(\d{10}) 00000 n ")
_STARTXREF = re.compile(rb"startxref\n(\d+)\n")


# -- what is served --------------------------------------------------------------------------


def padded_pdf(size: int) -> bytes:
    """A valid one-page PDF of exactly `size` bytes: comment lines after the header, and the
    cross-reference offsets moved past them, so a strict reader still opens it."""
    pdf = text_pdf("io-relay bench", [f"An attachment of {size:,} bytes"])
    header_end = pdf.index(b"\n", pdf.index(b"\n") + 1) + 1  # "%PDF-1.4", the binary comment
    xref_at = int(_STARTXREF.findall(pdf)[-1])
    room = size - len(pdf)
    # The padding moves startxref's value, which may take more digits: the padding gives
    # them up. Whichever growth is consistent is the one.
    shift = next(
        room - grown
        for grown in range(8)
        if len(str(xref_at + room - grown)) - len(str(xref_at)) == grown
    )
    if shift < _PAD_LINE:
        raise ValueError(f"a PDF of {size} bytes is too small to pad; try {len(pdf) + 100}")
    lines, extra = divmod(shift, _PAD_LINE)

    def line(length: int) -> bytes:
        return b"%" + b"p" * (length - 2) + b"\n"

    padding = line(_PAD_LINE + extra) + line(_PAD_LINE) * (lines - 1)
    tail = _XREF_ENTRY.sub(lambda m: b"%010d 00000 n " % (int(m[1]) + shift), pdf[header_end:])
    tail = _STARTXREF.sub(lambda m: b"startxref\n%d\n" % (int(m[1]) + shift), tail)
    padded = pdf[:header_end] + padding + tail
    assert len(padded) == size
    return padded


# -- the servers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


def _pinned(command: list[str], pin: bool) -> list[str]:
    if pin and shutil.which("taskset"):
        return ["taskset", "-c", str(SERVER_CORE), *command]
    return command


@contextmanager
def _process(command: list[str], log: Path, pattern: re.Pattern[str]) -> Iterator[Server]:
    """A server subprocess; yields the URL it prints once listening, and stops it on exit."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        yield Server(_listening_url(log, process, pattern), process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening_url(log: Path, process: subprocess.Popen[bytes], pattern: re.Pattern[str]) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found:
            return found[1]
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"bench: {log.stem} did not start:\n{log.read_text(errors='replace')}")


# -- the load ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scenario: str
    url: str
    headers: Mapping[str, str]
    size: int
    """The body every answer must have, in bytes."""
    pid: int
    """The server that answers the client: its CPU time is counted."""


@dataclass
class Result:
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def per_s(self) -> float:
        return len(self.latencies_s) / self.duration_s

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_s, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_s, 0.99) * 1000

    @property
    def cpu_ms(self) -> float:
        """The answering server's CPU per request."""
        return self.cpu_s / max(1, len(self.latencies_s)) * 1000


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _get(session: aiohttp.ClientSession, target: Target) -> bool:
    try:
        async with session.get(target.url, headers=dict(target.headers)) as response:
            body = await response.read()
            return response.status == 200 and len(body) == target.size
    except aiohttp.ClientError:
        return False


async def _drive(target: Target, *, concurrency: int, warmup_s: float, duration_s: float) -> Result:
    """`concurrency` clients in a loop; requests begun within the window are measured."""
    result = Result(duration_s)
    start = time.perf_counter() + warmup_s
    stop = start + duration_s

    async def client(session: aiohttp.ClientSession) -> None:
        while (began := time.perf_counter()) < stop:
            ok = await _get(session, target)
            if began >= start:
                result.latencies_s.append(time.perf_counter() - began)
                result.errors += 0 if ok else 1

    async def cpu() -> None:
        await asyncio.sleep(start - time.perf_counter())
        before, client_before = _cpu_seconds(target.pid), time.process_time()
        await asyncio.sleep(stop - time.perf_counter())
        result.cpu_s = _cpu_seconds(target.pid) - before
        result.client_cpu_s = time.process_time() - client_before

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(cpu(), *(client(session) for _ in range(concurrency)))
    return result


# -- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Servers:
    store: Server
    content: Server
    trivial: Server


@contextmanager
def servers(workdir: Path, *, pin: bool) -> Iterator[Servers]:
    """The sandbox (document store), the content server and the trivial app, stopped on exit."""
    sandbox = [sys.executable, "-m", "consumer.sandbox", "--host", "127.0.0.1", "--port", "0"]
    sandbox += ["--rate-limit", "off", "--latency-ms", "0"]
    target = [sys.executable, "-m", "bench.content_target"]
    with ExitStack() as stack:
        store = stack.enter_context(
            _process(_pinned(sandbox, pin), workdir / "sandbox.log", SANDBOX_LISTENING)
        )
        content = [*target, "content", "--documents", f"{store.url}/documents/"]
        trivial = [*target, "trivial"]
        yield Servers(
            store,
            stack.enter_context(
                _process(_pinned(content, pin), workdir / "content-server.log", TARGET_LISTENING)
            ),
            stack.enter_context(
                _process(_pinned(trivial, pin), workdir / "trivial-app.log", TARGET_LISTENING)
            ),
        )


def targets(running: Servers, size: int) -> list[tuple[Target, Target]]:
    """(measured, baseline) pairs, with the PDF stored and every target checked once."""
    document = padded_pdf(size)
    stored = httpx.put(
        f"{running.store.url}/__sandbox/documents/{content_target.DOCUMENT_PATH}",
        content=document,
        timeout=30,
    )
    stored.raise_for_status()
    message_id = content_target.keys().seal(content_target.reference())
    io = {content_target.HEADER_KEY_NAME: content_target.API_KEY}
    io["fiscal_code"] = content_target.FISCAL_CODE
    details = f"/messages/{message_id}"
    attachment = f"{details}/{content_target.ATTACHMENT_ID}"
    small = len(content_target.details_body())
    mb = f"{size / 1e6:g} MB attachment"
    pairs = [
        (
            Target("details: content server", running.content.url + details, io, small,
                   running.content.pid),
            Target("details: trivial ASGI app (baseline)", running.trivial.url + details, io,
                   small, running.trivial.pid),
        ),
        (
            Target(f"{mb}: content server", running.content.url + attachment, io, size,
                   running.content.pid),
            Target(
                f"{mb}: document store directly (baseline)",
                f"{running.store.url}/documents/{content_target.DOCUMENT_PATH}",
                {"authorization": f"Bearer {DOCUMENT_BEARER_DEFAULT}"},
                size,
                running.store.pid,
            ),
        ),
    ]  # fmt: skip
    for pair in pairs:
        for target in pair:
            answer = httpx.get(target.url, headers=dict(target.headers), timeout=10)
            if answer.status_code != 200 or len(answer.content) != target.size:
                raise SystemExit(
                    f"bench: {target.scenario} answered {answer.status_code} with "
                    f"{len(answer.content)} bytes, not {target.size}: {answer.text[:300]}"
                )
    return pairs


def _pin_client(pin: bool) -> str:
    if pin and hasattr(os, "sched_setaffinity") and cores() > CLIENT_CORE:
        os.sched_setaffinity(0, {CLIENT_CORE})
        return f"servers on core {SERVER_CORE}, client on core {CLIENT_CORE}"
    return "not pinned"


def _run(target: Target, concurrency: int, warmup_s: float, duration_s: float) -> Result:
    """One figure, in a fresh uvloop loop with fresh connections."""
    drive = _drive(target, concurrency=concurrency, warmup_s=warmup_s, duration_s=duration_s)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(drive)


def measure(
    *,
    rounds: int = 2,
    duration_s: float = 3.0,
    warmup_s: float = 1.0,
    concurrency: int = 16,
    size: int = ATTACHMENT_BYTES,
    pin: bool = True,
) -> list[Row]:
    """Every figure and ratio, as rows of the benchmark table."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-content-") as workdir,
        servers(Path(workdir), pin=pin) as running,
    ):
        pairs = targets(running, size)
        machine = f"{cores()} cores, {platform.machine()}, Python {platform.python_version()}"
        placement = _pin_client(pin)
        results: dict[str, list[Result]] = {}
        for index in range(rounds):
            order = [target for pair in pairs for target in reversed(pair)]
            for target in order if index % 2 == 0 else reversed(order):
                result = _run(target, concurrency, warmup_s, duration_s)
                results.setdefault(target.scenario, []).append(result)
    print(
        f"this machine: {machine}; {placement}; {concurrency} requests in flight; "
        f"{rounds} round(s) of {duration_s:g} s per figure after {warmup_s:g} s of warm-up"
    )
    rows: list[Row] = []
    for measured, baseline in pairs:
        rows += _figures(measured.scenario, results[measured.scenario])
        rows += _figures(baseline.scenario, results[baseline.scenario])
        rows += _ratios(measured, results[measured.scenario], results[baseline.scenario])
    return rows


def _figures(scenario: str, runs: Sequence[Result]) -> list[Row]:
    """Medians over the rounds; absolute, so this machine's."""

    def med(values: Iterator[float]) -> float:
        return statistics.median(values)

    per_s = med(run.per_s for run in runs)
    p50, p99 = med(run.p50_ms for run in runs), med(run.p99_ms for run in runs)
    cpu_ms = med(run.cpu_ms for run in runs)
    client = med(run.client_cpu_s / run.duration_s for run in runs)
    errors = sum(run.errors for run in runs)
    count = sum(len(run.latencies_s) for run in runs)
    return [
        Row(scenario, "requests/s (this machine)", f"{per_s:,.0f}", number=per_s),
        Row(scenario, "p50 latency (this machine)", f"{p50:,.2f} ms", number=p50),
        Row(scenario, "p99 latency (this machine)", f"{p99:,.2f} ms", number=p99),
        Row(scenario, "server CPU per request", f"{cpu_ms:,.3f} ms", number=cpu_ms),
        Row(scenario, "client core busy", f"{client:.0%}", number=client),
        Row(scenario, "errors / requests", f"{errors} / {count:,}", number=errors),
    ]


def _ratios(measured: Target, runs: Sequence[Result], baselines: Sequence[Result]) -> list[Row]:
    """Round by round (each pair measured back to back), then the median of the rounds."""

    def ratio(figure: Callable[[Result], float]) -> float:
        pairs = zip(runs, baselines, strict=True)
        return statistics.median(figure(run) / figure(baseline) for run, baseline in pairs)

    scenario = f"{measured.scenario} against its baseline"
    per_s = ratio(lambda run: run.per_s)
    p99 = ratio(lambda run: run.p99_ms)
    cpu_ms = ratio(lambda run: run.cpu_ms)
    return [
        Row(scenario, "requests/s ratio", f"{per_s:.2f} x", number=per_s),
        Row(scenario, "p99 latency ratio", f"{p99:.2f} x", number=p99),
        Row(scenario, "server CPU per request ratio", f"{cpu_ms:.2f} x", number=cpu_ms),
    ]


def _print(rows: Sequence[Row]) -> None:
    for row in rows:
        print(f"{row.scenario[:56]:<56} {row.figure:<30} {row.value:>18}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="each figure's median of N")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per figure")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--size", type=int, default=ATTACHMENT_BYTES, help="attachment bytes")
    parser.add_argument("--no-pin", action="store_true", help="leave cores to the kernel")
    options = parser.parse_args(argv)
    rows = measure(
        rounds=options.rounds,
        duration_s=options.duration,
        warmup_s=options.warmup,
        concurrency=options.concurrency,
        size=options.size,
        pin=not options.no_pin,
    )
    _print(rows)


if __name__ == "__main__":
    main()
