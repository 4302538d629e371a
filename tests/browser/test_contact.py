"""The contact form in a real browser, in Chinese, without an account."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = pytest.mark.browser


def test_send_a_message_in_chinese_and_open_the_thread_from_the_email(browser, live_server, outbox):
    context = browser.new_context(locale="zh-CN", extra_http_headers={"Accept-Language": "zh-CN"})
    try:
        page = context.new_page()
        page.goto(live_server + "/contact")
        serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in {"serious", "critical"}]
        assert serious == []
        page.get_by_label("您的姓名").fill("李雷")
        page.get_by_label("电子邮箱地址").fill("lilei@example.com")
        page.get_by_label("主题").select_option("technical")
        page.get_by_label("留言").fill("请问搜索接口每次最多返回多少条帖子？")
        page.get_by_role("button", name="发送消息").click()
        page.get_by_role("heading", name="谢谢，您的消息已发送").wait_for()
        reference = re.search(r"SUP-[2-9A-Z]{6}", page.content()).group()
        mail = next(m for m in outbox if m["To"] == "lilei@example.com")
        assert reference in mail["Subject"]
        link = re.search(r"https?://\S+/contact/thread/\S+", mail.get_body(("plain",)).get_content()).group()
        page.goto(link)
        assert page.get_by_text("请问搜索接口每次最多返回多少条帖子？").is_visible()
        assert context.cookies() == []  # sending a message needs no cookie at all
    finally:
        context.close()
