"""A consumer group of relays as subprocesses, for bench.replicas: started and stopped at
will (one config, so one group), each with its /metrics on a port of its own, scraped every
second for its pace on the IO account (`io_relay_io_pace_calls`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.harness import PYTHON, REPO

PACE = "io_relay_io_pace_calls{"
STOP_GIVE_UP_S = 60.0
"""A bound against a hung replica, not a performance claim: then SIGKILL."""


@dataclass
class Trace:
    """What one run saw, by wall clock."""

    seconds: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Epoch second → (calls answered, of which 429), from the sandbox."""
    submitted: dict[int, int] = field(default_factory=dict)
    """Epoch second → messages the sandbox accepted (201), for the plots."""
    marks: list[tuple[float, str]] = field(default_factory=list)
    """The joins and leaves after the start."""
    paces: list[tuple[float, tuple[int, ...]]] = field(default_factory=list)
    """Each running replica's pace, when every one answered."""
    cuts: int = 0
    """Warnings that a run of 429s lowered a replica's pace (consumer/io/pace.py)."""

    def since_first(self, at: float) -> int:
        return int(at) - min(self.seconds)


@dataclass
class Replicas:
    """`io-relay run` processes on one config (one group), their logs in `workdir`."""

    config: Path
    workdir: Path
    trace: Trace
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)
    """pid → the port of its /metrics."""

    def start(self, mark: str | None = None) -> None:
        log = self.workdir / f"relay-{len(self.logs) + 1}.log"
        port = _free_port()
        env = {
            **os.environ,
            "IO_RELAY_OBSERVABILITY__HOST": "127.0.0.1",
            "IO_RELAY_OBSERVABILITY__PORT": str(port),
        }
        command = [PYTHON, "-m", "consumer", "run", "--config", str(self.config)]
        with log.open("w") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env
            )
        self.ports[process.pid] = port
        self.running.append(process)
        self.logs.append(log)
        if mark:
            self.trace.marks.append((time.time(), mark))

    def stop(self, processes: Sequence[subprocess.Popen[bytes]], mark: str | None = None) -> None:
        """SIGTERM, then wait for the exits (SIGKILL past STOP_GIVE_UP_S)."""
        if mark:
            self.trace.marks.append((time.time(), mark))
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                code = process.wait(STOP_GIVE_UP_S)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            self.running.remove(process)
            if code != 0:
                raise SystemExit(f"bench: a replica exited with {code}:\n{self.tails()}")

    def sample_paces(self, stop: threading.Event) -> None:
        """Every second until `stop`: each running replica's pace."""
        while not stop.wait(1.0):
            paces = [_pace(self.ports[process.pid]) for process in list(self.running)]
            if paces and None not in paces:
                self.trace.paces.append((time.time(), tuple(p or 0 for p in paces)))

    def check_alive(self) -> None:
        if any(process.poll() is not None for process in self.running):
            raise SystemExit(f"bench: a replica exited on its own:\n{self.tails()}")

    def tails(self) -> str:
        return "\n".join(
            f"-- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            for log in self.logs
        )


@contextmanager
def replicas(config: Path, workdir: Path, trace: Trace) -> Iterator[Replicas]:
    group = Replicas(config, workdir, trace)
    stop = threading.Event()
    sampler = threading.Thread(target=group.sample_paces, args=(stop,), daemon=True)
    sampler.start()
    try:
        yield group
    finally:
        stop.set()
        sampler.join()
        for process in group.running:
            process.kill()
            process.wait()
        trace.cuts = sum(
            log.read_text(errors="replace").count("pace lowered") for log in group.logs
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pace(port: int) -> int | None:
    """The replica's pace on the account, from its /metrics (None: no answer yet)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=0.5).text
    except httpx.HTTPError:
        return None
    found = [line for line in text.splitlines() if line.startswith(PACE)]
    return int(float(found[0].split()[-1])) if found else None
