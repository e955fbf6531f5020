"""Markdown is rendered without any way to run script, and @mentions are found."""

from __future__ import annotations

import pytest

from services.markdown import mentioned_usernames, render


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](vbscript:msgbox(1))",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<iframe src="https://evil.example"></iframe>',
        "<svg onload=alert(1)>",
    ],
)
def test_no_script_survives_rendering(attack: str) -> None:
    html = render(f"讨论 {attack} 结束").lower()
    assert "<script" not in html and "<img src=x" not in html and "<iframe" not in html and "<svg" not in html
    assert 'href="javascript:' not in html and 'href="vbscript:' not in html and 'href="data:' not in html
    assert 'src="javascript:' not in html


def test_ordinary_markdown_renders() -> None:
    html = render(
        "# 教学目标\n\n- 认识 **生字**\n- [课件](https://example.cn/a.pptx)\n\n"
        "| 环节 | 时间 |\n|---|---|\n| 导入 | 5 |"
    )
    assert "<h1>教学目标</h1>" in html and "<strong>生字</strong>" in html
    assert '<a href="https://example.cn/a.pptx" rel="nofollow noopener">课件</a>' in html
    assert "<table>" in html


def test_mentions() -> None:
    assert mentioned_usernames("请 @t.zhang. 和 @li_01、@li_01 看看，邮件 a@b.cn 不算") == [
        "t.zhang",
        "li_01",
    ]
