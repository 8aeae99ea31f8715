"""Browser steps of the console test, one per person's job (run in a process of their own, see support_browser).

Each step signs in as its person, does the job through the pages as that person would (labels, buttons), checks
what the page shows with Playwright's own waits, and saves screenshots at desktop and phone width.
"""
import re
from pathlib import Path

from playwright.sync_api import expect

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 20_000


def _watch(page) -> list[str]:
    """What the page reports as errors: a script refused by the CSP, a failed script, a missing file."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def _unlabelled(page) -> list[str]:
    """The form fields a screen reader could not name: each needs a label (or an aria-label)."""
    return page.eval_on_selector_all(
        "input:not([type=hidden]), select, textarea",
        "fields => fields.filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label'))"
        ".map(f => f.name || f.id)")


def _shoot(page, shots: str, name: str, widths=("desktop", "phone")) -> None:
    """The page as it is now, at desktop and at phone width (full height); every field on it has a label."""
    assert _unlabelled(page) == [], f"fields without a label on {page.url}"
    folder = Path(shots)
    folder.mkdir(parents=True, exist_ok=True)
    for width in widths:
        page.set_viewport_size(DESKTOP if width == "desktop" else PHONE)
        page.screenshot(path=str(folder / f"console-{name}-{width}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def _sign_in(page, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("登录名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who")).to_contain_text("退出")


def counter_submits(page, url: str, name: str, password: str, shots: str) -> dict:
    """全岗通: finds 物业报修, registers the resident of 市新居民区, submits for her (代办), sees where it went."""
    errors = _watch(page)
    page.goto(f"{url}/counter")
    expect(page).to_have_url(re.compile(r"/login\?next=/counter$"))
    _shoot(page, shots, "login")
    # By keyboard alone: the name field has the focus, Tab goes on to the password, Enter signs in; the field
    # with the focus shows it.
    expect(page.get_by_label("登录名")).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("密码")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/counter$"))
    page.get_by_label("事项名称").fill("报修")
    matter = page.locator("#matters").get_by_role("link", name="物业报修", exact=True)
    expect(matter).to_be_visible()  # the list came by htmx, without a page load
    _shoot(page, shots, "counter")
    matter.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("物业报修")
    page.get_by_label("姓名").fill("王阿姨")
    page.get_by_label("手机号").fill("13812345678")
    page.get_by_label("居民区").select_option(label="市新居民区")
    page.get_by_label("楼号").fill("12")
    page.get_by_label("室号").fill("301")
    page.get_by_label("报修部位").select_option(label="楼道")
    page.get_by_label("居民诉求").fill("12号楼3楼楼道灯不亮，晚上上下楼看不见")
    page.get_by_label("工作人员代居民办理（代办）").check()
    _shoot(page, shots, "matter-form")
    page.get_by_role("button", name="受理并提交").click()
    expect(page.get_by_role("status").first).to_contain_text("已受理")
    # Routing decides a moment later; the page asks again by itself until it has.
    expect(page.locator("#lead-unit")).to_have_text("市新居民区物业", timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("通知市新居民区物业", timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("通知居民", timeout=WAIT_MS)
    _shoot(page, shots, "case-routed")
    return {"case_id": page.url.split("/cases/")[1].split("?")[0], "decision": page.locator("#decision").inner_text(),
            "summary": page.locator("#summary-title").locator("xpath=..").inner_text(),
            "timeline": page.locator("#timeline").inner_text(), "errors": errors}


def handler_works(page, url: str, name: str, password: str, shots: str) -> dict:
    """The property company's handler, on a phone: signs, records the first contact, reports the result."""
    errors = _watch(page)
    page.set_viewport_size(PHONE)
    _sign_in(page, url, name, password)
    expect(page).to_have_url(re.compile(r"/handler$"))
    card = page.locator(".assignment").filter(has_text="物业报修")
    expect(card).to_contain_text("待签收")
    expect(card).to_contain_text("市新居民区")
    _shoot(page, shots, "handler")
    card.get_by_role("button", name="签收").click()
    expect(page.get_by_role("status")).to_have_text("已签收。")
    expect(card).to_contain_text("已签收")
    card.get_by_role("button", name="已联系居民").click()
    expect(page.get_by_role("status")).to_have_text("已记录先行联系。")
    expect(card).to_contain_text("办理中")
    card.get_by_label("办理结果（答复居民）").fill("已更换12号楼3楼楼道灯泡，并检查了线路")
    card.get_by_role("button", name="上报办结").click()
    expect(page.get_by_role("status")).to_have_text("已上报办结。")
    expect(page.locator(".assignment").filter(has_text="物业报修")).to_have_count(0)  # off the open list
    page.get_by_role("link", name="已办结").click()
    done = page.locator(".assignment").filter(has_text="物业报修")
    expect(done).to_contain_text("已更换12号楼3楼楼道灯泡")
    _shoot(page, shots, "handler-done", widths=("phone",))
    return {"errors": errors}


def callback_dissatisfied(page, url: str, name: str, password: str, shots: str, case_id: str) -> dict:
    """回访: the resident is not satisfied; the case comes back as a warning case (预警工单)."""
    errors = _watch(page)
    _sign_in(page, url, name, password)
    page.get_by_role("link", name="回访").click()
    page.locator(f'a[href="/cases/{case_id}/callback"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text("回访居民")
    expect(page.locator("dl.facts")).to_contain_text("已更换12号楼3楼楼道灯泡")
    page.get_by_label("不满意", exact=True).check()
    page.get_by_label("居民的意见").fill("灯换了两天又不亮了")
    _shoot(page, shots, "callback")
    page.get_by_role("button", name="记录回访").click()
    expect(page.get_by_role("status").first).to_contain_text("回访已记录")
    live = page.locator("#case-live")
    expect(live).to_contain_text("预警工单", timeout=WAIT_MS)
    expect(page.locator("#timeline")).to_contain_text("预警工单，重新派至市新居民区物业", timeout=WAIT_MS)
    expect(page.locator("#summary-title").locator("xpath=..")).to_contain_text("不满意")
    _shoot(page, shots, "case-warning")
    return {"timeline": page.locator("#timeline").inner_text(), "status": page.locator("#case-status").inner_text(),
            "errors": errors}


def treasurer_records(page, url: str, name: str, password: str, shots: str, event_name: str) -> dict:
    """The foundation's treasurer records a company's donation at the charity night and opens its receipt."""
    errors = _watch(page)
    _sign_in(page, url, name, password)
    expect(page).to_have_url(re.compile(r"/treasurer$"))
    page.get_by_label("捐赠人类型").select_option(label="企业")
    page.get_by_label("捐赠人名称").fill("艺仓美术馆")
    page.get_by_label("金额（元）").fill("50000.00")
    page.get_by_label("活动").select_option(label=event_name)
    page.get_by_label("备注").fill("艺仓美术馆美术教育专项基金")
    _shoot(page, shots, "treasurer")
    page.get_by_role("button", name="登记并开具收据").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("捐赠收据")
    expect(page.locator("#receipt-amount")).to_have_text("¥50,000.00")
    expect(page.locator("#receipt-words")).to_have_text("人民币伍万元整")
    expect(page.locator("#receipt-donor")).to_have_text("艺仓美术馆（企业）")
    expect(page.locator(".receipt")).to_contain_text(event_name)
    _shoot(page, shots, "receipt")
    page.emulate_media(media="print")  # the print stylesheet: the receipt alone
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_role("button", name="打印收据")).to_be_hidden()
    expect(page.locator(".receipt")).to_be_visible()
    _shoot(page, shots, "receipt-print", widths=("desktop",))
    page.emulate_media(media="screen")
    return {"number": page.locator("#receipt-number").inner_text(), "receipt": page.locator(".receipt").inner_text(),
            "errors": errors}


def auditor_verifies(page, url: str, name: str, password: str, shots: str) -> dict:
    """The auditor verifies the foundation's book and sees it pass, with its chain head."""
    errors = _watch(page)
    _sign_in(page, url, name, password)
    expect(page).to_have_url(re.compile(r"/auditor$"))
    page.get_by_label("账簿").select_option(label="社区公益基金会账簿")
    page.get_by_role("button", name="核验").click()
    expect(page.locator("#verdict")).to_have_text("核验通过")
    expect(page).to_have_url(re.compile(r"/auditor$"))  # the result came by htmx into the same page
    _shoot(page, shots, "auditor")
    return {"sequence": page.locator("#head-sequence").inner_text(), "hash": page.locator("#head-hash").inner_text(),
            "errors": errors}
