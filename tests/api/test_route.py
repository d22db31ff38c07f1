"""Text holding the NUL character is refused (422, named) on both databases; the six characters
`\\u0000` as text are not NUL and are stored."""

from __future__ import annotations

import httpx

from helpers.factories import make_trace

MESSAGE = "Text must not contain the NUL character (U+0000)"


def _refused_at(response: httpx.Response) -> list[str | int]:
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["msg"] == MESSAGE
    return list(error["loc"])


async def test_nul_in_a_path_a_query_or_a_body_is_422_naming_where(
    client: httpx.AsyncClient,
) -> None:
    assert _refused_at(await client.post("/api/traces", json=make_trace(prompt="a\x00b"))) == [
        "body",
        "prompt",
    ]
    nested = make_trace(meta={"source": "s", "deep": [{"k": "v\x00"}]})
    assert _refused_at(await client.post("/api/traces", json=nested)) == [
        "body",
        "meta",
        "deep",
        0,
        "k",
    ]
    in_a_key = make_trace(meta={"k\x00": 1})
    assert _refused_at(await client.post("/api/traces", json=in_a_key)) == ["body", "meta", "k\x00"]
    batch = [make_trace(1), make_trace(2, final_answer="4\x00")]
    assert _refused_at(await client.post("/api/traces/batch", json=batch)) == [
        "body",
        1,
        "final_answer",
    ]
    assert _refused_at(await client.get("/api/traces", params={"q": "x\x00"})) == ["query", "q"]
    assert _refused_at(await client.get("/api/tunix/runs", params={"dataset_key": "\x00"})) == [
        "query",
        "dataset_key",
    ]
    assert _refused_at(await client.get("/api/datasets/a%00b")) == ["path", "dataset_key"]
    build = {"dataset_name": "d", "dataset_version": "1", "filters": {"source": "\x00"}}
    assert _refused_at(await client.post("/api/datasets/build", json=build)) == [
        "body",
        "filters",
        "source",
    ]
    listed = await client.get("/api/traces")
    assert listed.json()["data"] == []  # nothing was stored


async def test_an_escaped_backslash_before_u0000_is_text(client: httpx.AsyncClient) -> None:
    prompt = "JSON writes NUL as \\u0000"
    created = await client.post("/api/traces", json=make_trace(prompt=prompt))
    assert created.status_code == 201, created.text
    stored = await client.get(f"/api/traces/{created.json()['id']}")
    assert stored.json()["payload"]["prompt"] == prompt
