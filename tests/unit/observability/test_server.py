"""The operations port: the ASGI app's answers, then the real server's start, stop, a taken
port, and the signals it must leave to the relay."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import AsyncIterator, Callable
from types import FrameType

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from consumer.errors import ConfigurationError
from consumer.observability.server import OperationsServer, operations_app

HOST = "127.0.0.1"
OperationsClient = Callable[[list[str]], httpx.AsyncClient]


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("io_relay_test_scrapes", "A metric only this test makes.", registry=registry).inc(3)
    return registry


@pytest.fixture
async def client(registry: CollectorRegistry) -> AsyncIterator[OperationsClient]:
    clients: list[httpx.AsyncClient] = []

    def make(problems: list[str]) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=operations_app(registry, lambda: problems))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://ops"))
        return clients[-1]

    yield make
    for made in clients:
        await made.aclose()


# --- the app --------------------------------------------------------------------------------


async def test_healthz_says_alive(client: OperationsClient) -> None:
    response = await client(["no partitions assigned"]).get("/healthz")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"alive": True}


async def test_readyz_is_200_when_nothing_is_wrong(client: OperationsClient) -> None:
    response = await client([]).get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"ready": True, "problems": []}


async def test_readyz_is_503_with_the_problems(client: OperationsClient) -> None:
    problems = ["shutting down", "no partitions assigned"]

    response = await client(problems).get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"ready": False, "problems": problems}


async def test_readiness_is_asked_on_every_request(client: OperationsClient) -> None:
    problems = ["broker not probed yet"]
    ops = client(problems)

    first = await ops.get("/readyz")
    problems.clear()
    second = await ops.get("/readyz")

    assert (first.status_code, second.status_code) == (503, 200)


async def test_metrics_serves_the_registry_as_prometheus_text(client: OperationsClient) -> None:
    response = await client([]).get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE io_relay_test_scrapes_total counter" in response.text
    assert "io_relay_test_scrapes_total 3.0" in response.text.splitlines()


@pytest.mark.parametrize("path", ["/", "/metric", "/metrics/extra", "/health"])
async def test_anything_else_is_404(client: OperationsClient, path: str) -> None:
    response = await client([]).get(path)

    assert response.status_code == 404
    assert response.json() == {"error": f"no such endpoint: {path}"}


# --- the server -----------------------------------------------------------------------------


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(HOST, port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_serves_metrics_over_http_and_frees_the_port_on_stop(
    registry: CollectorRegistry,
) -> None:
    server = OperationsServer(HOST, 0, registry, list)
    await server.start()
    port = server.port
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            response = await http.get(f"http://{HOST}:{port}/metrics")
        assert not await refused(port)  # the probe below can tell
    finally:
        await server.stop()

    assert port != 0
    assert response.status_code == 200
    assert "io_relay_test_scrapes_total 3.0" in response.text.splitlines()
    assert await refused(port)


async def test_a_server_stopped_at_once_frees_the_port(registry: CollectorRegistry) -> None:
    server = OperationsServer(HOST, 0, registry, list)
    await server.start()
    port = server.port

    await server.stop()

    assert await refused(port)


async def test_a_taken_port_is_a_configuration_error(registry: CollectorRegistry) -> None:
    with socket.create_server((HOST, 0)) as taken:
        port = taken.getsockname()[1]
        server = OperationsServer(HOST, port, registry, list)

        with pytest.raises(ConfigurationError) as caught:
            await server.start()
        await server.stop()  # nothing started: nothing to stop, and no error

    message = str(caught.value)
    assert f"{HOST}:{port}" in message
    assert "observability" in message


async def test_the_relay_keeps_its_signal_handlers(registry: CollectorRegistry) -> None:
    def relay_drains(signum: int, frame: FrameType | None) -> None:
        """Stands for the relay's own SIGTERM handler."""

    previous_term = signal.signal(signal.SIGTERM, relay_drains)
    previous_int = signal.getsignal(signal.SIGINT)
    server = OperationsServer(HOST, 0, registry, list)
    try:
        await server.start()
        async with httpx.AsyncClient(trust_env=False) as http:
            answered = await http.get(f"http://{HOST}:{server.port}/healthz")  # uvicorn runs
        during = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        await server.stop()
        after = signal.getsignal(signal.SIGTERM)
    finally:
        await server.stop()
        signal.signal(signal.SIGTERM, previous_term)

    assert answered.status_code == 200
    assert during == (relay_drains, previous_int)
    assert after is relay_drains
