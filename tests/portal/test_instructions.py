"""An exam's instructions page (web/instructions.py): the shipped exams' own
facts, the environment's facts read from the code that makes them so (never
typed into the template), the links to it before and during an attempt, and
the same access rules as the other exam pages."""

from __future__ import annotations

import html as htmllib
import re
import shutil
from pathlib import Path

import pytest

from grader.exam import load_exam
from sandbox.base import node_names
from tests.portal.helpers import attempt, set_values, start
from web import instructions, present
from web.attempts import NOTES_MAX_BYTES
from web.formatting import node_count
from web.services import RealServices
from confinement import jailfiles
from confinement.jail import ENV
from web.terminal.shells import MAX_TABS

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("ckad-mock", "cka-nodes")


def text(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (its tags dropped, spaces squeezed)."""
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(dd|span|li|p|ul|section)>', page, re.S)
    assert m, f"no element #{element_id} on the page"
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())


def get(client, exam_id: str) -> str:
    resp = client.get(f"/exams/{exam_id}/instructions")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


@pytest.fixture
def shipped(app, monkeypatch):
    """The portal with the real task bank and the shipped exam files: the
    instructions of ckad-mock and cka-nodes as a real portal shows them."""
    tasks, problems = RealServices({"PROVIDER": "kwok", "TASKS_DIR": str(REPO / "tasks")}).load_tasks()
    monkeypatch.setattr("tests.portal.fakes.TASKS", list(tasks.values()))
    for exam_id in SHIPPED:
        shutil.copy(REPO / "exams" / f"{exam_id}.yaml", Path(app.config["EXAMS_DIR"]))
    with app.app_context():
        bank = app.extensions["proctor.bank"]()
        bank.reload()
        missing = [e for e in SHIPPED if bank.exam(e) is None]
    assert not missing, f"the shipped exams {missing} did not load: {problems + bank.problems}"
    return {e: load_exam(REPO / "exams" / f"{e}.yaml", tasks) for e in SHIPPED}


@pytest.mark.parametrize("exam_id", SHIPPED)
def test_the_page_states_the_exams_own_facts(shipped, client, auth, exam_id):
    exam = shipped[exam_id]
    auth.login()
    page = get(client, exam_id)
    assert text(page, "fact-duration") == f"{exam.duration} minutes"
    assert text(page, "fact-pass") == f"{round(exam.pass_mark)}%"
    assert text(page, "pass-mark") == str(round(exam.pass_mark))
    tasks = f"{exam.draw_count}, drawn per attempt" if exam.is_draw else str(len(exam.tasks))
    assert text(page, "fact-tasks") == tasks
    assert f"<strong>{exam.duration} minutes</strong>" in page  # the Time section
    real = exam_id == "cka-nodes"
    assert ('id="real-nodes"' in page) is real, "the node section is for real nodes only"
    assert ('id="simulated-nodes"' in page) is not real
    assert ("sudo -i" in page) is real and ("ssh node01" in page) is real
    # etcd through the jail's tunnel exists where the nodes are simulated
    assert (jailfiles.PKI in page) is not real


def test_the_node_count_and_names_are_the_clusters(shipped, app, client, auth):
    auth.login()
    with app.app_context():
        lo, hi = app.extensions["proctor.lifecycle"].cluster_nodes(
            app.extensions["proctor.bank"]().exam("cka-nodes"))
    page = get(client, "cka-nodes")
    assert text(page, "fact-nodes") == node_count((lo, hi))
    for name in node_names(hi):
        assert name in text(page, "cluster-nodes"), name


def test_a_drawn_exam_says_its_draw(client, auth):
    auth.login()
    page = get(client, "fake-draw")
    assert text(page, "fact-tasks") == "4, drawn per attempt"
    assert text(page, "fact-duration") == "60 minutes" and text(page, "pass-mark") == "50"


def test_environment_facts_come_from_the_code(client, auth):
    """What the jail and the pages really offer, as the code says it today."""
    auth.login()
    page = get(client, "fake-ckad")
    assert text(page, "max-tabs") == str(MAX_TABS)
    assert text(page, "notes-kib") == str(NOTES_MAX_BYTES // 1024)
    for fact in (jailfiles.HOME, jailfiles.ANSWERS, f"<code>{jailfiles.CONTEXT}</code>",
                 f"<code>{ENV['EDITOR']}</code>", "<code>alias k=kubectl</code>",
                 "expandtab tabstop=2 shiftwidth=2", "--dry-run=client -o yaml"):
        assert fact in page, fact
    minutes = sorted(present.TIME_WARNINGS, reverse=True)
    assert text(page, "time-warnings").startswith(
        "A warning at " + ", ".join(map(str, minutes[:-1])) + f" and {minutes[-1]} minutes left")


def test_nothing_of_the_environment_is_typed_into_the_template(app, client, auth, monkeypatch):
    """Change every source the page reads (constants, the jail's bashrc and
    vimrc, its environment, the configuration): the page follows each one."""
    monkeypatch.setattr(instructions, "MAX_TABS", 9)
    monkeypatch.setattr(instructions, "NOTES_MAX_BYTES", 3 * 1024)
    monkeypatch.setattr(jailfiles, "BASHRC", jailfiles.BASHRC.replace(
        "alias k=kubectl", "alias kk=kubectl").replace('export do="', 'export dry="'))
    monkeypatch.setattr(jailfiles, "VIMRC", jailfiles.VIMRC.replace("tabstop=2", "tabstop=3"))
    monkeypatch.setattr(jailfiles, "CONTEXT", "elsewhere")
    monkeypatch.setitem(ENV, "EDITOR", "nano")
    monkeypatch.setitem(app.config, "TERMINAL_IDLE_TIMEOUT", 2700)
    monkeypatch.setitem(app.config, "PRACTICE_REVIEW_MINUTES", 17)
    monkeypatch.setitem(app.config, "TERMINAL_DISK_MB", 333)
    monkeypatch.setattr(present, "TIME_WARNINGS", {20: "…", 10: "…"})
    instructions.shell_facts.cache_clear()
    try:
        auth.login()
        page = get(client, "fake-ckad")
    finally:
        instructions.shell_facts.cache_clear()
    assert text(page, "max-tabs") == "9" and text(page, "notes-kib") == "3"
    assert "<code>alias kk=kubectl</code>" in page and "alias k=kubectl" not in page
    assert "<code>$dry</code>" in page and "$do" not in page
    assert "tabstop=3" in page and "<code>elsewhere</code>" in page
    assert "<code>nano</code> (<code>kubectl edit</code>" in page
    assert "after 45 minutes" in page and text(page, "review-minutes") == "17"
    assert "(333 MB)" in page
    assert text(page, "time-warnings").startswith("A warning at 20 and 10 minutes left")


def test_the_terminal_still_does_what_the_page_says():
    """Copy, paste and the tools are behaviour, not values: the page names
    them (``COPY_KEYS``, ``PASTE_KEYS``, etcdctl) and this fails when the code
    that provides them changes."""
    js = (REPO / "web" / "static" / "terminal.js").read_text()
    assert instructions.COPY_KEYS == ("Ctrl", "Shift", "C")
    assert "onSelectionChange(function () { copy(term.getSelection()); })" in js, \
        "terminal.js no longer copies a selection, which the instructions page says it does"
    assert re.search(r'!e\.ctrlKey \|\| !e\.shiftKey\) return true;\s*'
                     r'if \(e\.key === "C" \|\| e\.key === "c"\) \{\s*copy\(term\.getSelection\(\)\)', js), \
        "terminal.js no longer copies on Ctrl+Shift+C, which the instructions page says it does"
    assert instructions.PASTE_KEYS == ("Ctrl", "Shift", "V")
    assert 'return !(e.key === "V" || e.key === "v");' in js, \
        "terminal.js no longer leaves Ctrl+Shift+V to the browser's paste"
    from sandbox.toolchain import SHELL_TOOLS
    assert {"kubectl", "etcdctl", "helm"} <= set(SHELL_TOOLS), "the page says these are in the shell"


def test_the_exam_page_links_to_the_instructions(client, auth):
    auth.login()
    page = client.get("/exams/fake-ckad").get_data(as_text=True)
    link = re.search(r'id="instructions-link"><a href="([^"]+)"', page)
    assert link and link.group(1) == "/exams/fake-ckad/instructions"
    assert page.index('id="instructions-link"') < page.index("Start exam"), "before Start"


def test_the_attempt_pages_open_the_instructions_in_a_new_tab(app, client, auth):
    auth.login()
    aid = start(auth, exam="fake-ckad", mode="exam")
    assert attempt(app, aid).state == "running"
    page = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    link = re.search(r'<a [^>]*id="instructions-link"[^>]*>', page)
    assert link, "no Instructions link on the task page"
    assert 'href="/exams/fake-ckad/instructions"' in link.group(0)
    assert 'target="_blank"' in link.group(0) and 'rel="noopener"' in link.group(0)
    # while the cluster is prepared, the waiting page offers them too
    set_values(app, aid, state="provisioning")
    page = client.get(f"/attempts/{aid}").get_data(as_text=True)
    assert re.search(r'id="instructions-link"><a href="/exams/fake-ckad/instructions" '
                     r'target="_blank"', page)


def test_an_unknown_exam_is_404(client, auth):
    auth.login()
    assert client.get("/exams/nope/instructions").status_code == 404


def test_anonymous_users_are_sent_to_log_in(client):
    resp = client.get("/exams/fake-ckad/instructions")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
