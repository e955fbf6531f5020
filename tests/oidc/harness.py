"""A real OpenID provider for the sign-in tests: npm's `oidc-provider` (OpenID certified) run by
Node with provider.mjs, installed from package-lock.json into the test-infrastructure cache once.

`start_provider` gives it a fresh RSA signing key, the clients and the people of a test; its
development login form signs anyone in by login name (findAccount then gives that person's claims).
`sign_in_at_provider` is what a browser does there, for tests that drive the flow with httpx.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from joserfc.jwk import RSAKey

from tests.live import free_ports

OIDC_DIR = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("JIAOYUN_TESTINFRA_CACHE", Path.home() / ".cache" / "jiaoyun-testinfra"))
START_TIMEOUT_S = 30.0


def install() -> Path:
    """The directory holding node_modules/oidc-provider, installed with `npm ci` if missing."""
    lock = (OIDC_DIR / "package-lock.json").read_bytes()
    target = CACHE / f"oidc-provider-{hashlib.sha256(lock).hexdigest()[:12]}"
    if (target / "node_modules" / "oidc-provider" / "package.json").is_file():
        return target
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"{tool} is missing: apt-get install nodejs npm (the OIDC tests run oidc-provider)"
            )
    staging = target.with_name(f"{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(OIDC_DIR / name, staging / name)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=staging,
        check=True,
        capture_output=True,
        timeout=600,
    )
    try:
        staging.rename(target)
    except OSError:  # another test run installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen[bytes]
    log_path: Path
    signing_key: dict[str, Any]
    clients: dict[str, str] = field(default_factory=dict)  # client id → secret

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def client_config(client_id: str, secret: str, base_url: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": [f"{base_url}/auth/oidc/callback"],
        "post_logout_redirect_uris": [f"{base_url}/"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


def start_provider(
    workdir: Path, people: dict[str, dict[str, Any]], clients: list[dict[str, Any]]
) -> Provider:
    """oidc-provider on a free port of 127.0.0.1, once its discovery document answers. `people`:
    login (which becomes the ID token's `sub`) → the claims the provider gives out about them."""
    modules = install()
    workdir.mkdir(parents=True, exist_ok=True)
    # ESM resolves packages next to the script: a copy of it beside the installed node_modules.
    script = modules / "provider.mjs"
    shutil.copy(OIDC_DIR / "provider.mjs", script)
    port = free_ports(1)[0]
    issuer = f"http://127.0.0.1:{port}"
    key = RSAKey.generate_key(2048, parameters={"kid": f"test-{port}", "use": "sig", "alg": "RS256"})
    private = key.as_dict(private=True)
    config = {
        "issuer": issuer,
        "port": port,
        "cookie_key": os.urandom(16).hex(),
        "signing_keys": [private],
        "clients": clients,
        "people": people,
    }
    config_path = workdir / f"oidc-provider-{port}.json"
    config_path.write_text(json.dumps(config, ensure_ascii=False))
    log_path = workdir / f"oidc-provider-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["node", str(script), str(config_path)],
            cwd=modules,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ | {"NODE_ENV": "development"},
            start_new_session=True,
        )
    provider = Provider(
        issuer, process, log_path, private, {c["client_id"]: c["client_secret"] for c in clients}
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"oidc-provider exited ({process.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                return provider
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    provider.stop()
    raise RuntimeError(
        f"oidc-provider not serving after {START_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-3000:]}"
    )


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def sign_in_at_provider(
    browser: httpx.Client, authorization_url: str, login: str, callback_prefix: str
) -> str:
    """What a person does at the provider: open the authorization URL, fill in the login form (any
    password), come back. The URL the provider sends the browser back to (our callback)."""
    response = browser.get(authorization_url)
    for _ in range(10):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(callback_prefix):
                return location
            response = browser.get(location)
            continue
        match = _FORM_ACTION.search(response.text)
        assert response.status_code == 200 and match, f"{response.status_code}: {response.text[:500]}"
        action = urljoin(str(response.url), match.group(1))
        fields = {"prompt": "login", "login": login, "password": "any"} if "login" in response.text else {}
        if 'name="prompt" value="consent"' in response.text:
            fields = {"prompt": "consent"}
        response = browser.post(action, data=fields)
    raise AssertionError("the provider never sent the browser back")
