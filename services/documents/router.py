"""HTTP for text read from recordings: the screens of a video and their thumbnails."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Response

from services.deps import SessionDep, SettingsDep
from services.documents import service as screens
from services.documents.schemas import ScreenRead
from services.identity.deps import OptionalPrincipal
from services.resources import service

router = APIRouter(prefix="/api/v1")

ShareToken = Annotated[str | None, Query(alias="share", max_length=200, description="A share-link token")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such resource, file or screen, or not yours to read"}
}


@router.get(
    "/resources/{resource_id}/files/{file_id}/screens",
    response_model=list[ScreenRead],
    tags=["resources"],
    responses=_NOT_FOUND,
)
async def read_screens(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
) -> list[ScreenRead]:
    """The text on screen in a video, each screen from the second it appears (read by OCR)."""
    file = await service.readable_file(session, settings, principal, resource_id, file_id, share)
    base = f"/api/v1/resources/{resource_id}/files/{file_id}/screens"
    query = f"?{urlencode({'share': share})}" if share else ""
    return [
        ScreenRead(
            number=screen.number,
            start_s=screen.start_s,
            end_s=screen.end_s,
            text=screen.text,
            confidence=screen.confidence,
            thumbnail_url=f"{base}/{screen.number}/thumbnail{query}",
        )
        for screen in await screens.file_screens(session, file)
    ]


@router.get(
    "/resources/{resource_id}/files/{file_id}/screens/{number}/thumbnail",
    tags=["resources"],
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The screen, small"}, **_NOT_FOUND},
)
async def read_screen_thumbnail(
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    number: Annotated[int, Path(ge=1, le=1_000_000)],
    principal: OptionalPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    share: ShareToken = None,
) -> Response:
    file = await service.readable_file(session, settings, principal, resource_id, file_id, share)
    screen = await screens.file_screen(session, file, number)
    return Response(
        screen.thumbnail, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )
