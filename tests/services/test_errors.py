"""Every error, whatever raised it, comes back in one JSON shape."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from services.app import create_app
from services.context import AppContext
from services.errors import Conflict, NotFound

pytestmark = pytest.mark.anyio


class Payload(BaseModel):
    title: str
    grade: int


def app_with_probe_routes(context: AppContext) -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/probe/missing")
    async def missing() -> None:
        raise NotFound("Resource not found")

    @router.post("/probe/conflict")
    async def conflict() -> None:
        raise Conflict("Username taken")

    @router.post("/probe/payload")
    async def payload(body: Payload) -> Payload:
        return body

    @router.get("/probe/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    app = create_app(context=context)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


async def test_one_error_shape_for_every_kind_of_error(context: AppContext) -> None:
    async with app_with_probe_routes(context) as http:
        assert_error_shape(await http.get("/probe/missing"), 404, "not_found")
        assert_error_shape(await http.post("/probe/conflict"), 409, "conflict")
        assert_error_shape(await http.get("/no/such/route"), 404, "not_found")
        assert_error_shape(await http.delete("/healthz"), 405, "method_not_allowed")
        assert_error_shape(await http.get("/probe/crash"), 500, "internal_error")

        invalid = await http.post("/probe/payload", json={"title": "x", "grade": "not a number"})
        assert_error_shape(invalid, 422, "invalid_payload")
        assert invalid.json()["error"]["details"][0]["loc"] == ["body", "grade"]

        not_json = await http.post(
            "/probe/payload", content=b"\xff\xfe{", headers={"content-type": "application/json"}
        )
        assert_error_shape(not_json, 400, "bad_request")
