"""Eight clients posting at once against a live server lose nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from helpers.factories import make_trace
from helpers.server import running_server

CLIENTS = 8
POSTS_EACH = 40


def _writer(base_url: str, client_no: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for n in range(POSTS_EACH):
            if n % 10 == 9:  # mix in batches
                body = [make_trace(client_no * 1000 + n, source=f"c{client_no}") for _ in range(5)]
                response = client.post("/api/traces/batch", json=body)
                assert response.status_code == 201, response.text
                ids += [t["id"] for t in response.json()["traces"]]
            else:
                response = client.post("/api/traces", json=make_trace(n, source=f"c{client_no}"))
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
    return ids


def test_eight_concurrent_writers_lose_nothing(database_url: str) -> None:
    with running_server(database_url) as base_url:
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda c: _writer(base_url, c), range(CLIENTS)))
        written = [trace_id for ids in results for trace_id in ids]
        per_client = POSTS_EACH - POSTS_EACH // 10 + (POSTS_EACH // 10) * 5
        assert len(written) == CLIENTS * per_client
        assert len(set(written)) == len(written)

        stored: list[str] = []
        cursor = None
        with httpx.Client(base_url=base_url) as client:
            while True:
                params: dict[str, str | int] = {"limit": 100}
                if cursor:
                    params["cursor"] = cursor
                page = client.get("/api/traces", params=params).json()
                stored += [item["id"] for item in page["data"]]
                cursor = page["pagination"]["next_cursor"]
                if not cursor:
                    break
            for c in range(CLIENTS):
                mine = client.get("/api/traces", params={"source": f"c{c}", "limit": 100}).json()
                assert len(mine["data"]) == per_client
        assert sorted(stored) == sorted(written)
