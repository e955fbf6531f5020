"""The OpenID provider as seen from here: discovery, the authorization URL with PKCE, the code
exchange, ID token validation against the provider's JWKS, userinfo and the end-session URL.

Signatures are checked by joserfc (the JOSE library of authlib's author, which authlib's own OpenID
clients use) and the claims (issuer, audience, authorized party, expiry, issue time, nonce, at_hash)
by authlib's CodeIDToken: nothing about the JWT is checked by hand here.

authlib and joserfc (~5 MiB resident) are imported where they are used, so an API process of a
district without OpenID Connect never loads them (issue 19; tests/services/test_lazy_imports.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from services.settings import Settings

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

# Discovery and keys are fetched again after this long (a provider rotating keys is also noticed
# at once: an unknown key id fetches the keys again).
METADATA_TTL_S = 3600.0
# Clock difference tolerated between the provider and us.
CLOCK_LEEWAY_S = 60


class ProviderError(Exception):
    """The provider could not be reached or answered something unusable."""


class InvalidIdToken(Exception):
    """The ID token is forged, expired, for another client, from another issuer or replayed."""


@dataclass
class _Cached:
    value: dict[str, Any]
    fetched_at: float


class OidcClient:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._metadata: _Cached | None = None
        self._keys: _Cached | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient:
        verify: str | bool = settings.oidc_ca_cert or True
        return cls(settings, httpx.AsyncClient(timeout=10, verify=verify))

    async def close(self) -> None:
        await self.http.aclose()

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.public_base_url.rstrip('/')}/auth/oidc/callback"

    async def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.http.get(url, **kwargs)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict):
            raise ProviderError(f"{url}: not a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata.fetched_at > METADATA_TTL_S:
            data = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                # OpenID Connect Discovery 4.3: a mismatch means someone else's document.
                raise ProviderError(f"discovery names issuer {data.get('issuer')!r}, not {self.issuer!r}")
            self._metadata = _Cached(data, time.monotonic())
        return self._metadata.value

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        from joserfc.jwk import KeySet

        if refresh or self._keys is None or time.monotonic() - self._keys.fetched_at > METADATA_TTL_S:
            metadata = await self.metadata()
            self._keys = _Cached(await self._get_json(metadata["jwks_uri"]), time.monotonic())
        return KeySet.import_key_set(self._keys.value)  # type: ignore[arg-type]

    async def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        from authlib.common.urls import add_params_to_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        metadata = await self.metadata()
        url: str = add_params_to_uri(
            metadata["authorization_endpoint"],
            [
                ("response_type", "code"),
                ("client_id", self.client_id),
                ("redirect_uri", self.redirect_uri),
                ("scope", self.settings.oidc_scopes),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", create_s256_code_challenge(code_verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return url

    async def exchange_code(self, code: str, code_verifier: str) -> dict[str, Any]:
        """The token endpoint's answer for this code (client_secret_basic, with the PKCE verifier)."""
        metadata = await self.metadata()
        try:
            response = await self.http.post(
                metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": code_verifier,
                },
                auth=(self.client_id, self.settings.oidc_client_secret.get_secret_value()),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"token endpoint: {type(exc).__name__}") from exc
        if response.status_code != 200:
            # A used or forged code, a wrong verifier: the provider says invalid_grant.
            raise InvalidIdToken(f"the provider refused the code ({response.status_code})")
        token: dict[str, Any] = response.json()
        if "id_token" not in token or "access_token" not in token:
            raise InvalidIdToken("the provider's answer has no ID token")
        return token

    async def validate_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None, now: datetime | None = None
    ) -> dict[str, Any]:
        """The ID token's claims once its signature (a key of the provider's JWKS) and its claims
        check out; InvalidIdToken otherwise. `now` is for checking a token as of another moment."""
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import InvalidKeyIdError, JoseError
        from joserfc.jws import JWSRegistry

        metadata = await self.metadata()
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(algorithms=[a for a in algorithms if a != "none"])
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(id_token, await self._key_set(refresh=True), registry=registry)
        except (JoseError, ValueError) as exc:
            raise InvalidIdToken(f"signature: {type(exc).__name__}: {exc}") from exc
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
        if access_token is not None:
            params["access_token"] = access_token
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "values": [metadata["issuer"]]},
                "aud": {"essential": True, "values": [self.client_id]},
            },
            params,
        )
        try:
            at = int((now or datetime.now(UTC)).timestamp())
            claims.validate(now=at, leeway=CLOCK_LEEWAY_S)
        except JoseError as exc:
            raise InvalidIdToken(f"claims: {type(exc).__name__}: {exc}") from exc
        return dict(claims)

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        metadata = await self.metadata()
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint:
            return {}
        return await self._get_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})

    async def end_session_url(self) -> str | None:
        """Where the browser ends its session at the provider too, coming back to our home page."""
        from authlib.common.urls import add_params_to_uri

        try:
            endpoint = (await self.metadata()).get("end_session_endpoint")
        except ProviderError:
            return None
        if not endpoint:
            return None
        url: str = add_params_to_uri(
            endpoint,
            [
                ("client_id", self.client_id),
                ("post_logout_redirect_uri", f"{self.settings.public_base_url.rstrip('/')}/"),
            ],
        )
        return url
