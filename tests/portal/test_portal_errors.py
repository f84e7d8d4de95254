"""The portal's boundary maps each layer's error tree once: an index failure is a 503 that says what to do."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from indexer.errors import HarvestStoreError, LocalIndexError
from portal import create_app


async def _client(registry, error: Exception) -> TestClient:
    app = create_app(registry)

    async def broken(request: web.Request) -> web.Response:
        raise error

    app.router.add_get("/api/broken", broken)
    app.router.add_get("/broken", broken)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_an_index_failure_is_a_503_in_words_not_a_trace(registry, caplog):
    for error in (LocalIndexError("index /srv/balis/index is damaged"), HarvestStoreError("store locked")):
        client = await _client(registry, error)
        try:
            api = await client.get("/api/broken?lang=en")
            doc = await api.json()
            assert api.status == 503 and "union index" in doc["error"]["message"]
            page = await client.get("/broken?lang=zh")
            html = await page.text()
            assert page.status == 503 and "联合目录索引暂时无法使用" in html and "Traceback" not in html
            assert "/srv/balis" not in html  # where the index lives is for the log, not for readers
        finally:
            await client.close()
    assert "index /srv/balis/index is damaged" in caplog.text
