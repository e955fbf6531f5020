"""Requests generated from the OpenAPI schema by schemathesis, sent by signed-in users to a real
`jiaoyun serve` on both stacks: whatever they contain, the answer is never a 5xx.

Path parameters are often swapped for ids of real objects (a resource with its file, an upload, a
topic with a post), so generated bodies and queries reach the code behind the 404s. The number of
examples per operation is JIAOYUN_FUZZ_EXAMPLES (default 8; scripts/prove runs a deeper pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode

from services.app import create_app
from tests import backends, samples
from tests.factories import resource_metadata, upload_form
from tests.live import ApiProcess, run_cli, start_api
from tests.system.harness import Tenant

EXAMPLES = int(os.environ.get("JIAOYUN_FUZZ_EXAMPLES", "8"))
PASSWORD = "fuzz-password-1"
SECRET = "fuzz-secret-key-not-for-production"
# Requests per status on each stack, for the figures scripts/prove prints.
STATUSES: dict[str, Counter[int]] = {}


@dataclass
class LiveApi:
    api: ApiProcess
    stack: str
    auth: dict[str, dict[str, str]]
    known_ids: dict[str, Any] = field(default_factory=dict)


def _expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (response.request.url, response.text[:300])
    return response.json()


def _seed(
    base_url: str, env: dict[str, str], workdir: Path
) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    run_cli(env, workdir, "admin", "create", "--username", "fuzz-admin", "--password", PASSWORD)
    with httpx.Client(base_url=base_url, timeout=60) as client:

        def sign_in(username: str) -> dict[str, str]:
            response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
            return {"Authorization": f"Bearer {_expect(response, 200)['access_token']}"}

        admin = sign_in("fuzz-admin")
        school = _expect(
            client.post("/api/v1/schools", json={"name": "模糊测试学校", "code": "FZ"}, headers=admin), 201
        )
        user = {"username": "fuzz-teacher", "display_name": "教师", "password": PASSWORD, "role": "teacher"}
        _expect(client.post("/api/v1/users", json=user | {"school_id": school["id"]}, headers=admin), 201)
        teacher = sign_in("fuzz-teacher")
        # The school and user whose ids go into generated paths are not the signed-in users' own:
        # a generated PATCH may well deactivate its target, and the run must keep its sessions.
        target_school = _expect(
            client.post("/api/v1/schools", json={"name": "靶子学校", "code": "FZT"}, headers=admin), 201
        )
        target = {"username": "fuzz-target", "display_name": "靶子", "password": PASSWORD, "role": "teacher"}
        target_user = _expect(
            client.post("/api/v1/users", json=target | {"school_id": target_school["id"]}, headers=admin), 201
        )
        pdf = samples.pdf_bytes(["模糊测试"])
        resource = _expect(
            client.post(
                "/api/v1/resources", files=upload_form(resource_metadata(), "a.pdf", pdf), headers=teacher
            ),
            201,
        )
        upload = _expect(
            client.post("/api/v1/uploads", json={"filename": "b.mp4", "size": 1000}, headers=teacher), 201
        )
        topic = _expect(
            client.post("/api/v1/topics", json={"title": "模糊测试", "body": "正文"}, headers=teacher), 201
        )
        post = _expect(
            client.post(f"/api/v1/topics/{topic['id']}/posts", json={"body": "回复"}, headers=teacher), 201
        )
    known = {
        "resource_id": resource["id"],
        "file_id": resource["versions"][0]["files"][0]["id"],
        "school_id": target_school["id"],
        "user_id": target_user["id"],
        "upload_id": upload["id"],
        "topic_id": topic["id"],
        "post_id": post["id"],
        "number": 1,
        "part_number": 1,
    }
    return {"district_admin": admin, "teacher": teacher}, known


@pytest.fixture(scope="module", params=["embedded", "servers"])
def live_api(request: pytest.FixtureRequest) -> Iterator[LiveApi]:
    workdir = Path(tempfile.mkdtemp(prefix="jiaoyun-fuzz-"))
    env = {"JIAOYUN_DATA_DIR": str(workdir / "data"), "JIAOYUN_SECRET_KEY": SECRET}
    tenant: Tenant | None = None
    if request.param == "servers":
        for server in ("postgresql", "minio", "elasticsearch"):
            backends.require(server)
        tenant = Tenant(backends.shared_servers(), f"fuzz{uuid.uuid4().hex[:8]}")
        asyncio.run(tenant.create())
        env = tenant.env() | {"JIAOYUN_DATA_DIR": str(workdir / "data"), "JIAOYUN_EMBEDDED_WORKER": "true"}
    # Fuzzed sign-ins must not lock the signed-in users out (429) halfway through.
    env["JIAOYUN_LOGIN_MAX_FAILURES"] = "1000000"
    api = start_api(env, workdir)
    try:
        auth, known = _seed(api.base_url, env, workdir)
        yield LiveApi(api, request.param, auth, known)
    finally:
        api.stop()
        if tenant is not None:
            asyncio.run(tenant.drop())
        log = api.log_text()
        shutil.rmtree(workdir, ignore_errors=True)
        _report(request.param)
        assert "unhandled error" not in log, log[-3000:]


def _report(stack: str) -> None:
    statuses = STATUSES.get(stack, Counter())
    line = (
        f"schemathesis on {stack}: {sum(statuses.values())} generated requests "
        f"({EXAMPLES} examples per operation and role), statuses {dict(sorted(statuses.items()))}, "
        f"5xx: {sum(n for status, n in statuses.items() if status >= 500)}"
    )
    print(f"\n{line}")
    target = os.environ.get("JIAOYUN_PROOF_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as output:
            output.write(line + "\n")


# The schema comes from the app object itself (building it does no I/O); requests go to the live server.
SCHEMA = schemathesis.openapi.from_dict(create_app().openapi())
# Signing out ends the fuzzing users' tokens, and every later operation would then only see 401; they
# take no input to fuzz anyway (tests/services/identity/test_sign_out.py covers them).
SIGN_OUTS = {"/api/v1/auth/logout", "/api/v1/auth/logout-everywhere"}
OPERATIONS = [
    result.ok()
    for result in SCHEMA.get_all_operations()
    if isinstance(result, schemathesis.core.result.Ok) and result.ok().path not in SIGN_OUTS
]


def _strategy(operation: APIOperation[Any, Any, Any, Any]) -> st.SearchStrategy[schemathesis.Case[Any]]:
    """Valid requests and, where the schema allows them, requests that break it (wrong types, bounds)."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    # An operation with nothing to break (no parameters, no body) has no negative strategy.
    with contextlib.suppress(Exception):
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(strategies)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_no_generated_request_gets_a_server_error(
    operation: APIOperation[Any, Any, Any, Any], live_api: LiveApi
) -> None:
    @given(case=_strategy(operation), real_ids=st.booleans())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def send(case: schemathesis.Case[Any], real_ids: bool) -> None:
        if real_ids and case.path_parameters:
            # A real object's id, so the operation gets past its 404 to the code behind it.
            for name in case.path_parameters:
                if name in live_api.known_ids:
                    case.path_parameters[name] = live_api.known_ids[name]
        # Each case is sent as each user: what a teacher may not do takes other paths than the admin's.
        for role, auth in live_api.auth.items():
            response = case.call(base_url=live_api.api.base_url, headers=auth, timeout=60)
            STATUSES.setdefault(live_api.stack, Counter())[response.status_code] += 1
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} as {role} on {live_api.stack}: "
                f"{response.status_code}\n{response.text[:1000]}\n{case.as_curl_command()}"
            )

    send()
