"""Body-size limits (declared and chunked) and the optional bearer token."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from helpers.server import running_server
from tunix_rt.api.app import create_app
from tunix_rt.settings import Settings


def _client_for(settings: Settings, engine: AsyncEngine) -> httpx.AsyncClient:
    app = create_app(settings, engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _body_of_size(size: int) -> bytes:
    body = orjson.dumps(make_trace(prompt="x"))
    pad = size - len(body)
    assert pad > 0
    return orjson.dumps(make_trace(prompt="x" * (pad + 1)))


async def test_declared_length_over_the_limit_is_413(
    settings: Settings, engine: AsyncEngine
) -> None:
    settings.trace_max_bytes = 4096
    async with _client_for(settings, engine) as client:
        small = _body_of_size(4000)
        assert len(small) <= 4096
        headers = {"content-type": "application/json"}
        assert (await client.post("/api/traces", content=small, headers=headers)).status_code == 201
        big = _body_of_size(4097)
        response = await client.post("/api/traces", content=big, headers=headers)
        assert response.status_code == 413
        assert response.json() == {"detail": "request body is larger than the limit of 4096 bytes"}


async def test_streamed_body_is_counted_as_it_arrives(
    settings: Settings, engine: AsyncEngine
) -> None:
    settings.trace_max_bytes = 4096

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"x" * 1024

    async with _client_for(settings, engine) as client:
        response = await client.post(
            "/api/traces", content=stream(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413


async def test_batch_limit_is_the_trace_limit_times_the_item_cap(
    settings: Settings, engine: AsyncEngine
) -> None:
    settings.trace_max_bytes = 4096
    settings.batch_max_items = 3
    async with _client_for(settings, engine) as client:
        two = orjson.dumps([make_trace(1, prompt="p" * 3000), make_trace(2, prompt="p" * 3000)])
        assert 4096 < len(two) <= 3 * 4096
        headers = {"content-type": "application/json"}
        assert (
            await client.post("/api/traces/batch", content=two, headers=headers)
        ).status_code == 201
        over = orjson.dumps([make_trace(n, prompt="p" * 4000) for n in range(4)])
        response = await client.post("/api/traces/batch", content=over, headers=headers)
        assert response.status_code == 413


async def test_bearer_token_guards_the_api_but_not_health(
    settings: Settings, engine: AsyncEngine
) -> None:
    settings.api_token = "s3cret"
    async with _client_for(settings, engine) as client:
        assert (await client.get("/api/health")).status_code == 200
        response = await client.get("/api/traces")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        wrong = await client.get("/api/traces", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await client.get("/api/traces", headers={"authorization": "Bearer s3cret"})
        assert right.status_code == 200


def test_chunked_upload_to_a_real_server_is_cut_off(database_url: str) -> None:
    """Over a real socket: no Content-Length, chunked encoding, refused once past the limit."""
    with running_server(database_url, TUNIX_RT_TRACE_MAX_BYTES="4096") as base_url:
        address = urlparse(base_url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            # 5 KiB of a body that never ends, in one write, so the server has it all when it
            # answers (unread bytes at close would turn its FIN into a reset).
            sock.sendall(
                b"POST /api/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + (b"400\r\n" + b"x" * 1024 + b"\r\n") * 5
            )
            received = b""
            try:
                while chunk := sock.recv(65536):
                    received += chunk
            except ConnectionResetError:
                pass  # the server closed with our unread bytes; what it sent is kept
            reply = received.decode(errors="replace")
        assert reply.startswith("HTTP/1.1 413"), reply
        assert "larger than the limit of 4096 bytes" in reply
