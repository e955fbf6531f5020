"""Settings: the secret key is stable in embedded mode and required with servers."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from services.cli import app
from services.settings import SECRET_KEY_FILE, Settings


def embedded(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None)


def test_embedded_mode_makes_the_key_once_and_keeps_it(tmp_path: Path) -> None:
    first = embedded(tmp_path).secret_key.get_secret_value()
    assert len(first) >= 43
    # A restart, or another worker process, signs with the same key.
    assert embedded(tmp_path).secret_key.get_secret_value() == first
    key_file = tmp_path / SECRET_KEY_FILE
    assert key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == [SECRET_KEY_FILE]  # no temporary files left
    # An explicit key wins and the file is left alone.
    explicit = Settings(data_dir=tmp_path, secret_key=SecretStr("k" * 40), _env_file=None)
    assert explicit.secret_key.get_secret_value() == "k" * 40


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    program = (
        "from services.settings import Settings; "
        "print(Settings(_env_file=None).secret_key.get_secret_value())"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("JIAOYUN_")}
    env["JIAOYUN_DATA_DIR"] = str(tmp_path)
    processes = [
        subprocess.Popen([sys.executable, "-c", program], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(keys) == 1
    assert keys == {(tmp_path / SECRET_KEY_FILE).read_text()}


@pytest.mark.parametrize(
    "server",
    [
        {"database_url": "postgresql+asyncpg://u:p@db/jiaoyun"},
        {"s3_endpoint": "http://minio:9000"},
        {"elasticsearch_url": "http://elasticsearch:9200"},
    ],
)
def test_any_server_url_requires_an_explicit_key(tmp_path: Path, server: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="JIAOYUN_SECRET_KEY is not set"):
        Settings(data_dir=tmp_path, _env_file=None, **server)  # type: ignore[arg-type]
    assert not (tmp_path / SECRET_KEY_FILE).exists()
    keyed = Settings(data_dir=tmp_path, secret_key=SecretStr("s" * 40), _env_file=None, **server)  # type: ignore[arg-type]
    assert keyed.secret_key.get_secret_value() == "s" * 40


def test_the_command_line_refuses_to_start_without_a_key_in_server_mode(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("JIAOYUN_")}
    env |= {"JIAOYUN_DATA_DIR": str(tmp_path), "JIAOYUN_DATABASE_URL": "postgresql+asyncpg://u:p@db/x"}
    for command in (["serve"], ["migrate"], ["worker"]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code == 2, (command, result.output)
        assert "JIAOYUN_SECRET_KEY is not set" in result.output
