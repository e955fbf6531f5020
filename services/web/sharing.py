"""The share-links panel of a resource page: its owner sees every live link (who made it, until
when) and revokes any; administrators who may share it see and revoke the ones they made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Principal
from services.identity import service as identity
from services.resources.service import SHARE_TYPE
from services.settings import Settings
from storage.models.resources import Resource

# The lifetimes offered on the page (hours), the API's default first.
SHARE_LIFETIMES = ((72, "3 天"), (24, "1 天"), (24 * 7, "7 天"), (24 * 30, "30 天"))


@dataclass(frozen=True)
class ShareLinkRow:
    id: str
    creator_name: str
    created_at: datetime
    expires_at: datetime
    # The link itself, for its creator only.
    url: str | None


async def share_panel(
    session: AsyncSession, settings: Settings, principal: Principal | None, resource: Resource
) -> dict[str, Any]:
    """What the page needs: whether this user may make links, and the live ones they may see."""
    if principal is None or not authz.can_read(principal, resource):
        # Guests, and people who came by someone's link, see the resource, not its links.
        return {"can_share": False, "share_links": []}
    live = await identity.live_share_links(session, principal, SHARE_TYPE, resource.id)
    base = settings.public_base_url.rstrip("/")
    rows = [
        ShareLinkRow(
            id=str(item.link.id),
            creator_name=item.creator.display_name,
            created_at=item.link.created_at,
            expires_at=item.link.expires_at,
            url=(
                f"{base}/resources/{resource.id}?share={identity.share_token(item.link.id, settings)}"
                if item.creator.id == principal.user_id
                else None
            ),
        )
        for item in live
    ]
    return {
        "can_share": authz.can_share(principal, resource),
        "share_links": rows,
        "share_lifetimes": SHARE_LIFETIMES,
    }
