"""The results page in headless Chromium.

Two groups:

* ``TestAgainstCannedEnvelopes`` — the page against fake_gateway.py (envelopes that follow
  the contract exactly): every rendering, every error, paging, tokens, untrusted data.
* ``TestEndToEnd`` — the page against a real ``resultgate serve`` in front of the real
  Prefect server of the session, with results written by real flows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fake_gateway as fg
import pytest

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:  # pragma: no cover - depends on the machine
    if os.environ.get("RESULTGATE_TEST_REQUIRE_ALL"):
        raise
    pytest.skip("the playwright Python package is not installed", allow_module_level=True)

if TYPE_CHECKING:  # the browser conftest; imported for types only (conftest modules share a name)
    from conftest import PageFactory, RealGateway, Scheme

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser

Shot = Callable[..., Path]


def lookup(page: Page, id_: str) -> None:
    """Type an id into the box and press Enter, as a person would."""
    box = page.get_by_label("Id", exact=True)
    box.fill(id_)
    box.press("Enter")


def result(page: Page) -> Locator:
    return page.locator("article.result")


def error_panel(page: Page) -> Locator:
    return page.get_by_role("alert")


def no_horizontal_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def _luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+(?:\.\d+)?", css)[:3])

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(locator: Locator) -> float:
    """WCAG contrast ratio of an element's text against its own background."""
    fg_css, bg_css = locator.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    hi, lo = sorted((_luminance(fg_css), _luminance(bg_css)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# ====================================================================== canned


class TestAgainstCannedEnvelopes:
    def test_string_value_with_copy_and_download(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto("/")
        expect(page.get_by_label("Id", exact=True)).to_be_focused()
        lookup(page, fg.STR_STATE)

        expect(page).to_have_url(re.compile(rf"\?id={fg.STR_STATE}$"))
        expect(result(page).locator(".badge").first).to_have_text("COMPLETED")
        expect(result(page).get_by_role("heading", level=2)).to_have_text("Completed")
        expect(page.get_by_label("Value as text")).to_have_text("hello world")
        expect(result(page).get_by_text("Flow-run state")).to_be_visible()
        # the run it belongs to is a link that opens it
        expect(result(page).get_by_role("link", name=fg.FLOW_RUN)).to_have_attribute(
            "href", re.compile(rf"/\?id={fg.FLOW_RUN}$")
        )

        page.get_by_role("button", name="Copy").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == "hello world"

        download = page.get_by_role("link", name="Download the raw file")
        expect(download).to_have_attribute(
            "href", re.compile(rf"/api/flow_run_states/{fg.STR_STATE}/result\?format=raw$")
        )
        assert page.locator(".safety").get_by_text("98 B").is_visible()

    def test_deep_link_tree_lazy_expand_and_history(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway, shot: Shot
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.DICT_STATE}")
        tree = result(page).locator(".tree")
        expect(tree.get_by_text('"weekly-report"')).to_be_visible()
        expect(tree.get_by_text("datetime.datetime")).to_be_visible()
        expect(tree.get_by_text('"2026-12-01T08:00:00+00:00"')).to_be_visible()
        # depth 2 is collapsed and not even built yet
        assert tree.get_by_text('"found me"').count() == 0
        tree.locator("summary", has_text="deeper").click()
        tree.locator("summary", has_text="deepest").click()
        expect(tree.get_by_text('"found me"')).to_be_visible()
        # collapsing hides it again
        tree.locator("summary", has_text="nested").click()
        expect(tree.get_by_text('"found me"')).to_be_hidden()
        shot(page, "canned-dict-tree")

        lookup(page, fg.STR_STATE)
        expect(page.get_by_label("Value as text")).to_have_text("hello world")
        page.go_back()
        expect(page).to_have_url(re.compile(rf"\?id={fg.DICT_STATE}$"))
        expect(result(page).locator(".tree").get_by_text('"weekly-report"')).to_be_visible()
        expect(page.get_by_label("Id", exact=True)).to_have_value(fg.DICT_STATE)

    def test_records_as_table_with_tree_toggle(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.RECORDS_STATE}")
        table = result(page).locator("table.records")
        expect(table.locator("thead th")).to_have_text(["city", "population", "river", "capital"])
        expect(table.locator("tbody tr")).to_have_count(4)
        expect(table.locator("tbody tr").nth(1).locator("td").first).to_have_text("Paris")

        page.get_by_role("button", name="Tree").click()
        expect(page.get_by_role("button", name="Tree")).to_have_attribute("aria-pressed", "true")
        expect(table).to_be_hidden()
        expect(result(page).locator(".tree").get_by_text('"Bordeaux"')).to_be_visible()
        page.get_by_role("button", name=re.compile(r"^Table")).click()
        expect(table).to_be_visible()

    def test_exception_as_error_block(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.FAILED_STATE}")
        expect(result(page).locator(".badge").first).to_have_text("FAILED")
        block = page.get_by_role("group", name="Exception")
        expect(block.locator(".exc-class")).to_have_text("ValueError")
        expect(block.locator(".exc-qual")).to_have_text("builtins.ValueError")
        expect(block.locator(".exc-message")).to_have_text("boom: it failed")
        expect(result(page).locator(".message")).to_contain_text("Flow run encountered an exception")
        # FAILED is red, COMPLETED green: the badge colour follows Prefect's state colours
        colour = result(page).locator(".badge").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(217, 43, 43)"

    @pytest.mark.parametrize(
        ("state_type", "background"),
        [
            ("COMPLETED", "rgb(42, 199, 105)"),  # green
            ("FAILED", "rgb(217, 43, 43)"),  # red
            ("CRASHED", "rgb(194, 65, 12)"),  # orange
            ("CANCELLED", "rgb(95, 103, 114)"),  # grey
            ("RUNNING", "rgb(24, 96, 242)"),  # blue
            ("SCHEDULED", "rgb(252, 209, 78)"),  # yellow
            ("PENDING", "rgb(245, 220, 138)"),  # pale yellow
        ],
    )
    def test_state_badge_colours(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway, state_type: str, background: str
    ) -> None:
        envelope = json.loads(json.dumps(fg.ENVELOPES[fg.STR_STATE]))
        envelope["state"]["type"] = state_type
        page = open_page(fake_gateway.url)
        page.route(
            f"**/api/results/{fg.STR_STATE}",
            lambda route: route.fulfill(
                status=200, body=json.dumps(envelope), content_type="application/json"
            ),
        )
        page.goto(f"/?id={fg.STR_STATE}")
        badge = result(page).locator(".badge").first
        expect(badge).to_have_text(state_type)
        expect(badge).to_have_css("background-color", background)
        assert contrast(badge) >= 4.5

    def test_odd_envelope_fields_do_not_break_the_page(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        # an envelope whose state is not an object and whose safety is garbage: still no crash
        envelope = {**fg.ENVELOPES[fg.STR_STATE], "state": "odd", "safety": [1, 2], "serializer": 7}
        page.route(
            f"**/api/results/{fg.STR_STATE}",
            lambda route: route.fulfill(
                status=200, body=json.dumps(envelope), content_type="application/json"
            ),
        )
        page.goto(f"/?id={fg.STR_STATE}")
        expect(page.get_by_label("Value as text")).to_have_text("hello world")
        expect(result(page).locator(".badge").first).to_have_text("UNKNOWN")

    def test_placeholder_and_code_warning(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.PLACEHOLDER_STATE}")
        block = page.get_by_role("group", name="Object not built")
        expect(block).to_contain_text("not built")
        expect(block.locator(".ph-head code")).to_have_text("__main__.Point")
        expect(block.locator(".tree")).to_contain_text("x")
        safety = page.locator("aside.safety")
        expect(safety).to_have_class(re.compile(r"\bwarn\b"))
        expect(safety.locator(".warning")).to_contain_text("carries code")
        expect(safety.locator("details.names.danger li")).to_have_text(["__main__.Point"])

    def test_function_by_value_inside_a_tree(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.CODE_STATE}")
        leaf = result(page).locator(".tree .leaf", has_text="transform")
        expect(leaf.locator(".chip")).to_have_text("not built")
        expect(leaf.locator("code")).to_have_text("function __main__.double")
        # the preview's cut marker is flagged, not shown as if it were the data
        expect(result(page).locator(".tree .v.str.cut")).to_contain_text("…(truncated)")
        expect(page.locator("aside.safety")).to_have_class(re.compile(r"\bwarn\b"))

    def test_plain_safety_is_not_a_warning(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.STR_STATE}")
        safety = page.locator("aside.safety")
        expect(safety).to_have_class(re.compile(r"\bok\b"))
        expect(safety.locator(".warning")).to_have_count(0)
        expect(safety.locator(".verdict")).to_have_text(fg.SAFE["verdict"])

    def test_large_value_preview_is_capped(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.BIG_STATE}")
        notice = result(page).locator(".notice.large")
        expect(notice).to_contain_text("25 MiB stored")
        expect(notice.get_by_role("link", name="Download the whole file")).to_have_attribute(
            "href", re.compile(r"format=raw$")
        )
        leaves = result(page).locator(".tree .leaf")
        expect(leaves).to_have_count(100)  # 1000 items in the preview, 100 in the DOM
        more = page.get_by_role("button", name=re.compile(r"^Show 100 more"))
        expect(more).to_contain_text("100 of 1,000 shown")
        more.click()
        expect(leaves).to_have_count(200)
        expect(leaves.nth(199).locator(".v.num")).to_have_text("199")

    def test_flow_run_lists_task_runs_and_opens_one(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway, shot: Shot
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.FLOW_RUN}")
        run = page.locator("section.run")
        expect(run.get_by_role("heading", name="Flow run cheerful-otter")).to_be_visible()
        items = run.locator("ol.items > li")
        expect(items).to_have_count(5)
        expect(items.locator(".chip")).to_have_text(["ok", "ok", "ok", "no result", "error"])
        expect(items.nth(2).locator(".item-preview")).to_have_text("a string preview")
        expect(items.nth(4).locator(".badge")).to_have_text("FAILED")
        # the flow's own value is shown above the list
        expect(page.get_by_label("Value as text")).to_have_text("42")
        shot(page, "canned-flow-run")

        items.nth(1).get_by_role("link").click()
        expect(page).to_have_url(re.compile(rf"\?id={fg.TASK_STATE}$"))
        expect(result(page).get_by_text("Task-run state")).to_be_visible()
        expect(result(page).get_by_role("link", name=fg.TASK_RUN)).to_be_visible()
        # focus moved to the new result for keyboard and screen-reader users
        expect(result(page).get_by_role("heading", level=2)).to_be_focused()

        page.get_by_role("link", name="Show the whole run").click()
        expect(page).to_have_url(re.compile(rf"\?id={fg.FLOW_RUN}$"))
        expect(page.locator("section.run ol.items > li")).to_have_count(5)

    def test_run_list_failing_keeps_the_value(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        body = json.dumps(
            {"error": {"code": "prefect-unreachable", "status": 502, "message": "Prefect is down."}}
        )
        page.route(
            re.compile(r".*/api/flow_runs/[^/]+/results\?.*"),
            lambda route: route.fulfill(status=502, body=body, content_type="application/json"),
        )
        page.goto(f"/?id={fg.FLOW_RUN}")
        expect(page.get_by_label("Value as text")).to_have_text("42")
        alert = error_panel(page)
        expect(alert.get_by_role("heading", level=2)).to_contain_text("The run's task runs")
        expect(alert).to_contain_text("Prefect is down.")

    def test_flow_run_paging(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.PAGED_FLOW_RUN}")
        pager = page.get_by_role("navigation", name="Pages of results")
        expect(pager).to_contain_text("1–50 of 120")
        expect(pager.get_by_role("button", name="Previous")).to_be_disabled()
        pager.get_by_role("button", name="Next").click()
        expect(page).to_have_url(re.compile(r"offset=50$"))
        expect(pager).to_contain_text("51–100 of 120")
        expect(page.locator("ol.items .item-name").first).to_have_text("task-150")
        assert any("limit=50&offset=50" in s.path for s in fake_gateway.seen)
        pager.get_by_role("button", name="Next").click()
        expect(pager).to_contain_text("101–120 of 120")
        expect(pager.get_by_role("button", name="Next")).to_be_disabled()

    @pytest.mark.parametrize(
        ("id_", "title", "extra"),
        [
            (
                "00000000-0000-4000-8000-00000000dead",
                "Not found",
                "has id 00000000-0000-4000-8000-00000000dead",
            ),
            (fg.NO_RESULT_STATE, "No persisted result", "PREFECT_RESULTS_PERSIST_BY_DEFAULT=true"),
            (fg.EXPIRED_STATE, "Result expired", "expired on 2026-01-01"),
            (fg.TOO_LARGE_STATE, "Too large", "3.2 GiB"),
            (fg.UNSUPPORTED_STATE, "Serializer not supported", "msgpack"),
            (fg.MALFORMED_STATE, "Cannot decode the result", "ends early"),
            (fg.REFUSED_STATE, "Refused", "outside the allowed roots"),
            (fg.DOWN_STATE, "Prefect or the storage is unreachable", "Cannot connect"),
            (fg.TIMEOUT_STATE, "Prefect did not answer in time", "within 10 s"),
        ],
    )
    def test_every_error_has_a_clear_message(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway, id_: str, title: str, extra: str
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto("/")
        lookup(page, id_)
        alert = error_panel(page)
        expect(alert.get_by_role("heading", level=2)).to_contain_text(title)
        expect(alert).to_contain_text(extra)
        expect(result(page)).to_have_count(0)
        if id_ == fg.TOO_LARGE_STATE:
            download = alert.get_by_role("link", name="Download the raw file")
            expect(download).to_have_attribute("href", re.compile(rf"/api/results/{id_}\?format=raw$"))
            assert page.request.get(download.get_attribute("href") or "").ok
        if id_ == fg.NO_RESULT_STATE:
            expect(alert.locator(".howto pre")).to_contain_text("@flow(persist_result=True)")
            expect(alert.locator(".hint")).to_contain_text("persist_result=True")

    def test_gateway_not_answering(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.route("**/api/**", lambda route: route.abort("connectionrefused"))
        page.goto(f"/?id={fg.STR_STATE}")
        expect(error_panel(page).get_by_role("heading", level=2)).to_contain_text("No answer")
        expect(error_panel(page)).to_contain_text("The gateway did not answer")

    def test_non_json_error_answer(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.route(
            "**/api/**",
            lambda route: route.fulfill(status=500, body="Internal Server Error", content_type="text/plain"),
        )
        page.goto(f"/?id={fg.STR_STATE}")
        expect(error_panel(page).get_by_role("heading", level=2)).to_contain_text("The gateway failed")

    def test_token_asked_for_and_sent(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.AUTH_STATE}")
        expect(error_panel(page).get_by_role("heading", level=2)).to_contain_text("Unauthorized")
        token_box = page.get_by_label("Token", exact=True)
        expect(token_box).to_be_visible()
        expect(token_box).to_be_focused()
        token_box.fill(fg.TOKEN)
        token_box.press("Enter")
        expect(page.get_by_label("Value as text")).to_have_text("secret value")
        assert page.evaluate("sessionStorage.getItem('resultgate.token')") == fg.TOKEN
        assert fake_gateway.seen[-1].authorization == f"Bearer {fg.TOKEN}"
        # a reload keeps the token for this tab
        page.reload()
        expect(page.get_by_label("Value as text")).to_have_text("secret value")
        page.get_by_role("button", name="Forget token").click()
        assert page.evaluate("sessionStorage.getItem('resultgate.token')") is None

    def test_untrusted_values_stay_text(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.XSS_STATE}")
        art = result(page)
        expect(art.get_by_role("heading", level=2)).to_have_text(fg.XSS)
        expect(art.locator(".tree").get_by_text(json.dumps(fg.XSS)).first).to_be_visible()
        assert art.locator("img, script").count() == 0
        assert page.evaluate("window.__pwned") is None
        # a javascript: raw_url is never put in a link
        assert page.locator("a[href^='javascript']").count() == 0
        expect(art.locator(".safety")).to_contain_text("no download")

    def test_keyboard_only(self, open_page: PageFactory, fake_gateway: fg.FakeGateway) -> None:
        page = open_page(fake_gateway.url)
        page.goto("/")
        box = page.get_by_label("Id", exact=True)
        expect(box).to_be_focused()
        page.keyboard.type(fg.FLOW_RUN)
        page.keyboard.press("Tab")
        show = page.get_by_role("button", name="Show", exact=True)
        expect(show).to_be_focused()
        # the focus ring is drawn
        assert show.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
        page.keyboard.press("Enter")
        items = page.locator("section.run ol.items > li a")
        expect(items).to_have_count(5)
        # Tab until the third run item has focus, then Enter opens it
        target = items.nth(2)
        for _ in range(40):
            if target.evaluate("e => e === document.activeElement"):
                break
            page.keyboard.press("Tab")
        expect(target).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"\?id=5a7e0000-0000-4000-9000-000000000002$"))
        expect(page.get_by_label("Id", exact=True)).to_have_value("5a7e0000-0000-4000-9000-000000000002")

    def test_tree_nodes_toggle_with_keyboard(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.DICT_STATE}")
        deeper = result(page).locator("summary", has_text="deeper")
        deeper.focus()
        page.keyboard.press("Enter")
        expect(result(page).locator("summary", has_text="deepest")).to_be_visible()
        page.keyboard.press("Enter")
        expect(result(page).locator("summary", has_text="deepest")).to_be_hidden()

    @pytest.mark.parametrize(
        "id_", [fg.DICT_STATE, fg.RECORDS_STATE, fg.FLOW_RUN, fg.PLACEHOLDER_STATE, fg.XSS_STATE]
    )
    def test_narrow_window(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway, id_: str, shot: Shot
    ) -> None:
        page = open_page(fake_gateway.url, width=375, height=800)
        page.goto(f"/?id={id_}")
        expect(result(page)).to_be_visible()
        # the safety report stacks under the value instead of beside it
        value_box = result(page).locator("section.value").bounding_box()
        safety_box = result(page).locator("aside.safety").bounding_box()
        assert value_box is not None
        assert safety_box is not None
        assert safety_box["y"] >= value_box["y"] + value_box["height"] - 1
        no_horizontal_scroll(page)
        if id_ == fg.FLOW_RUN:
            shot(page, "canned-narrow-flow-run")

    def test_wide_window_puts_safety_beside_value(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        page.goto(f"/?id={fg.DICT_STATE}")
        value_box = result(page).locator("section.value").bounding_box()
        safety_box = result(page).locator("aside.safety").bounding_box()
        assert value_box is not None
        assert safety_box is not None
        assert safety_box["x"] >= value_box["x"] + value_box["width"]

    @pytest.mark.parametrize("scheme", ["light", "dark"])
    def test_buttons_and_badges_readable_in_both_schemes(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway, scheme: Scheme, shot: Shot
    ) -> None:
        page = open_page(fake_gateway.url, color_scheme=scheme)
        page.goto(f"/?id={fg.FAILED_STATE}")
        expect(result(page)).to_be_visible()
        for what in (
            page.get_by_role("button", name="Show", exact=True),
            page.get_by_role("link", name="Download the raw file"),
            result(page).locator(".badge").first,
        ):
            assert contrast(what) >= 4.5, what
        shot(page, f"canned-failed-{scheme}")

    def test_only_gateway_assets_are_loaded(
        self, open_page: PageFactory, fake_gateway: fg.FakeGateway
    ) -> None:
        page = open_page(fake_gateway.url)
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(f"/?id={fg.STR_STATE}")
        expect(page.get_by_label("Value as text")).to_have_text("hello world")
        foreign = [u for u in requested if not u.startswith((fake_gateway.url, "data:"))]
        assert foreign == []
        assert {u.split("?")[0].rsplit("/", 1)[-1] for u in requested} >= {"app.js", "app.css"}


# ================================================================ end to end

FLOW_SCRIPT = r"""
import datetime
import json
from dataclasses import dataclass

from prefect import flow, task
from prefect.client.orchestration import get_client


@task(persist_result=True)
def double(x: int) -> int:
    return x * 2


@task(persist_result=True)
def greet(name: str) -> str:
    return f"hello {name}"


@task(persist_result=False)
def forgetful() -> str:
    return "not kept"


@flow(persist_result=True)
def hello() -> str:
    return "hello world"


@dataclass
class Point:  # defined in __main__: cloudpickle stores the class by value (code)
    x: int
    y: int


@flow(persist_result=True)
def as_dict() -> dict:
    return {
        "name": "weekly-report",
        "count": 3,
        "ok": True,
        "when": datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc),
        "tags": {"b", "a"},
        "nested": {"deeper": {"leaf": "found me"}},
    }


@flow(persist_result=True)
def as_object() -> Point:
    return Point(3, 4)


@flow(persist_result=True)
def big() -> list:
    return list(range(300_000))  # about 2 MB of JSON: past the gateway's inline limit


@flow(persist_result=True)
def as_records() -> list:
    return [
        {"city": "Lyon", "population": 522250, "river": "Rhône"},
        {"city": "Paris", "population": 2102650, "river": "Seine"},
        {"city": "Nantes", "population": 320732, "river": "Loire"},
    ]


@flow(persist_result=True)
def explode() -> None:
    raise ValueError("boom: e2e failure 321")


@flow(persist_result=True)
def with_tasks() -> int:
    a = double(21)
    greet("tasks")
    forgetful()
    return a


@flow(persist_result=False)
def unpersisted() -> str:
    return "gone"


def run(fn):
    state = fn(return_state=True)
    flow_run_id = str(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        fr = client.read_flow_run(flow_run_id)
        tasks = client.read_task_runs(
            flow_run_filter=__import__("prefect.client.schemas.filters", fromlist=["x"]).FlowRunFilter(
                id={"any_": [flow_run_id]}
            )
        )
        return {
            "flow_run_id": flow_run_id,
            "flow_run_name": fr.name,
            "state_id": str(fr.state.id),
            "state_type": fr.state.type.value,
            "tasks": {
                t.name: {"task_run_id": str(t.id), "state_id": str(t.state.id)}
                for t in tasks
            },
        }


out = {name: run(fn) for name, fn in [
    ("hello", hello), ("dict", as_dict), ("records", as_records), ("failed", explode),
    ("tasks", with_tasks), ("unpersisted", unpersisted), ("object", as_object),
    ("big", big),
]}
print(json.dumps(out))
"""


def _task(runs: dict[str, Any], prefix: str) -> dict[str, str]:
    """The task run of the "tasks" flow whose name starts with ``prefix`` (Prefect adds "-<n>")."""
    for name, info in runs["tasks"]["tasks"].items():
        if name.startswith(prefix):
            return dict(info)
    raise AssertionError(f"no task run named {prefix}* in {runs['tasks']['tasks']}")


@pytest.fixture(scope="session")
def flow_runs(prefect_server: Any) -> dict[str, Any]:
    """Real flows, run once against the session's Prefect server."""
    out: dict[str, Any] = prefect_server.run_flow_script(FLOW_SCRIPT)
    return out


@pytest.mark.prefect
class TestEndToEnd:
    def test_string_by_flow_run_state_id(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto("/")
        lookup(page, flow_runs["hello"]["state_id"])
        expect(page.get_by_label("Value as text")).to_have_text("hello world")
        expect(result(page).locator(".badge").first).to_have_text("COMPLETED")
        expect(result(page).get_by_text("Flow-run state")).to_be_visible()
        expect(result(page).get_by_role("link", name=flow_runs["hello"]["flow_run_id"])).to_be_visible()
        expect(page.locator("aside.safety")).to_have_class(re.compile(r"\bok\b"))
        download = page.get_by_role("link", name="Download the raw file")
        href = download.get_attribute("href")
        assert href
        raw = page.request.get(href)
        assert raw.ok
        assert len(raw.body()) > 0
        shot(page, "e2e-string")

    def test_dict_as_tree(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any]
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto(f"/?id={flow_runs['dict']['state_id']}")
        tree = result(page).locator(".tree")
        expect(tree.get_by_text('"weekly-report"')).to_be_visible()
        expect(tree.locator("summary", has_text="nested")).to_be_visible()
        tree.locator("summary", has_text="deeper").click()
        expect(tree.get_by_text('"found me"')).to_be_visible()
        # values JSON has no type for are tagged, and shown with their class
        when = tree.locator(".leaf", has_text="when")
        expect(when.locator(".cls")).to_have_text("datetime.datetime")
        expect(when.locator(".v.str")).to_contain_text("2026-12-01T08:00:00")
        expect(tree.locator("summary", has_text="tags").locator(".cls")).to_have_text("builtins.set")

    def test_class_defined_by_value_is_not_built(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto(f"/?id={flow_runs['object']['state_id']}")
        block = page.get_by_role("group", name="Object not built")
        expect(block.locator(".chip")).to_have_text("not built")
        expect(block.locator(".ph-head code")).to_contain_text("Point")
        expect(block.locator(".tree .leaf", has_text="x").locator(".v.num")).to_have_text("3")
        safety = page.locator("aside.safety")
        expect(safety).to_have_class(re.compile(r"\bwarn\b"))
        expect(safety.locator(".warning")).to_contain_text("carries code")
        expect(safety.locator("details.names.danger")).to_contain_text("__main__.Point")
        no_horizontal_scroll(page)  # long global names wrap inside the report
        shot(page, "e2e-placeholder")

    def test_records_as_table(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto(f"/?id={flow_runs['records']['state_id']}")
        table = result(page).locator("table.records")
        expect(table.locator("thead th")).to_have_text(["city", "population", "river"])
        expect(table.locator("tbody tr")).to_have_count(3)
        expect(table.locator("tbody tr").nth(0).locator("td").nth(2)).to_have_text("Rhône")
        shot(page, "e2e-records")

    def test_failed_flow_as_error_block(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto(f"/?id={flow_runs['failed']['state_id']}")
        expect(result(page).locator(".badge").first).to_have_text("FAILED")
        block = page.get_by_role("group", name="Exception")
        expect(block.locator(".exc-class")).to_have_text("ValueError")
        expect(block.locator(".exc-message")).to_have_text("boom: e2e failure 321")
        shot(page, "e2e-failed")

    def test_flow_run_id_lists_tasks_and_click_through(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        runs = flow_runs["tasks"]
        page = open_page(real_gateway.url)
        page.goto("/")
        lookup(page, runs["flow_run_id"])
        run = page.locator("section.run")
        expect(run.get_by_role("heading", level=2)).to_have_text(f"Flow run {runs['flow_run_name']}")
        items = run.locator("ol.items > li")
        expect(items).to_have_count(4)  # the flow run and its three task runs
        greet = items.filter(has_text="greet")
        expect(greet.locator(".chip")).to_have_text("ok")
        expect(greet.locator(".item-preview")).to_have_text("hello tasks")
        expect(items.filter(has_text="forgetful").locator(".chip")).to_have_text("no result")
        expect(page.get_by_label("Value as text")).to_have_text("42")
        page.get_by_label("Id", exact=True).blur()
        # docs/page.png (the README's picture) is written when missing or when asked for,
        # so that a test run does not leave a changed binary in the working tree
        docs_png = ROOT / "docs" / "page.png"
        refresh = not docs_png.exists() or os.environ.get("RESULTGATE_UPDATE_DOCS_SCREENSHOT")
        shot(page, "e2e-flow-run", copy_to=docs_png if refresh else None)

        greet.get_by_role("link").click()
        expect(page).to_have_url(re.compile(rf"\?id={_task(flow_runs, 'greet')['state_id']}$"))
        expect(page.get_by_label("Value as text")).to_have_text("hello tasks")
        expect(result(page).get_by_text("Task-run state")).to_be_visible()
        expect(
            result(page).get_by_role("link", name=_task(flow_runs, "greet")["task_run_id"])
        ).to_be_visible()

    def test_task_run_state_id(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any]
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto("/")
        lookup(page, _task(flow_runs, "double")["state_id"])
        expect(page.get_by_label("Value as text")).to_have_text("42")
        expect(result(page).get_by_text("Task-run state")).to_be_visible()

    def test_task_run_id_then_whole_run_by_keyboard(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any]
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto("/")
        page.keyboard.type(_task(flow_runs, "greet")["task_run_id"])
        page.keyboard.press("Enter")
        expect(page.get_by_label("Value as text")).to_have_text("hello tasks")
        expect(result(page).get_by_text("Task run (its current state)")).to_be_visible()
        whole = page.get_by_role("link", name="Show the whole run")
        whole.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(rf"\?id={flow_runs['tasks']['flow_run_id']}$"))
        expect(page.locator("section.run ol.items > li")).to_have_count(4)

    def test_large_value_preview_and_download(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto(f"/?id={flow_runs['big']['state_id']}")
        notice = result(page).locator(".notice.large")
        expect(notice).to_contain_text("Large value")
        expect(notice).to_contain_text(re.compile(r"\d+(\.\d)? (KiB|MiB) stored"))
        leaves = result(page).locator(".tree .leaf")
        expect(leaves).to_have_count(100)  # a big preview, but only a chunk of it in the DOM
        page.get_by_role("button", name=re.compile(r"^Show 100 more")).click()
        expect(leaves).to_have_count(200)
        href = notice.get_by_role("link").get_attribute("href")
        assert href
        raw = page.request.get(href)
        assert raw.ok
        size = page.evaluate("() => document.querySelector('.safety dl').textContent")
        assert "KiB" in size or "MiB" in size
        assert len(raw.body()) > 500_000
        shot(page, "e2e-large", full_page=False)

    def test_no_persisted_result_says_how(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        page = open_page(real_gateway.url)
        page.goto(f"/?id={flow_runs['unpersisted']['state_id']}")
        alert = error_panel(page)
        expect(alert.get_by_role("heading", level=2)).to_contain_text("No persisted result")
        expect(alert).to_contain_text("409")
        expect(alert).to_contain_text("PREFECT_RESULTS_PERSIST_BY_DEFAULT=true")
        expect(alert).to_contain_text("persist_result=True")
        shot(page, "e2e-no-result")

        # by its flow run id: the same message, and the run's list (its one item has no result)
        lookup(page, flow_runs["unpersisted"]["flow_run_id"])
        expect(page).to_have_url(re.compile(rf"\?id={flow_runs['unpersisted']['flow_run_id']}$"))
        expect(error_panel(page).get_by_role("heading", level=2)).to_contain_text("No persisted result")
        items = page.locator("section.run ol.items > li")
        expect(items).to_have_count(1)
        expect(items.locator(".chip")).to_have_text("no result")

    def test_gateway_token_asked_for_then_used(
        self,
        open_page: PageFactory,
        real_gateway_with_token: RealGateway,
        flow_runs: dict[str, Any],
        shot: Shot,
    ) -> None:
        gw = real_gateway_with_token
        assert gw.token
        page = open_page(gw.url)
        page.goto(f"/?id={flow_runs['hello']['state_id']}")
        alert = error_panel(page)
        expect(alert.get_by_role("heading", level=2)).to_contain_text("Unauthorized")
        expect(alert).to_contain_text("401")
        token_box = page.get_by_label("Token", exact=True)
        expect(token_box).to_be_focused()
        shot(page, "e2e-unauthorized")
        token_box.fill(gw.token)
        token_box.press("Enter")
        expect(page.get_by_label("Value as text")).to_have_text("hello world")

        # the raw file needs the token too; a plain link cannot send it, so the page fetches it
        link = page.get_by_role("link", name="Download the raw file")
        href = link.get_attribute("href")
        assert href
        assert page.request.get(href).status == 401
        expected = page.request.get(href, headers={"Authorization": f"Bearer {gw.token}"}).body()
        with page.expect_download() as info:
            link.click()
        saved = info.value.path()
        assert Path(saved).read_bytes() == expected

    def test_unknown_id_not_found(self, open_page: PageFactory, real_gateway: RealGateway) -> None:
        page = open_page(real_gateway.url)
        page.goto("/")
        lookup(page, "00000000-0000-4000-8000-00000000beef")
        alert = error_panel(page)
        expect(alert.get_by_role("heading", level=2)).to_contain_text("Not found")
        expect(alert).to_contain_text("404")
        # not even an id: the page says so instead of failing
        lookup(page, "not-an-id")
        expect(error_panel(page)).to_contain_text("not-an-id")
        expect(error_panel(page).get_by_role("heading", level=2)).to_contain_text(
            re.compile("Not a valid request|Not found")
        )

    def test_narrow_window(
        self, open_page: PageFactory, real_gateway: RealGateway, flow_runs: dict[str, Any], shot: Shot
    ) -> None:
        page = open_page(real_gateway.url, width=375, height=800)
        page.goto(f"/?id={flow_runs['tasks']['flow_run_id']}")
        expect(page.locator("section.run ol.items > li")).to_have_count(4)
        no_horizontal_scroll(page)
        page.goto(f"/?id={flow_runs['records']['state_id']}")
        expect(result(page).locator("table.records tbody tr")).to_have_count(3)
        no_horizontal_scroll(page)
        shot(page, "e2e-narrow-records")
