"""Browser proof: Debian's Chromium, driven by Playwright, against gunicorn and the real model.

An analyst logs into the admin, sees the embedding cache page, imports a CSV of answers,
generates a codeframe (watching the job wait on its progress page until a worker starts), sees
nets and codes, downloads the CSV, and generates again from the
cache. Screenshots go to test-artifacts/.
"""

import csv
import io
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.proof.live import ADMIN_PASSWORD, ADMIN_USER, ROOT, Http, generate

pytestmark = [pytest.mark.proof, pytest.mark.browser, pytest.mark.slow]

HOSTILE = '=HYPERLINK("http://example.invalid","click")'


def assert_accessible(page, where: str) -> None:
    """No serious or critical axe-core violation (WCAG 2.x A/AA and best practices) on the page
    as it stands: what a keyboard or screen-reader user would trip on."""
    found = Axe().run(page).response["violations"]
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{where}: {bad}"


def answers_csv(path: Path, count: int = 60) -> list[str]:
    with open(ROOT / "sample_data/survey_responses.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[: count - 1]
    rows.append({"respondent_id": "R999", "answer": HOSTILE})
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["respondent_id", "answer"])
        writer.writeheader()
        writer.writerows(rows)
    return [row["answer"] for row in rows]


def test_analyst_journey_in_chromium(own_redis, gunicorn_server, browser_page, artifacts, tmp_path):
    server_redis = own_redis()
    # The task worker starts later, once the progress page has shown a queued job.
    app = gunicorn_server(
        redis_url=f"redis://127.0.0.1:{server_redis.port}/2", workers=2, task_workers=0
    )
    page = browser_page
    base = app.base_url

    # Log into the admin and open the embedding cache page.
    page.goto(f"{base}/admin/login/?next=/admin/embeddings/cachestatistics/")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/embeddings/cachestatistics/$"))
    assert "Embedding cache" in page.title()
    assert page.locator("text=keys in the store").count() == 1
    assert "Redis" in page.locator("table.emb").nth(1).inner_text()
    page.screenshot(path=artifacts / "browser-1-cache-empty.png", full_page=True)

    # Import a CSV of answers.
    upload = tmp_path / "answers.csv"
    texts = answers_csv(upload)
    page.goto(f"{base}/questions/import/")
    page.fill("#id_survey", "Browser proof")
    page.fill("#id_question_text", "Why did you give that score?")
    # A file over the upload limit (20 MB) is refused before it is sent, keeping what was typed
    # (the server refuses it unread too, and then cannot give the fields back).
    too_big = tmp_path / "too-big.csv"
    too_big.write_bytes(b"answer\n" + b"x" * (20 * 1024 * 1024))
    page.set_input_files("#id_file", str(too_big))
    page.click("main button[type=submit]")
    assert "over the limit of 20.0 MB: nothing was sent" in page.inner_text("#upload-too-large")
    assert page.url == f"{base}/questions/import/"
    assert page.input_value("#id_survey") == "Browser proof"
    page.set_input_files("#id_file", str(upload))
    page.click("main button[type=submit]")  # not the header's switcher
    page.wait_for_url(re.compile(r".*/questions/\d+/$"))
    assert f"Imported {len(texts)} answers" in page.inner_text("ul.messages")
    page.screenshot(path=artifacts / "browser-2-imported.png", full_page=True)

    # Generate a codeframe: the job waits for a worker on a page that follows it, then a
    # worker takes it and the page hands over to the codeframe.
    page.click("text=Generate codeframe")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}/$"))
    assert page.inner_text("#job-state") == "Queued"
    assert "Waiting for a worker" in page.inner_text("#job-stage")
    page.screenshot(path=artifacts / "browser-3-queued.png", full_page=True)
    # The page follows the job without reloading: keyboard focus stays on Cancel (a reload
    # every 2 s threw it back to the top of the page).
    page.focus("#job button.danger")
    page.wait_for_timeout(4500)  # two polls: still queued, the page did not stall
    assert page.evaluate("document.activeElement.textContent.trim()") == "Cancel"
    assert page.inner_text("#job-state") == "Queued"
    assert page.get_attribute("#job-said", "role") == "status"
    assert_accessible(page, "job page")
    app.tasks.start(1)
    page.wait_for_url(re.compile(r".*/codeframes/\d+/$"), timeout=180_000)
    assert "Codeframe generated" in page.inner_text("ul.messages")
    nets = page.locator("tr.net").count()
    codes = page.locator("tr[id^=code-]").count()
    assert nets >= 1 and codes >= 2
    stats = page.inner_text("dl.stats")
    assert re.search(rf"Cache hits / misses\s+0 / {len(texts)}", stats), stats
    assert_accessible(page, "codeframe page")
    page.screenshot(path=artifacts / "browser-4-codeframe.png", full_page=True)

    # Download the CSV: one row per answer, the formula neutralised.
    with page.expect_download() as download_info:
        page.click("text=CSV, one 0/1 column per code")
    download = download_info.value
    saved = artifacts / "browser-codeframe.csv"
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert len(rows) == len(texts) + 1
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert any(cell == "'" + HOSTILE for row in rows for cell in row)

    # Again, from the cache; the cache page counts both generations.
    page.goto(page.url.rsplit("/codeframes/", 1)[0] + "/questions/")
    page.click("text=Browser proof")
    page.click("text=Generate codeframe")
    page.wait_for_url(re.compile(r".*/codeframes/\d+/$"), timeout=120_000)
    assert re.search(rf"Cache hits / misses\s+{len(texts)} / 0", page.inner_text("dl.stats"))
    page.goto(f"{base}/admin/embeddings/cachestatistics/")
    body = page.inner_text("#content-main")
    # Each generation looked up its answers and its candidate label phrases (phrases too are
    # cached: the second generation found all of both).
    lookups = int(re.search(r"hit rate, lifetime \(([\d,]+) lookups\)", body)[1].replace(",", ""))
    hits, misses = (
        int(n.replace(",", ""))
        for n in re.search(r"Hits / misses, lifetime\s+([\d,]+) / ([\d,]+)", body).groups()
    )
    assert hits + misses == lookups > len(texts) * 2, body
    assert hits >= len(texts) and misses >= len(texts) and hits * 2 >= lookups, body
    assert page.locator("[data-code=unreachable]").count() == 0
    page.screenshot(path=artifacts / "browser-5-cache-used.png", full_page=True)
    print(f"\nbrowser: {nets} nets, {codes} codes; screenshots in {artifacts}")


def test_tracker_journey_in_chromium(own_redis, gunicorn_server, browser_page, artifacts):
    """Approve a codeframe, code the next wave with it (a background job), open the tracker."""
    server_redis = own_redis()
    app = gunicorn_server(redis_url=f"redis://127.0.0.1:{server_redis.port}/2", workers=1)
    first_wave = answers_csv(artifacts / "tracker-wave-1.csv", count=80)[:-1]  # no formula here
    api = Http(app.base_url, auth=(ADMIN_USER, ADMIN_PASSWORD))
    generated = generate(api, {"responses": first_wave, "survey": "Tracker proof"})
    assert generated.status == 201, generated.body[:300]
    codeframe_id = generated.json()["id"]

    page = browser_page
    base = app.base_url
    page.goto(f"{base}/admin/login/?next=/codeframes/{codeframe_id}/")
    page.fill("#id_username", ADMIN_USER)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(rf".*/codeframes/{codeframe_id}/$"))
    page.click("text=Approve this codeframe")  # opens the second step, which says what it is
    assert "checked by hand" in page.inner_text("#approve-state")
    page.click("#approve button")
    page.click("text=Code a new wave")
    page.fill("#id_wave", "2027-02")
    second_wave = [f"{text} (again)" for text in first_wave[:40]] + [
        "The new branch opening hours are great",
        "Opening hours at the branch improved",
        "Branch opening hours suit me now",
    ]
    page.fill("#id_pasted", "\n".join(second_wave))
    page.click("text=Code this wave")
    page.wait_for_url(re.compile(r".*/codeframes/\d+/$"), timeout=180_000)
    assert "Coded with approved codeframe" in page.inner_text("main")
    assert "Wave 2027-02 coded with codeframe" in page.inner_text("ul.messages")
    wave_url = page.url
    page.screenshot(path=artifacts / "browser-6-wave.png", full_page=True)
    page.click("text=Tracker chart")
    page.wait_for_url(re.compile(r".*/questions/\d+/tracker/$"))
    assert page.locator("#tracker-chart svg").count() == 1
    header = page.inner_text("#tracker-table thead")
    assert "1" in header and "2027-02" in header
    assert_accessible(page, "tracker page")
    page.screenshot(path=artifacts / "browser-7-tracker.png", full_page=True)

    # The wave's "Other" pile: code one uncoded answer from its page.
    page.goto(wave_url)
    page.click('a[href$="/uncoded/"] >> nth=0')
    page.wait_for_url(re.compile(r".*/codeframes/\d+/uncoded/$"))
    answers = page.locator("#uncoded-table tbody tr td:nth-child(2)")
    before = answers.all_inner_texts()
    assert before
    assert_accessible(page, "uncoded page")
    first = page.locator("#uncoded-table tbody tr").nth(0)
    code = first.get_by_role("button", name=re.compile("^Code answer "))  # not "Add code"
    code.click()  # no code chosen: the browser holds it
    assert page.locator("#uncoded-table tbody tr td:nth-child(2)").all_inner_texts() == before
    first.locator("select").select_option(index=1)
    code.click()
    page.wait_for_url(re.compile(r".*/codeframes/\d+/uncoded/#uncoded-table$"))
    assert "Moved answer" in page.inner_text("ul.messages")
    assert page.locator("#uncoded-table tbody tr td:nth-child(2)").all_inner_texts() == before[1:]
    page.screenshot(path=artifacts / "browser-8-uncoded.png", full_page=True)

    # The wave's review queue: the least sure coded answer first; "Right" takes it off the list.
    page.goto(wave_url)
    page.click("#review-link")
    page.wait_for_url(re.compile(r".*/codeframes/\d+/review/$"))
    rows = page.locator("#review-table tbody tr")
    sure = [float(t.rstrip("%")) for t in rows.locator("td:nth-child(4)").all_inner_texts()]
    assert sure and sure == sorted(sure)
    assert_accessible(page, "review page")
    before = rows.locator("td:nth-child(2)").all_inner_texts()
    rows.nth(0).get_by_role(
        "button", name=re.compile(r"^Right \(confirm the code of answer ")
    ).click()
    page.wait_for_url(re.compile(r".*/codeframes/\d+/review/#review-table$"))
    assert "coding confirmed" in page.inner_text("ul.messages")
    assert page.locator("#review-table tbody tr td:nth-child(2)").all_inner_texts() == before[1:]
    page.screenshot(path=artifacts / "browser-9-review.png", full_page=True)

    # Find the answers about opening hours and code them together, unticking one.
    page.goto(wave_url)
    page.click("#find-link")
    page.fill("#id_q", "opening hours")
    page.press("#id_q", "Enter")
    page.wait_for_url(re.compile(r".*/find/\?q=opening\+hours"))
    assert page.inner_text("#found-count").startswith("3 answers")
    assert_accessible(page, "find page")
    found = page.locator("#found-table tbody tr")
    found.nth(2).locator("input[type=checkbox]").uncheck()
    page.select_option("#id_code", index=1)
    page.click("#add-code button[type=submit]")
    page.wait_for_url(re.compile(r".*/find/\?q=opening\+hours"))
    said = page.inner_text("ul.messages")
    assert re.match(r"Coded 2 answers with code \d+ \(“.+”\)", said), said
    codes = page.locator("#found-table tbody tr td:nth-child(4)").all_inner_texts()
    assert "(by hand)" in codes[0] and "(by hand)" in codes[1] and "(by hand)" not in codes[2]
    page.screenshot(path=artifacts / "browser-10-find.png", full_page=True)
