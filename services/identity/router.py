"""HTTP for sign-in, the current user, schools, users and share links."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from services.deps import ContextDep, SessionDep, SettingsDep
from services.errors import AppError
from services.identity import service
from services.identity.deps import CurrentPrincipal, CurrentUser, PresentedToken
from services.identity.schemas import (
    PasswordChange,
    PersonRead,
    SchoolCreate,
    SchoolRead,
    SchoolUpdate,
    ShareLinkCreate,
    ShareLinkRead,
    TokenResponse,
    UserCreate,
    UserRead,
    UserUpdate,
)
from services.identity.tokens import issue_access_token
from services.schemas import Page
from storage.models.identity import Role, ShareLink, Visibility

router = APIRouter(prefix="/api/v1")
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=200)]


class PasswordRequestForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form with lengths capped: no username is longer than 64 characters, and a
    capped password keeps argon2's work bounded. Longer values are a 422 before anything is looked up."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=128, json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form(max_length=1000)] = "",
        client_id: Annotated[str | None, Form(max_length=200)] = None,
        client_secret: Annotated[str | None, Form(max_length=200)] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong credentials"},
    429: {"description": "Too many attempts"},
}


@router.post("/auth/token", response_model=TokenResponse, tags=["auth"], responses=_UNAUTHORIZED)
async def issue_token(
    form: Annotated[PasswordRequestForm, Depends()], request: Request, context: ContextDep
) -> TokenResponse:
    """OAuth2 password flow: exchange a username and password for a bearer token."""
    client_address = request.client.host if request.client else "unknown"
    user = await service.login(
        context.sessionmaker, context.settings, form.username, form.password, client_address
    )
    token, expires_in = issue_access_token(user, context.settings)
    return TokenResponse(access_token=token, expires_in=expires_in)


@router.get("/me", response_model=UserRead, tags=["auth"])
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.post("/me/password", status_code=204, tags=["auth"], responses=_UNAUTHORIZED)
async def change_password(data: PasswordChange, user: CurrentUser, context: ContextDep) -> Response:
    """Change one's own password. Every token issued so far ends, this one included: sign in again."""
    await service.change_own_password(
        context.sessionmaker, context.settings, user, data.current_password, data.new_password
    )
    return Response(status_code=204)


@router.post(
    "/auth/logout", status_code=204, tags=["auth"], responses={401: {"description": "Not signed in"}}
)
async def sign_out(
    user: CurrentUser, token: PresentedToken, session: SessionDep, settings: SettingsDep
) -> Response:
    """Sign out: this token (bearer or session cookie) is refused from now on, on every replica."""
    assert token is not None  # CurrentUser was found from it
    await service.sign_out(session, settings, user, token)
    return Response(status_code=204)


@router.post(
    "/auth/logout-everywhere",
    status_code=204,
    tags=["auth"],
    responses={401: {"description": "Not signed in"}},
)
async def sign_out_everywhere(user: CurrentUser) -> Response:
    """Sign out on every device: every token of this user issued so far ends, this one included."""
    service.sign_out_everywhere(user)
    return Response(status_code=204)


# -- schools -----------------------------------------------------------------------------------


@router.get("/schools", response_model=Page[SchoolRead], tags=["schools"])
async def list_schools(
    _: CurrentPrincipal, session: SessionDep, offset: Offset = 0, limit: Limit = 50
) -> Page[SchoolRead]:
    schools, total = await service.list_schools(session, offset=offset, limit=limit)
    return Page(
        items=[SchoolRead.model_validate(s) for s in schools], total=total, offset=offset, limit=limit
    )


@router.post("/schools", response_model=SchoolRead, status_code=201, tags=["schools"])
async def create_school(data: SchoolCreate, principal: CurrentPrincipal, session: SessionDep) -> SchoolRead:
    return SchoolRead.model_validate(await service.create_school(session, principal, data))


@router.get("/schools/{school_id}", response_model=SchoolRead, tags=["schools"])
async def read_school(school_id: uuid.UUID, _: CurrentPrincipal, session: SessionDep) -> SchoolRead:
    return SchoolRead.model_validate(await service.get_school(session, school_id))


@router.patch("/schools/{school_id}", response_model=SchoolRead, tags=["schools"])
async def update_school(
    school_id: uuid.UUID, data: SchoolUpdate, principal: CurrentPrincipal, session: SessionDep
) -> SchoolRead:
    return SchoolRead.model_validate(await service.update_school(session, principal, school_id, data))


@router.delete("/schools/{school_id}", status_code=204, tags=["schools"])
async def delete_school(school_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await service.delete_school(session, principal, school_id)
    return Response(status_code=204)


# -- users -------------------------------------------------------------------------------------


@router.get("/users", response_model=Page[UserRead], tags=["users"])
async def list_users(
    principal: CurrentPrincipal,
    session: SessionDep,
    school_id: uuid.UUID | None = None,
    role: Role | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[UserRead]:
    users, total = await service.list_users(
        session, principal, school_id=school_id, role=role, text=q, offset=offset, limit=limit
    )
    return Page(items=[UserRead.model_validate(u) for u in users], total=total, offset=offset, limit=limit)


@router.post("/users", response_model=UserRead, status_code=201, tags=["users"])
async def create_user(data: UserCreate, principal: CurrentPrincipal, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await service.create_user(session, principal, data))


@router.get(
    "/users/mentionable",
    response_model=list[PersonRead],
    tags=["users"],
    responses={
        403: {"description": "Students look nobody up"},
        404: {"description": "No such topic or lesson"},
    },
)
async def mentionable_people(
    principal: CurrentPrincipal,
    session: SessionDep,
    q: Annotated[str, Query(min_length=service.MIN_MENTION_QUERY, max_length=64)],
    topic_id: uuid.UUID | None = None,
    resource_id: uuid.UUID | None = None,
    visibility: Annotated[Visibility | None, Query(description="For a topic not created yet")] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> list[PersonRead]:
    """People whose username or name contains q and who could read the topic or lesson being written
    in (or a new topic of `visibility`), to complete an @mention (teachers and staff)."""
    if topic_id is not None and resource_id is not None:
        raise AppError("Name one topic or lesson", 422, code="invalid_payload")
    people = await service.mentionable_people(
        session,
        principal,
        q.strip(),
        limit,
        place_type="topic" if topic_id is not None else "resource",
        place_id=topic_id or resource_id,
        new_topic_visibility=visibility,
    )
    return [PersonRead.model_validate(person) for person in people]


@router.get("/users/{user_id}", response_model=UserRead, tags=["users"])
async def read_user(user_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await service.get_user(session, principal, user_id))


@router.patch("/users/{user_id}", response_model=UserRead, tags=["users"])
async def update_user(
    user_id: uuid.UUID, data: UserUpdate, principal: CurrentPrincipal, session: SessionDep
) -> UserRead:
    return UserRead.model_validate(await service.update_user(session, principal, user_id, data))


# -- share links -------------------------------------------------------------------------------


def _share_link_read(
    link: ShareLink, token: str | None = None, creator: PersonRead | None = None
) -> ShareLinkRead:
    return ShareLinkRead(
        id=link.id,
        object_type=link.object_type,
        object_id=link.object_id,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked=link.revoked_at is not None,
        created_by=creator,
        token=token,
    )


@router.get("/share-links", response_model=list[ShareLinkRead], tags=["share links"])
async def list_share_links(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: uuid.UUID | None = None,
) -> list[ShareLinkRead]:
    """The links that work now, newest first: to one object (its owner sees every one, with who made
    it; anyone else the ones they made), or without an object, the ones the caller made."""
    if (object_type is None) != (object_id is None):
        raise AppError("Give both object_type and object_id, or neither", 422, code="invalid_payload")
    live = await service.live_share_links(session, principal, object_type, object_id)
    return [
        _share_link_read(
            item.link,
            service.share_token(item.link.id, settings) if item.creator.id == principal.user_id else None,
            PersonRead.model_validate(item.creator),
        )
        for item in live
    ]


@router.post("/share-links", response_model=ShareLinkRead, status_code=201, tags=["share links"])
async def create_share_link(
    data: ShareLinkCreate, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> ShareLinkRead:
    link = await service.create_share_link(
        session, principal, data.object_type, data.object_id, timedelta(hours=data.expires_in_hours)
    )
    return _share_link_read(link, service.share_token(link.id, settings))


@router.get("/share-links/{token}", response_model=ShareLinkRead, tags=["share links"])
async def resolve_share_link(token: str, session: SessionDep, settings: SettingsDep) -> ShareLinkRead:
    """What a share token grants (no sign-in needed)."""
    return _share_link_read(await service.resolve_share_token(session, settings, token))


@router.delete("/share-links/{link_id}", status_code=204, tags=["share links"])
async def revoke_share_link(link_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    await service.revoke_share_link(session, principal, link_id)
    return Response(status_code=204)
