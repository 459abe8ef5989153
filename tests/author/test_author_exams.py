"""The exam builder writes exams/<id>.yaml that grader.exam reads."""

from pathlib import Path

import yaml

from grader.exam import load_exam


def test_save_a_fixed_exam(client, auth, app):
    auth.login()
    resp = auth.post_json("/author/exams/save", {
        "id": "svc-week-1", "title": "Services, week 1", "track": "ckad", "duration": 20,
        "pass_mark": 70, "nodes": 2, "modes": ["exam"], "description": "One task.", "kind": "fixed",
        "tasks": [{"id": "svc-endpoints-fixture", "weight": 6}]})
    assert resp.status_code == 200, resp.get_json()
    path = Path(app.config["EXAMS_DIR"]) / "svc-week-1.yaml"
    exam = load_exam(path)
    assert (exam.title, exam.duration, exam.pass_mark, exam.nodes, exam.modes) == \
        ("Services, week 1", 20, 70.0, 2, ("exam",))
    assert [(t.id, t.weight) for t in exam.tasks] == [("svc-endpoints-fixture", 6.0)]
    # the portal's catalog has it at once
    assert client.get("/exams/svc-week-1").status_code == 200
    # a second "new" exam with the same id is refused; an edit with the file's stamp is not
    again = auth.post_json("/author/exams/save", {"id": "svc-week-1", "title": "x", "track": "ckad",
                                                  "duration": 20, "pass_mark": 70, "kind": "fixed",
                                                  "tasks": [{"id": "svc-endpoints-fixture", "weight": 1}]})
    assert again.status_code == 400 and "exists already" in again.get_json()["problems"][0]
    edit = auth.post_json("/author/exams/save", {"id": "svc-week-1", "title": "Services, week 1b",
                                                 "track": "ckad", "duration": 25, "pass_mark": 70,
                                                 "kind": "fixed", "replace_mtime": resp.get_json()["mtime"],
                                                 "tasks": [{"id": "svc-endpoints-fixture", "weight": 1}]})
    assert edit.status_code == 200 and load_exam(path).duration == 25, edit.get_json()
    stale = auth.post_json("/author/exams/save", {"id": "svc-week-1", "title": "old", "track": "ckad",
                                                  "duration": 25, "pass_mark": 70, "kind": "fixed",
                                                  "replace_mtime": resp.get_json()["mtime"],
                                                  "tasks": [{"id": "svc-endpoints-fixture", "weight": 1}]})
    assert stale.status_code == 400 and "changed by someone else" in stale.get_json()["problems"][0]


def test_save_a_drawn_exam(client, auth, app):
    auth.login()
    resp = auth.post_json("/author/exams/save", {
        "id": "ckad-draw", "title": "CKAD draw", "track": "ckad", "duration": 60, "pass_mark": 66,
        "kind": "draw", "draw": {"count": 1, "domains": {"Services and Networking": 100}}})
    assert resp.status_code == 200, resp.get_json()
    data = yaml.safe_load((Path(app.config["EXAMS_DIR"]) / "ckad-draw.yaml").read_text())
    assert data["draw"] == {"count": 1, "domains": {"Services and Networking": 100}}
    curriculum = auth.post_json("/author/exams/save", {
        "id": "ckad-draw-2", "title": "CKAD draw", "track": "ckad", "duration": 60, "pass_mark": 66,
        "kind": "draw", "draw": {"count": 3, "domains": "curriculum"}})
    assert curriculum.status_code == 200
    assert load_exam(Path(app.config["EXAMS_DIR"]) / "ckad-draw-2.yaml").is_draw


def test_invalid_exam_is_refused_with_every_problem(client, auth, app):
    auth.login()
    resp = auth.post_json("/author/exams/save", {
        "id": "Bad Id", "title": "", "track": "ckad", "duration": 0, "pass_mark": 66, "kind": "fixed",
        "tasks": []})
    assert resp.status_code == 400
    assert "id:" in resp.get_json()["problems"][0]
    resp = auth.post_json("/author/exams/save", {
        "id": "bad", "title": "", "track": "ckad", "duration": 0, "pass_mark": 166, "kind": "fixed",
        "tasks": [{"id": "no-such-task", "weight": 1}]})
    problems = " ".join(resp.get_json()["problems"])
    for expected in ("title", "duration", "pass_mark", "no-such-task"):
        assert expected in problems
    assert not (Path(app.config["EXAMS_DIR"]) / "bad.yaml").exists()


def test_suggest_a_paper_by_domains_and_difficulty():
    from types import SimpleNamespace as T
    from web.author.exams import suggest_paper

    def task(i, domain, difficulty):
        return T(id=f"t{i}", tracks=["ckad"], domain=domain, difficulty=difficulty,
                 domain_for=lambda track, d=domain: d)
    bank = [task(1, "A", "easy"), task(2, "A", "hard"), task(3, "A", "medium"),
            task(4, "B", "easy"), task(5, "B", "medium"), task(6, "B", "hard")]
    paper = suggest_paper(bank, "ckad", 4, {"A": 75, "B": 25}, {"easy": 50, "medium": 0, "hard": 50}, 1)
    domains = [t.domain for t, _ in paper]
    assert domains.count("A") == 3 and domains.count("B") == 1
    assert sum(w for t, w in paper if t.domain == "A") == 75 and sum(w for t, w in paper if t.domain == "B") == 25
    b = next(t for t, _ in paper if t.domain == "B")
    assert b.difficulty in ("easy", "hard")


def test_a_suggested_paper_never_holds_conflicting_tasks():
    """The suggestion once offered both halves of a conflict (kubelet-broken-config
    and crashloop-command), which the save then refused."""
    from types import SimpleNamespace as T
    from web.author.exams import suggest_paper

    def task(i, conflicts=()):
        return T(id=f"t{i}", tracks=["cka"], domain="A", difficulty="easy",
                 conflicts=list(conflicts), domain_for=lambda track: "A")
    bank = [task(1, ["t2"]), task(2), task(3, ["t4"]), task(4)]
    for seed in range(20):
        ids = {t.id for t, _ in suggest_paper(bank, "cka", 4, {"A": 100}, {"easy": 100}, seed)}
        assert not ({"t1", "t2"} <= ids or {"t3", "t4"} <= ids), (seed, ids)
        assert len(ids) == 2


def test_builder_pages(client, auth):
    auth.login()
    html = client.get("/author/exams/svc/edit").get_data(as_text=True)
    assert "svc-endpoints-fixture" in html and "Domain coverage" in html
    resp = auth.post_json("/author/exams/suggest", {"track": "ckad", "count": 1})
    assert resp.get_json()["tasks"] == [{"id": "svc-endpoints-fixture", "weight": 20.0}]


def test_the_node_count_is_left_to_the_tasks_unless_given(client, auth, app):
    """Issue 17: the builder's node field said 1, and an exam saved with it
    got "1-node" on its page while its tasks asked for 3. The field starts
    blank, and a blank one writes no ``nodes`` (the tasks decide)."""
    import re
    auth.login()
    html = client.get("/author/exams/new").get_data(as_text=True)
    field = re.search(r'<input name="nodes"[^>]*>', html).group(0)
    assert "value=" not in field and 'placeholder="as the tasks need"' in field, field
    resp = auth.post_json("/author/exams/save", {
        "id": "svc-blank-nodes", "title": "Nodes left blank", "track": "ckad", "duration": 20,
        "pass_mark": 70, "nodes": "", "kind": "fixed",
        "tasks": [{"id": "svc-endpoints-fixture", "weight": 1}]})
    assert resp.status_code == 200, resp.get_json()
    data = yaml.safe_load((Path(app.config["EXAMS_DIR"]) / "svc-blank-nodes.yaml").read_text())
    assert "nodes" not in data, data


def test_an_exam_of_hosts_and_clusters_keeps_them_through_the_builder(client, auth, app):
    """The builder wrote no `hosts` or `clusters`: saving the CKAD mock from
    it would have turned four clusters and a host per task into one shell on
    one cluster. It reads them from the exam, shows them, and writes them
    back; the defaults stay out of the file."""
    auth.login()
    base = {"title": "Hosts", "track": "ckad", "duration": 60, "pass_mark": 66, "kind": "draw",
            "draw": {"count": 4, "domains": "curriculum"}}
    resp = auth.post_json("/author/exams/save", {**base, "id": "hosts-4", "hosts": True,
                                                 "clusters": 4})
    assert resp.status_code == 200, resp.get_json()
    path = Path(app.config["EXAMS_DIR"]) / "hosts-4.yaml"
    exam = load_exam(path)
    assert (exam.hosts, exam.clusters) == (True, 4)
    html = client.get("/author/exams/hosts-4/edit").get_data(as_text=True)
    assert '"hosts": true' in html and '"clusters": 4' in html
    assert 'name="hosts"' in html and 'name="clusters"' in html
    edit = auth.post_json("/author/exams/save", {**base, "id": "hosts-4", "title": "Hosts b",
                                                 "hosts": True, "clusters": 4,
                                                 "replace_mtime": resp.get_json()["mtime"]})
    assert edit.status_code == 200 and (load_exam(path).hosts, load_exam(path).clusters) == (True, 4)
    plain = auth.post_json("/author/exams/save", {**base, "id": "plain", "hosts": False,
                                                  "clusters": 1})
    assert plain.status_code == 200
    data = yaml.safe_load((Path(app.config["EXAMS_DIR"]) / "plain.yaml").read_text())
    assert "hosts" not in data and "clusters" not in data


def test_a_suggested_paper_on_one_cluster_never_mixes_real_and_foreign_images():
    """On one cluster a real-container task makes every Pod start for real, and
    a task whose answer runs an image no real cluster holds would fail there
    (grader.exam.image_clash); on several clusters the two kinds are apart."""
    from grader.exam import image_clash
    from tests.portal.test_exam_model import real_bank
    from web.author.exams import suggest_paper
    from grader.curriculum import CURRICULA
    bank = list(real_bank().values())
    mix = {"easy": 30, "medium": 50, "hard": 20}
    mixed = 0
    for seed in range(30):
        one = [t for t, _ in suggest_paper(bank, "ckad", 16, CURRICULA["ckad"], mix, seed)]
        assert len(one) == 16
        assert not any(image_clash(t, one[:i]) for i, t in enumerate(one)), seed
        four = [t for t, _ in suggest_paper(bank, "ckad", 16, CURRICULA["ckad"], mix, seed, 4)]
        mixed += any(image_clash(t, four[:i]) for i, t in enumerate(four))
    assert mixed, "on four clusters the suggestion is free to mix the kinds"
