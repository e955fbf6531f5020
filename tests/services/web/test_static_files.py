"""Static files go out gzipped to browsers that take it, and fingerprinted URLs are cached for good:
on a 2 Mbit/s school link the player's hls.js is ~120 KB instead of ~390 KB."""

from __future__ import annotations

import httpx
import pytest

from services.web.templating import STATIC_DIR, static_url

pytestmark = pytest.mark.anyio

HLS_JS = "vendor/hls.js/hls.light.min.js"


async def test_scripts_are_gzipped_and_fingerprinted_urls_cached_for_good(client: httpx.AsyncClient) -> None:
    original = (STATIC_DIR / HLS_JS).read_bytes()
    response = await client.get(static_url(HLS_JS), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert response.content == original
    assert response.num_bytes_downloaded < len(original) * 0.4

    again = await client.get(
        static_url(HLS_JS), headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_without_gzip_or_a_fingerprint_the_plain_file_is_revalidated(client: httpx.AsyncClient) -> None:
    plain = await client.get(f"/static/{HLS_JS}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == "no-cache"
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.content == (STATIC_DIR / HLS_JS).read_bytes()
    refused = await client.get(f"/static/{HLS_JS}", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers
    # A conditional request for the plain file still gets its 304.
    unchanged = await client.get(
        f"/static/{HLS_JS}", headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]}
    )
    assert unchanged.status_code == 304
    missing = await client.get("/static/js/none-such.js")
    assert missing.status_code == 404
