"""What configure_logging lets through."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from services.observability.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    transport = logging.getLogger("elastic_transport.transport")
    transport_level = transport.level
    access = logging.getLogger("uvicorn.access")
    access_disabled = access.disabled
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    transport.setLevel(transport_level)
    access.disabled = access_disabled


@pytest.mark.usefixtures("restored_logging")
def test_the_search_clients_line_per_request_is_debug_only() -> None:
    transport = logging.getLogger("elastic_transport.transport")
    configure_logging("text", "INFO")
    assert not transport.isEnabledFor(logging.INFO)
    assert transport.isEnabledFor(logging.WARNING)
    assert logging.getLogger("jiaoyun.access").isEnabledFor(logging.INFO)
    configure_logging("json", "DEBUG")
    assert transport.isEnabledFor(logging.DEBUG)
