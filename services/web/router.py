"""The web pages: server-rendered HTML that calls the domain services directly.

Every page renders everything it shows (search results, the resource, the thread), so it works and
can be tested without script; the pages' small ES modules add autocomplete, the player's sync, the
resumable upload and inline posting through the JSON API. Signing in sets the session cookie the API
also accepts; nothing about a user is kept in this process.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from search.documents import DocKind
from search.synonyms import EDITION_GROUPS
from services import authz
from services.authz import Action, Principal
from services.deps import ContextDep, SearchIndexDep, SessionDep, SettingsDep
from services.documents import service as screen_texts
from services.errors import Forbidden
from services.identity import service as identity
from services.identity.browser import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    anonymous_csrf_token,
    clear_session_cookies,
    form_csrf_matches,
    set_csrf_cookie,
    set_session_cookies,
)
from services.identity.tokens import issue_access_token
from services.library import service as library
from services.notifications import service as notifications
from services.research.review import service as review
from services.research.review.router import comment_read, rubric_read
from services.research.stats import service as research_stats
from services.research.topics import service as topics
from services.research.topics.repository import TopicFilters
from services.research.topics.router import topic_read
from services.resources import curriculum
from services.resources import service as resources
from services.resources.repository import ResourceFilters
from services.resources.router import resource_read
from services.resources.schemas import FileRead, VersionRead
from services.review import service as publishing_review
from services.search import service as search
from services.web import forgiving, presenters, sharing, views
from services.web import showcase as showcase_pages
from services.web.pages import PageUser, SignedInUser, principal_of, render_page
from storage.models.identity import PublicationStatus, Role, User
from storage.models.research import TopicState

router = APIRouter(include_in_schema=False)

SEARCH_PAGE_SIZE = 10
LIST_PAGE_SIZE = 20
PageNumber = Annotated[int, Query(ge=1, le=1000)]


def _principal(user: User) -> Principal:
    return Principal.of(user)


# -- signing in and out ----------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (//evil.example, /\\evil.example)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _login_context(request: Request, **context: Any) -> tuple[str, dict[str, Any]]:
    """The sign-in form's CSRF token: the one the browser has, or a new one set with the page."""
    token = request.cookies.get(CSRF_COOKIE) or anonymous_csrf_token()
    return token, {"form_token": token, **context}


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep, next: str = "/"
) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token, context = _login_context(request, next=_safe_next(next), error=None, username="")
    response = await render_page(request, session, None, "login.html", **context)
    set_csrf_cookie(response, token, settings)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Sign in through the identity service (same rate limit as the API) and set the session cookie."""
    target = _safe_next(next)

    async def again(status_code: int, error: str) -> Response:
        token, context = _login_context(request, next=target, error=error, username=username)
        response = await render_page(request, session, None, "login.html", status_code=status_code, **context)
        set_csrf_cookie(response, token, settings)
        return response

    if not form_csrf_matches(request, csrf_token):
        return await again(403, "页面已过期，请重新登录。")
    client_address = request.client.host if request.client else "unknown"
    try:
        # The service records the attempt in a transaction of its own, so raising loses nothing.
        user = await identity.login(context.sessionmaker, settings, username, password, client_address)
    except identity.TooManyAttempts:
        return await again(429, "登录失败次数过多，请稍后再试。")
    except identity.PasswordSignInOff:
        return await again(401, "密码登录已关闭，请使用统一身份认证登录。")
    except identity.InvalidCredentials:
        return await again(401, "用户名或密码错误。")
    token, expires_in = issue_access_token(user, settings)
    response = RedirectResponse(target, status_code=303)
    set_session_cookies(response, token, expires_in, settings)
    return response


@router.get("/logout", response_class=HTMLResponse)
async def logout_form(request: Request, user: PageUser, session: SessionDep) -> Response:
    if user is None:
        return RedirectResponse("/", status_code=303)
    return await render_page(request, session, user, "logout.html")


@router.post("/logout")
async def logout(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    everywhere: Annotated[bool, Form()] = False,
) -> Response:
    """Sign out: the session token ends on the server too (a copy of the cookie is useless), or with
    `everywhere` every token of the user, on every device."""
    if not form_csrf_matches(request, csrf_token):
        raise Forbidden("The sign-out form is out of date")
    token = request.cookies.get(SESSION_COOKIE)
    if user is not None and token is not None:
        if everywhere:
            identity.sign_out_everywhere(user)
        else:
            await identity.sign_out(session, settings, user, token)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookies(response, settings)
    return response


# -- home and search -------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, user: PageUser, session: SessionDep) -> Response:
    principal = principal_of(user)
    recent, _ = await resources.list_resources(
        session, principal, ResourceFilters(), sort="newest", offset=0, limit=8
    )
    popular, _ = await resources.list_resources(
        session, principal, ResourceFilters(), sort="popular", offset=0, limit=8
    )
    latest_topics, _ = await topics.list_topics(session, principal, TopicFilters(), offset=0, limit=5)
    posters = await resources.poster_files(session, [resource.id for resource in [*recent, *popular]])
    return await render_page(
        request,
        session,
        user,
        "home.html",
        recent=[views.card(resource, posters) for resource in recent],
        popular=[views.card(resource, posters) for resource in popular],
        topics=latest_topics,
        **await showcase_pages.home_sections(session, principal),
    )


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    index: SearchIndexDep,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=16)] = "relevance",
    page: PageNumber = 1,
) -> Response:
    """Results with highlights, facets as filters with counts, and pages of SEARCH_PAGE_SIZE."""
    chosen = views.chosen_filters(request.query_params)
    kinds = [DocKind(value) for value in chosen.get("kind", []) if value in DocKind.__members__]
    sort_order = sort if sort in views.SORTS else "relevance"
    offset = (page - 1) * SEARCH_PAGE_SIZE
    result = await search.search(
        session,
        index,
        principal_of(user),
        search.SearchRequest(
            text=q.strip(),
            filters={name: values for name, values in chosen.items() if name != "kind"},
            kinds=kinds or None,
            sort=sort_order,  # type: ignore[arg-type]  # checked against views.SORTS above
            offset=offset,
            limit=SEARCH_PAGE_SIZE,
        ),
    )
    posters = await resources.poster_files(
        session, [hit.resource_id for hit in result.hits if hit.resource_id is not None]
    )
    return await render_page(
        request,
        session,
        user,
        "search.html",
        q=q,
        sort=sort_order,
        sorts=[(key, label, views.search_url(q, key, chosen)) for key, label in views.SORTS.items()],
        first_number=offset + 1,
        total=result.total,
        hits=[views.search_hit(hit, posters) for hit in result.hits],
        facets=views.facet_groups(result.facets, q, sort_order, chosen),
        chosen=views.chosen_labels(result.facets, q, sort_order, chosen),
        pages=views.pagination(result.total, page, SEARCH_PAGE_SIZE, q, sort_order, chosen),
        page=page,
        understood=forgiving.understood_chips(result.understood, q, sort_order, chosen),
        did_you_mean=result.did_you_mean,
        did_you_mean_url=forgiving.did_you_mean_url(result, sort_order, chosen),
    )


@router.get("/mine", response_class=HTMLResponse)
async def my_resources(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    status: PublicationStatus | None = None,
    page: PageNumber = 1,
) -> Response:
    """What the signed-in teacher uploaded, drafts too, newest first."""
    principal = _principal(user)
    resources.check_can_upload(principal)
    mine, total = await resources.list_resources(
        session,
        principal,
        ResourceFilters(owner_id=user.id, status=status),
        sort="newest",
        offset=(page - 1) * LIST_PAGE_SIZE,
        limit=LIST_PAGE_SIZE,
    )
    posters = await resources.poster_files(session, [resource.id for resource in mine])
    chosen_status = status.value if status else ""
    return await render_page(
        request,
        session,
        user,
        "mine.html",
        cards=[views.card(resource, posters) for resource in mine],
        total=total,
        status=chosen_status,
        pages=views.simple_pages(total, page, LIST_PAGE_SIZE, {"status": chosen_status}),
    )


# -- a resource ------------------------------------------------------------------------------------


def _round_of(versions: list[VersionRead], number: int | None, file_id: uuid.UUID | None) -> VersionRead:
    if file_id is not None:
        for version in versions:
            if any(file.id == file_id for file in version.files):
                return version
    if number is not None:
        for version in versions:
            if version.number == number:
                return version
    return versions[0]


@router.get("/resources/{resource_id}", response_class=HTMLResponse)
async def resource_page(
    request: Request,
    resource_id: uuid.UUID,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    v: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    file: uuid.UUID | None = None,
    t: Annotated[float | None, Query(ge=0, le=24 * 3600)] = None,
    page: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    share: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The player (or document pages), its rounds, the comment timeline, scoring and the score chart."""
    principal = principal_of(user)
    resource = await resources.readable_resource(session, settings, principal, resource_id, share)
    viewer = resources.viewer_key(principal, share, request.client.host if request.client else "unknown")
    await resources.count_view(session, settings, resource, viewer, principal)
    loaded = await resources.resource_with_files(session, resource.id)
    detail = resource_read(loaded)
    version = _round_of(detail.versions, v, file)
    primary = next((item for item in version.files if item.purpose == "primary"), None)
    subtitles = [item for item in version.files if item.purpose == "subtitle"]
    shown_file: FileRead | None = next((item for item in version.files if item.id == file), None)
    document = shown_file if shown_file and shown_file.category == "document" else None
    if document is None and primary is not None and primary.category == "document":
        document = primary
    orm_files = {item.id: item for item in loaded.files}
    cues = await resources.file_cues(session, orm_files[subtitles[0].id]) if subtitles else []
    pages = await resources.file_pages(session, orm_files[document.id]) if document else []
    # A picture's text, read by OCR (a scanned 试卷, a photographed 学案).
    picture = primary if primary is not None and primary.category == "image" else None
    picture_pages = await resources.file_pages(session, orm_files[picture.id]) if picture else []
    # Text on screen in a recording (slides, the blackboard), each with a thumbnail.
    video = primary if primary is not None and primary.category == "video" else None
    screens = await screen_texts.file_screens(session, orm_files[video.id]) if video else []

    is_recording = resource.resource_type in resources.RECORDING_TYPES
    timeline = None
    categories: list[Any] = []
    rubrics: list[Any] = []
    # A lesson's review (timeline and scores) is for colleagues; students and share-link guests see
    # the lesson itself.
    reviewer = principal if is_recording and authz.can_see_review_scores(principal, resource) else None
    if reviewer is not None:
        view = await review.timeline(session, reviewer, resource.id, version.number)
        timeline = {
            "comments": [comment_read(thread.row, thread.replies) for thread in view.comments],
            "carried_over": [comment_read(thread.row, thread.replies) for thread in view.carried_over],
            "duration_s": view.duration_s,
        }
        categories = await review.list_categories(session, include_inactive=False)
    can_comment = is_recording and principal is not None and authz.can(principal, Action.comment, resource)
    can_score = is_recording and authz.can_score(principal, resource)
    if can_score:
        rubrics = [rubric_read(item) for item in await review.list_rubrics(session, include_inactive=False)]
    scores = await review.resource_scores(session, reviewer, resource.id, None) if reviewer else None
    owner = await topics.authors(session, [resource.owner_id])
    return await render_page(
        request,
        session,
        user,
        "resource.html",
        resource=detail,
        owner_name=owner[resource.owner_id].display_name if resource.owner_id in owner else "",
        version=version,
        primary=primary,
        subtitles=subtitles,
        attachments=[item for item in version.files if item.purpose == "attachment"],
        cues=cues,
        picture_pages=picture_pages,
        screens=screens,
        document=document,
        pages=pages,
        target_page=page,
        start_at=t,
        share_query=f"?share={share}" if share else "",
        timeline=timeline,
        categories=categories,
        can_comment=can_comment,
        can_score=can_score,
        can_update=principal is not None and authz.can(principal, Action.update, resource),
        can_delete=principal is not None and authz.can(principal, Action.delete, resource),
        **_curriculum_choices(),
        rubrics=rubrics,
        score_charts=views.score_charts(scores) if scores else [],
        is_recording=is_recording,
        **await sharing.share_panel(session, settings, principal, resource),
        favorite=await library.is_favorite(session, principal, resource.id),
        **await showcase_pages.resource_panel(session, principal, resource),
        review_request=(
            await publishing_review.subject_review(session, principal, "resource", resource.id)
        ).request
        if principal is not None
        else None,
    )


# -- uploading -------------------------------------------------------------------------------------


@router.get("/upload", response_class=HTMLResponse)
async def upload_page(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    resource: uuid.UUID | None = None,
) -> Response:
    """The metadata form with curriculum pickers and a resumable upload; ?resource= adds a round."""
    principal = _principal(user)
    resources.check_can_upload(principal)
    existing = await resources.writable_resource(session, principal, resource) if resource else None
    return await render_page(
        request,
        session,
        user,
        "upload.html",
        existing=existing,
        **_curriculum_choices(),
        has_school=user.school_id is not None,
    )


def _curriculum_choices() -> dict[str, Any]:
    """What the metadata pickers offer, for uploading a resource and for editing one."""
    return {
        "subjects": curriculum.SUBJECTS,
        "volumes": curriculum.VOLUMES,
        "editions": [group[0] for group in EDITION_GROUPS],
        "grades": views.GRADE_CHOICES,
    }


# -- topics ----------------------------------------------------------------------------------------


@router.get("/topics", response_class=HTMLResponse)
async def topics_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=100)] = "",
    state: TopicState | None = None,
    page: PageNumber = 1,
    resource: uuid.UUID | None = None,
) -> Response:
    """Topics this user may read, and (for teachers and staff) the form to open one; ?resource= links
    a lesson to the new topic."""
    principal = principal_of(user)
    found, total = await topics.list_topics(
        session,
        principal,
        TopicFilters(state=state, text=q.strip() or None),
        offset=(page - 1) * LIST_PAGE_SIZE,
        limit=LIST_PAGE_SIZE,
    )
    linked = await resources.readable_resource(session, settings, principal, resource) if resource else None
    state_value = state.value if state else ""
    return await render_page(
        request,
        session,
        user,
        "topics.html",
        topics=found,
        total=total,
        q=q,
        state=state_value,
        pages=views.simple_pages(total, page, LIST_PAGE_SIZE, {"q": q, "state": state_value}),
        subjects=curriculum.SUBJECTS,
        grades=views.GRADE_CHOICES,
        has_school=user is not None and user.school_id is not None,
        linked=linked,
    )


@router.get("/topics/{topic_id}", response_class=HTMLResponse)
async def topic_page(request: Request, topic_id: uuid.UUID, user: PageUser, session: SessionDep) -> Response:
    """The thread: the topic, its posts with replies, and the forms its permissions allow."""
    principal = principal_of(user)
    topic = await topics.readable_topic(session, principal, topic_id)
    thread = topic_read(await topics.thread(session, principal, topic), principal)
    posts = [post for top in thread.posts for post in (top, *top.replies) if not post.deleted]
    return await render_page(
        request,
        session,
        user,
        "topic.html",
        topic=thread,
        editable_posts={
            post.id for post in posts if post.author and authz.can_edit_post(principal, topic, post.author.id)
        },
        deletable_posts={
            post.id
            for post in posts
            # A post whose author's account is gone is left to the moderators.
            if (
                authz.can_delete_post(principal, topic, post.author.id)
                if post.author
                else authz.can_moderate(principal, topic)
            )
        },
    )


# -- notifications ---------------------------------------------------------------------------------


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(
    request: Request, user: SignedInUser, session: SessionDep, unread: bool = False, page: PageNumber = 1
) -> Response:
    items, total, unread_count = await notifications.inbox(
        session, user.id, unread_only=unread, offset=(page - 1) * LIST_PAGE_SIZE, limit=LIST_PAGE_SIZE
    )
    return await render_page(
        request,
        session,
        user,
        "notifications.html",
        items=[views.notification(item) for item in items],
        total=total,
        unread_only=unread,
        unread_count=unread_count,
        pages=views.simple_pages(total, page, LIST_PAGE_SIZE, {"unread": "true" if unread else ""}),
    )


# -- administration --------------------------------------------------------------------------------


def _require_admin(user: User) -> Principal:
    principal = _principal(user)
    if principal.role not in (Role.school_admin, Role.district_admin):
        raise Forbidden("Only administrators can open the administration pages")
    return principal


def _require_staff(user: User) -> Principal:
    """Administrators, and research leads who keep the observation framework."""
    principal = _principal(user)
    if principal.role not in (Role.school_admin, Role.district_admin) and not (
        authz.can_edit_observation_framework(principal)
    ):
        raise Forbidden("Only administrators and research leads can open the administration pages")
    return principal


@router.get("/admin", response_class=HTMLResponse)
async def admin_home(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    _require_staff(user)
    return await render_page(request, session, user, "admin/index.html")


@router.get("/admin/schools", response_class=HTMLResponse)
async def admin_schools(
    request: Request, user: SignedInUser, session: SessionDep, page: PageNumber = 1
) -> Response:
    _require_admin(user)
    schools, total = await identity.list_schools(
        session, offset=(page - 1) * LIST_PAGE_SIZE, limit=LIST_PAGE_SIZE
    )
    return await render_page(
        request,
        session,
        user,
        "admin/schools.html",
        schools=schools,
        total=total,
        pages=views.simple_pages(total, page, LIST_PAGE_SIZE, {}),
    )


@router.get("/admin/users", response_class=HTMLResponse)
async def admin_users(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    role: Role | None = None,
    school_id: uuid.UUID | None = None,
    page: PageNumber = 1,
) -> Response:
    principal = _require_admin(user)
    users, total = await identity.list_users(
        session,
        principal,
        school_id=school_id,
        role=role,
        text=q.strip() or None,
        offset=(page - 1) * LIST_PAGE_SIZE,
        limit=LIST_PAGE_SIZE,
    )
    schools, _ = await identity.list_schools(session, offset=0, limit=500)
    return await render_page(
        request,
        session,
        user,
        "admin/users.html",
        users=users,
        total=total,
        q=q,
        role=role.value if role else "",
        school_id=str(school_id) if school_id else "",
        schools=schools,
        school_names={school.id: school.name for school in schools},
        assignable=[item for item in Role if item in authz.assignable_roles(principal)],
        pages=views.simple_pages(
            total,
            page,
            LIST_PAGE_SIZE,
            {"q": q, "role": role.value if role else "", "school_id": str(school_id) if school_id else ""},
        ),
    )


# Days far from now would only overflow once turned into moments.
StatsDay = Annotated[date, Query(ge=date(1900, 1, 1), le=date(9000, 12, 31))]


@router.get("/admin/stats", response_class=HTMLResponse)
async def admin_stats(
    request: Request,
    user: SignedInUser,
    session: SessionDep,
    school_id: uuid.UUID | None = None,
    since: StatsDay | None = None,
    until: StatsDay | None = None,
    page: PageNumber = 1,
) -> Response:
    """研修统计: the period's research activity per school and per teacher, days in China time."""
    principal = _require_staff(user)
    stats = await research_stats.research_stats(
        session,
        principal,
        school_id=school_id,
        since=_start_of_day(since),
        # The last day shown is included: the period ends when the next day begins.
        until=_start_of_day(until + timedelta(days=1)) if until else None,
        offset=(page - 1) * LIST_PAGE_SIZE,
        limit=LIST_PAGE_SIZE,
    )
    review_stats = await publishing_review.review_stats(
        session,
        principal,
        school_id=school_id,
        since=_start_of_day(since),
        until=_start_of_day(until + timedelta(days=1)) if until else None,
    )
    district_wide = principal.role != Role.school_admin
    schools = (await identity.list_schools(session, offset=0, limit=500))[0] if district_wide else []
    filters = {
        "school_id": str(school_id) if school_id else "",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    return await render_page(
        request,
        session,
        user,
        "admin/stats.html",
        stats=stats,
        review_stats=review_stats,
        schools=schools,
        filters=filters,
        pages=views.simple_pages(stats.teacher_total, page, LIST_PAGE_SIZE, filters),
    )


def _start_of_day(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, presenters.CHINA_TIME).astimezone(UTC) if day else None


@router.get("/admin/rubrics", response_class=HTMLResponse)
async def admin_rubrics(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    """The observation framework: the categories review comments are filed under, and the rubrics."""
    _require_staff(user)
    rubrics = [rubric_read(item) for item in await review.list_rubrics(session, include_inactive=True)]
    categories = await review.list_categories(session, include_inactive=True)
    return await render_page(
        request, session, user, "admin/rubrics.html", rubrics=rubrics, categories=categories
    )


@router.get("/admin/synonyms", response_class=HTMLResponse)
async def admin_synonyms(request: Request, user: SignedInUser, session: SessionDep) -> Response:
    _require_admin(user)
    groups = await search.list_synonyms(session)
    return await render_page(
        request,
        session,
        user,
        "admin/synonyms.html",
        district=[group for group in groups if not group.built_in],
        built_in=[group for group in groups if group.built_in],
    )
