"""Signed, expiring links for the local blob store, which has no presigning server of its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Literal

from storage.blobs.base import InvalidBlobRequest

LinkMethod = Literal["GET", "PUT", "PART"]


@dataclass(frozen=True)
class LinkClaims:
    method: LinkMethod
    key: str
    expires_at: int
    download_name: str | None = None
    upload_id: str | None = None
    part_number: int | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def sign(self, claims: LinkClaims) -> str:
        payload = _b64(
            json.dumps(
                {
                    "m": claims.method,
                    "k": claims.key,
                    "e": claims.expires_at,
                    "n": claims.download_name,
                    "u": claims.upload_id,
                    "p": claims.part_number,
                },
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
        )
        return f"{payload}.{self._mac(payload)}"

    def verify(self, token: str, *, now: float | None = None) -> LinkClaims:
        payload, _, mac = token.partition(".")
        if not payload or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidBlobRequest("invalid link signature")
        try:
            data = json.loads(_unb64(payload))
        except ValueError as exc:
            raise InvalidBlobRequest("malformed link") from exc
        claims = LinkClaims(
            method=data["m"],
            key=data["k"],
            expires_at=int(data["e"]),
            download_name=data.get("n"),
            upload_id=data.get("u"),
            part_number=data.get("p"),
        )
        if claims.expires_at < (time.time() if now is None else now):
            raise InvalidBlobRequest("link expired")
        return claims
