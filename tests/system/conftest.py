"""Fixtures of the fault tests: private servers for the session, a tenant and real processes per test.

The figures each test records are printed at the end of the run and, when JIAOYUN_PROOF_FIGURES
names a file, appended to it (scripts/prove collects them there).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter

from tests.live import ApiProcess, JiaoyunProcess, start_api, start_worker
from tests.system.harness import PrivateServers, Tenant

_FIGURES: list[str] = []


@dataclass
class Figures:
    test: str
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)
        _FIGURES.append(f"{self.test}: {line}")
        target = os.environ.get("JIAOYUN_PROOF_FIGURES")
        if target:
            with open(target, "a", encoding="utf-8") as output:
                output.write(f"{self.test}: {line}\n")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    recorded = Figures(request.node.name)
    started = time.monotonic()
    yield recorded
    recorded.add(f"test took {time.monotonic() - started:.0f} s")


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("fault test figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def private_servers() -> Iterator[PrivateServers]:
    servers = PrivateServers.start()
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
async def tenant(private_servers: PrivateServers) -> AsyncIterator[Tenant]:
    tenant = Tenant(private_servers)
    await tenant.create()
    try:
        yield tenant
    finally:
        await tenant.drop()


@dataclass
class Processes:
    """The Jiaoyun processes a test started; all are stopped when it ends, whatever happened."""

    tenant: Tenant
    workdir: Path
    started: list[JiaoyunProcess] = field(default_factory=list)

    def api(self, **env: str) -> ApiProcess:
        api = start_api(self.tenant.env() | env, self.workdir)
        self.started.append(api)
        return api

    def worker(self, name: str = "worker", **env: str) -> JiaoyunProcess:
        worker = start_worker(self.tenant.env() | env, self.workdir, name)
        self.started.append(worker)
        return worker


@pytest.fixture
def processes(tenant: Tenant, tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tenant, tmp_path)
    try:
        yield running
    finally:
        for process in running.started:
            process.stop()
