"""How domain values read on the pages: Chinese labels, clock times, sizes, highlighted snippets."""

from __future__ import annotations

import html
import math
import re
from datetime import UTC, datetime, timedelta, timezone

from markupsafe import Markup, escape

from storage.models.identity import PublicationStatus, Role, Visibility
from storage.models.research import NotificationKind, TopicState
from storage.models.resources import ProcessingStatus, ResourceType

# The district's clock: pages show China Standard Time, which has no daylight saving.
CHINA_TIME = timezone(timedelta(hours=8), "CST")

RESOURCE_TYPES: dict[str, str] = {
    ResourceType.lesson_record: "课例",
    ResourceType.micro_lesson: "微课",
    ResourceType.courseware: "课件",
    ResourceType.lesson_plan: "教案",
    ResourceType.study_guide: "学案",
    ResourceType.assignment: "作业设计",
    ResourceType.exam: "试卷",
    ResourceType.research: "教研成果",
}
VISIBILITIES: dict[str, str] = {
    Visibility.private: "仅自己",
    Visibility.school: "本校",
    Visibility.district: "全区",
    Visibility.public: "公开",
}
STATUSES: dict[str, str] = {PublicationStatus.draft: "草稿", PublicationStatus.published: "已发布"}
ROLES: dict[str, str] = {
    Role.student: "学生",
    Role.teacher: "教师",
    Role.research_lead: "教研员",
    Role.school_admin: "学校管理员",
    Role.district_admin: "区级管理员",
}
PROCESSING: dict[str, str] = {
    ProcessingStatus.pending: "处理中",
    ProcessingStatus.ready: "已就绪",
    ProcessingStatus.failed: "处理失败",
    ProcessingStatus.skipped: "已存储",
}
# Research statistics (研修统计), column by column, in the order shown.
ACTIVITY_LABELS: dict[str, str] = {
    "topics_opened": "发起研讨",
    "posts_written": "研讨发言",
    "review_comments": "评课意见",
    "rounds_scored": "量表评分",
    "lessons": "课例",
    "lessons_with_rounds": "多轮磨课",
    "rounds": "轮次",
    "rounds_per_lesson": "平均轮次",
    "watch_minutes": "观课时长（分钟）",
}

TOPIC_STATES: dict[str, str] = {
    TopicState.open: "讨论中",
    TopicState.summarized: "已总结",
    TopicState.closed: "已关闭",
}
NOTIFICATION_KINDS: dict[str, str] = {
    NotificationKind.mention: "提到了你",
    NotificationKind.reply: "回复",
    NotificationKind.lesson_comment: "评课",
    NotificationKind.topic_summarized: "研讨总结",
    NotificationKind.assignment_given: "新任务",
    NotificationKind.submission_reviewed: "作业已批改",
    NotificationKind.submission_returned: "作业被退回",
    NotificationKind.collection_item_added: "资源包更新",
    NotificationKind.review_decided: "发布审核",
}
EXEMPLARY_LEVELS: dict[str, str] = {"school": "校级", "district": "区级", "city": "市级"}
MATCH_KINDS: dict[str, str] = {
    "resource": "资源信息",
    "file_page": "文档页面",
    "video_cue": "视频字幕",
    "screen_text": "画面文字",
    "post": "研讨帖子",
}
FACETS: dict[str, str] = {
    "resource_type": "类型",
    "stage": "学段",
    "grade": "年级",
    "subject": "学科",
    "edition": "版本",
    "volume": "册次",
    "unit": "单元",
    "school_id": "学校",
    "tags": "标签",
    "kind": "匹配位置",
    "exemplary_level": "优秀课例",
}
_GRADE_NAMES = ("一", "二", "三", "四", "五", "六", "七", "八", "九")
FILE_CATEGORIES: dict[str, str] = {"video": "视频", "document": "文档", "image": "图片", "subtitle": "字幕"}
FILE_PURPOSES: dict[str, str] = {"primary": "主文件", "subtitle": "字幕", "attachment": "附件"}
# Approval before district-wide publishing (services/review).
REVIEW_STATES: dict[str, str] = {
    "pending": "待审核",
    "approved": "已通过",
    "rejected": "未通过",
    "returned": "退回修改",
    "withdrawn": "已撤回",
}
REVIEW_ACTIONS: dict[str, str] = {
    "submitted": "提交审核",
    "resubmitted": "重新提交",
    "updated": "内容有更新",
    "approved": "通过",
    "rejected": "不通过",
    "returned": "退回修改",
    "withdrawn": "撤回",
}
REVIEW_CAUSES: dict[str, str] = {
    "publish": "申请发布",
    "round": "新一轮（磨课）",
    "file": "更换文件",
    "edit": "修改内容",
}


def grade_label(grade: int | str | None) -> str:
    if grade is None or grade == "":
        return ""
    number = int(grade)
    if 1 <= number <= 9:
        return f"{_GRADE_NAMES[number - 1]}年级"
    if 10 <= number <= 12:
        return f"高{_GRADE_NAMES[number - 10]}"
    return str(grade)


def facet_value_label(facet: str, value: str, label: str | None) -> str:
    if label:
        return label
    if facet == "resource_type":
        return RESOURCE_TYPES.get(value, value)
    if facet == "grade":
        return grade_label(value) if value.isdigit() else value
    if facet == "kind":
        return MATCH_KINDS.get(value, value)
    if facet == "exemplary_level":
        return EXEMPLARY_LEVELS.get(value, value)
    return value


def clock(seconds: float | None) -> str:
    """12.7 → 00:12; 3725 → 1:02:05. Whole seconds, rounded down, as players show them."""
    if seconds is None or math.isnan(seconds):
        return ""
    whole = max(0, math.floor(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


def file_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


_EMPHASIS = re.compile(r"(</?em>)")


def highlighted(snippet: str | None) -> Markup:
    """A search highlight as safe HTML: only its <em> marks survive, as <mark>.

    The index already escapes snippets, but the page does not rely on that: every piece between the
    marks is unescaped and escaped again, so a snippet that was not escaped cannot inject markup, and
    one that was is not escaped twice.
    """
    if not snippet:
        return Markup("")
    pieces: list[str] = []
    inside = False
    for piece in _EMPHASIS.split(snippet):
        if piece == "<em>":
            if not inside:
                pieces.append("<mark>")
            inside = True
        elif piece == "</em>":
            if inside:
                pieces.append("</mark>")
            inside = False
        else:
            pieces.append(str(escape(html.unescape(piece))))
    if inside:
        pieces.append("</mark>")
    return Markup("".join(pieces))  # noqa: S704 (every piece above is escaped or a fixed tag)
