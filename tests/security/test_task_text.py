"""Task text is data, never code on the host.

Statements, hints and explanations are written by instructors, imported from
zips, previewed in the editor and rendered by the portal, which runs as root.
They were Jinja2 templates rendered unsandboxed: a statement holding
``{{ cycler.__init__.__globals__.os.popen('id -u').read() }}`` printed ``0`` in
the editor's preview (nothing saved), and read the portal's secret key. Each
attack below is made through the real portal: the editor's lint endpoint, a
task saved into the bank, and the KillerCoda import (whose zip of zeroes took
the portal from 399 to 1222 MB).
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.author.conftest import BankServices
from tests.portal.helpers import AuthActions
from tests.security.test_portal_websocket import RssPeak

REPO = Path(__file__).resolve().parents[2]
FIXTURE_TASK = REPO / "tests" / "fixtures" / "tasks" / "svc-endpoints-fixture"
TASK_URL = "/author/tasks/bank/ckad/svc-endpoints-fixture"

# Each runs `touch MARK` on the host if templates are code; ways in that
# are known for Jinja2 (server-side template injection), and two that only
# cost time or memory.
ESCAPES = {
    "cycler globals": "{{ cycler.__init__.__globals__.os.popen('touch MARK').read() }}",
    "lipsum globals": "{{ lipsum.__globals__['os'].popen('touch MARK').read() }}",
    "namespace globals": "{{ namespace.__init__.__globals__.os.system('touch MARK') }}",
    "self reference": "{{ self._TemplateReference__context.cycler.__init__.__globals__"
                      ".os.system('touch MARK') }}",
    "subclasses": "{% for c in ''.__class__.__mro__[1].__subclasses__() %}"
                  "{% if c.__name__ == 'Popen' %}{{ c('touch MARK', shell=True) }}"
                  "{% endif %}{% endfor %}",
    "attr filter": "{{ ''|attr('__class__')|attr('__mro__') }}",
    "format string": "{{ '{0.__class__.__init__.__globals__}'.format(cycler) }}",
    "config": "{{ config.SECRET_KEY }}{{ config.__class__.__init__.__globals__['os']"
              ".system('touch MARK') }}",
    "a loop that never ends": "{% for i in range(100000) %}{% for j in range(100000) %}x"
                              "{% endfor %}{% endfor %}",
    "a string of a gigabyte": "{{ 'x' * 1000000000 }}",
}


@pytest.fixture
def author(make_portal, tmp_path):
    tasks = tmp_path / "tasks" / "ckad"
    tasks.mkdir(parents=True)
    shutil.copytree(FIXTURE_TASK, tasks / "svc-endpoints-fixture")
    app = make_portal(SERVICES=BankServices, TASKS_DIR=str(tmp_path / "tasks"))
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("ines")
    token = auth.csrf("/account")
    return app, client, token


def _with_statement(task_yaml: str, statement: str) -> str:
    data = yaml.safe_load(task_yaml)
    data["statement"] = statement
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("attack", list(ESCAPES), ids=list(ESCAPES))
def test_task_text_in_the_editors_preview_runs_no_code(author, tmp_path, attack):
    app, client, token = author
    mark = tmp_path / "MARK"
    original = (FIXTURE_TASK / "task.yaml").read_text()
    for field in ("statement", "hints", "explanation"):
        text = ESCAPES[attack].replace("MARK", str(mark))
        data = yaml.safe_load(original)
        data[field] = [text] if field == "hints" else text
        resp = client.post(f"{TASK_URL}/lint", headers={"X-CSRFToken": token},
                           json={"files": {"task.yaml": yaml.safe_dump(data, sort_keys=False)}})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        body = resp.get_json()
        assert not mark.exists(), f"the {field} ran a command on the host ({attack})"
        shown = json.dumps(body)
        assert app.config["SECRET_KEY"] not in shown
        messages = [p["message"] for p in body["problems"]]
        assert any("not allowed in task text" in m for m in messages), messages


def test_a_task_with_code_in_its_text_never_enters_the_bank(make_portal, tmp_path):
    mark = tmp_path / "MARK"
    tasks = tmp_path / "tasks" / "ckad"
    tasks.mkdir(parents=True)
    folder = tasks / "svc-endpoints-fixture"
    shutil.copytree(FIXTURE_TASK, folder)
    (folder / "task.yaml").write_text(_with_statement(
        (FIXTURE_TASK / "task.yaml").read_text(),
        "Fix it. " + ESCAPES["cycler globals"].replace("MARK", str(mark))))
    app = make_portal(SERVICES=BankServices, TASKS_DIR=str(tmp_path / "tasks"))
    with app.app_context():
        bank = app.extensions["proctor.bank"]()
        assert bank.task("svc-endpoints-fixture") is None
        assert any("svc-endpoints-fixture" in p and "not allowed in task text" in p
                   for p in bank.problems), bank.problems
    client = app.test_client()
    AuthActions(client).login("ines")
    page = client.get("/author/tasks").get_data(as_text=True)
    assert "svc-endpoints-fixture" in page  # the author still sees it, to fix it
    assert not mark.exists()


def test_what_task_text_may_do_still_works(author):
    """Params, conditionals on them and the allowed filters render as before."""
    _, client, token = author
    statement = ('Service `{{ namespace|upper }}`{% if namespace.startswith("shop") %} in the '
                 'shop{% else %} elsewhere{% endif %}.')
    resp = client.post(f"{TASK_URL}/lint", headers={"X-CSRFToken": token}, json={
        "files": {"task.yaml": _with_statement((FIXTURE_TASK / "task.yaml").read_text(),
                                               statement)}})
    body = resp.get_json()
    assert [p for p in body["problems"] if "template" in p["message"]] == []
    assert "in the shop" in body["preview"]["html"] or "elsewhere" in body["preview"]["html"]
    assert "{{" not in body["preview"]["html"]


def _zip_of_zeroes(files: int, size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("scenario/index.json", json.dumps({"title": "x", "details": {"steps": []}}))
        zeroes = bytes(size)
        for i in range(files):
            z.writestr(f"scenario/step{i}/text.md", zeroes)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_before_it_fills_the_portal(live_portal):
    """400 files of 2 MiB of zeroes: 800 MiB unpacked from a zip of under 1 MiB
    (the upload limit). Refused, and the server's RSS stays put."""
    bomb = _zip_of_zeroes(400, 2 << 20)
    assert len(bomb) < 1 << 20
    http = live_portal.login("ines")
    form = {"csrf_token": http.csrf, "track": "ckad", "domain": "Services and Networking",
            "difficulty": "easy", "id": ""}
    peak = RssPeak(live_portal.pid)
    peak.start()
    resp = http.post(live_portal.url + "/author/import", data=form,
                     files={"scenario": ("bomb.zip", bomb, "application/zip")})
    grew = peak.stop()
    assert resp.status_code == 200
    assert "unpacks to more than 8 MiB" in resp.text
    assert grew < 48 << 20, f"the portal grew by {grew >> 20} MiB unpacking the upload"


def test_an_archive_of_many_empty_entries_is_refused(live_portal):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(5000):
            z.writestr(f"d/{i}", b"")
    http = live_portal.login("ines")
    resp = http.post(live_portal.url + "/author/import", files={
        "scenario": ("many.zip", buf.getvalue(), "application/zip")},
        data={"csrf_token": http.csrf, "track": "ckad", "domain": "Services and Networking",
              "difficulty": "easy", "id": ""})
    assert "holds more than 500 files" in resp.text


def test_a_task_yaml_of_aliases_is_refused_at_once(author):
    """Six levels of nine YAML aliases: half a million nodes from 700 bytes;
    the lint took 14 s of the portal's CPU (a seventh level, two minutes)."""
    _, client, token = author
    bomb = "anchors:\n  x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 6):
        bomb += f"  x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    task_yaml = (FIXTURE_TASK / "task.yaml").read_text() + bomb + "docs: [*a5]\n"
    resp = client.post(f"{TASK_URL}/lint", headers={"X-CSRFToken": token},
                       json={"files": {"task.yaml": task_yaml}})
    messages = [p["message"] for p in resp.get_json()["problems"]]
    assert any("may not use YAML aliases" in m for m in messages), messages
