"""Access tokens: a verified token is kept per process, its expiry checked on every use."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from services.identity import tokens
from services.identity.tokens import issue_access_token, read_access_token
from storage.database import utcnow
from storage.models.identity import Role, User
from tests.stacks import settings_for_tests


def test_a_kept_token_still_expires_and_a_changed_key_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for_tests(tmp_path, access_token_ttl_minutes=5)
    user = User(id=uuid.uuid4(), username="t", display_name="t", password_hash="!", role=Role.teacher)
    user.token_version = 3
    token, _ = issue_access_token(user, settings)

    first = read_access_token(token, settings)
    assert first is not None and first.user_id == user.id and first.version == 3
    assert read_access_token(token, settings) == first  # kept: the same claims

    later = utcnow() + timedelta(minutes=6)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)
    assert read_access_token(token, settings) is None  # expired, though verified before

    monkeypatch.undo()
    other_key = settings_for_tests(tmp_path, access_token_ttl_minutes=5)
    other_key.secret_key = type(settings.secret_key)("another-secret-key-another-secret-key")
    assert read_access_token(token, other_key) is None
    assert read_access_token(token + "x", settings) is None  # a forged signature
