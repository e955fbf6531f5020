"""Topic threads and administration in a browser: @mention completion, replies, editing, summary and closing;
schools, users, research statistics, rubrics and synonyms pages."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.web.browsing import screenshot, signed_in_page
from tests.web.site import Site


def test_a_topic_is_opened_with_a_mention_discussed_summed_up_and_closed(
    browser: Browser, site: Site
) -> None:
    teacher = signed_in_page(browser, site, "teacher")
    teacher.goto("/topics")
    teacher.get_by_label("标题", exact=True).fill("低年级识字教学怎样更有趣")
    body = teacher.get_by_label("内容（支持 Markdown")
    body.fill("大家有什么好办法？请 ")
    body.press_sequentially("@li")
    mention = teacher.get_by_role("option", name=re.compile("李老师"))
    expect(mention).to_be_visible()
    body.press("ArrowDown")
    body.press("Enter")
    expect(body).to_have_value("大家有什么好办法？请 @li.laoshi ")
    body.press_sequentially("看看。")
    teacher.get_by_label("年级（可多选）").select_option(["1", "2"])
    teacher.get_by_label("学科（可多选）").select_option(["语文"])
    screenshot(teacher, site, "topic-new")
    teacher.get_by_role("button", name="发布研讨").click()
    teacher.wait_for_url(re.compile(r"/topics/[0-9a-f-]{36}$"))
    topic_url = teacher.url
    expect(teacher.get_by_role("heading", name="低年级识字教学怎样更有趣")).to_be_visible()
    teacher.goto("/topics")
    expect(teacher.locator(".topic-list")).to_contain_text("低年级识字教学怎样更有趣")
    screenshot(teacher, site, "topics")
    teacher.goto(topic_url)

    # The colleague was mentioned: the notification leads to the topic, where they post.
    colleague = signed_in_page(browser, site, "colleague")
    colleague.goto("/notifications")
    colleague.get_by_role("link", name=re.compile("低年级识字教学")).first.click()
    colleague.wait_for_url(re.compile(re.escape(topic_url)))
    colleague.get_by_label("内容（支持 Markdown，输入 @ 提醒同事）").fill("可以用**字理**识字，配合图片。")
    colleague.get_by_role("button", name="发表", exact=True).click()
    expect(colleague.locator(".post").filter(has_text="字理")).to_be_visible()
    expect(colleague.locator(".post strong")).to_have_text("字理")
    own_post = colleague.locator(".post").filter(has_text="字理")
    own_post.locator("summary", has_text="编辑").click()
    own_post.get_by_label("修改内容").fill("可以用**字理**识字，配合图片和动作。")
    own_post.get_by_role("button", name="保存").click()
    expect(colleague.locator(".post").filter(has_text="配合图片和动作")).to_contain_text("（已编辑）")

    # The teacher replies to that post, then sums the discussion up and closes it.
    teacher.reload()
    post = teacher.locator(".post").filter(has_text="字理")
    post.locator("summary", has_text="回复").click()
    post.get_by_label("回复 李老师").fill("好主意，下周试试。")
    post.get_by_role("button", name="发表回复").click()
    expect(teacher.locator(".replies .post")).to_contain_text("好主意")
    teacher.get_by_label("总结（所有参与者会收到通知）").fill("结论：字理识字 + 图片。")
    teacher.get_by_role("button", name="提交总结").click()
    expect(teacher.get_by_role("heading", name="研讨总结")).to_be_visible()
    expect(teacher.locator("header .tag").first).to_have_text("已关闭")
    expect(teacher.get_by_role("button", name="发表", exact=True)).to_have_count(0)
    screenshot(teacher, site, "topic-thread")


def test_administrators_manage_schools_users_rubrics_synonyms_and_read_statistics(
    browser: Browser, site: Site
) -> None:
    admin = signed_in_page(browser, site, "admin")
    admin.get_by_role("link", name="管理").click()
    screenshot(admin, site, "admin")
    admin.get_by_role("link", name="学校").click()
    expect(admin.get_by_role("rowheader", name="金水区实验小学")).to_be_visible()
    admin.get_by_label("名称").fill("金水区第二小学")
    admin.get_by_label("代码").fill("JS02")
    admin.get_by_role("button", name="添加").click()
    expect(admin.get_by_role("rowheader", name="金水区第二小学")).to_be_visible()
    screenshot(admin, site, "admin-schools")

    admin.goto("/admin/users")
    admin.get_by_label("用户名", exact=True).fill("zhang.laoshi")
    admin.get_by_label("姓名", exact=True).fill("张老师")
    admin.get_by_label("初始密码").fill("a-long-password")
    admin.get_by_label("角色", exact=True).select_option("teacher")
    admin.get_by_label("学校", exact=True).select_option(label="金水区第二小学")
    admin.get_by_role("button", name="添加").click()
    row = admin.get_by_role("row").filter(has_text="zhang.laoshi")
    expect(row).to_contain_text("张老师")
    row.get_by_role("button", name="停用 zhang.laoshi").click()
    expect(admin.get_by_role("row").filter(has_text="zhang.laoshi")).to_contain_text("已停用")
    screenshot(admin, site, "admin-users")

    admin.goto("/admin/rubrics")
    expect(admin.get_by_role("heading", name="课堂观察量表")).to_be_visible()
    admin.get_by_label("维度名称").fill("课堂评价")
    admin.get_by_role("button", name="添加维度").click()
    category = admin.get_by_role("row").filter(has_text="课堂评价")
    expect(category).to_contain_text("使用中")
    category.get_by_role("button", name="停用 课堂评价").click()
    expect(admin.get_by_role("row").filter(has_text="课堂评价")).to_contain_text("已停用")
    screenshot(admin, site, "admin-rubrics")

    admin.goto("/admin/synonyms")
    admin.get_by_label("词语").fill("喜鹊课, 鹊桥课")
    admin.get_by_role("button", name="添加").click()
    expect(admin.locator(".synonym-list").first).to_contain_text("喜鹊课 = 鹊桥课")
    screenshot(admin, site, "admin-synonyms")

    admin.get_by_role("link", name="研修统计").click()
    expect(admin.get_by_role("heading", name="研修统计", exact=True)).to_be_visible()
    admin.get_by_label("学校", exact=True).select_option(label="金水区实验小学")
    admin.get_by_role("button", name="统计").click()
    expect(admin.get_by_role("table", name="教师研修活动")).to_contain_text("王老师")
    screenshot(admin, site, "admin-stats")
