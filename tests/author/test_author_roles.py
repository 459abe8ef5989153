"""Role boundaries: every authoring route is for instructors and admins only."""

import pytest

TASK = "/author/tasks/bank/ckad/svc-endpoints-fixture"
GETS = ["/author/", "/author/tasks", "/author/tasks/new", TASK, "/author/exams", "/author/exams/new",
        "/author/exams/svc/edit", "/author/stats", "/author/stats/exams", "/author/stats/exams.csv",
        "/author/import", "/author/validations/1", "/author/stats/tasks/svc-endpoints-fixture"]
POSTS = ["/author/tasks/new", TASK + "/lint", TASK + "/save", TASK + "/validate", TASK + "/try",
         "/author/tasks/drafts/ckad/x/publish", "/author/exams/save", "/author/exams/suggest",
         "/author/import"]


@pytest.mark.parametrize("url", GETS)
def test_candidate_gets_403_on_every_page(client, auth, url):
    auth.login("alice")
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", POSTS)
def test_candidate_gets_403_on_every_action(client, auth, url):
    auth.login("alice")
    assert auth.post(url, {}).status_code == 403
    assert auth.post_json(url, {"files": {}, "version": "x"}).status_code == 403


@pytest.mark.parametrize("url", ["/author/tasks", TASK, "/author/stats"])
def test_anonymous_is_sent_to_login(client, url):
    resp = client.get(url)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("user", ["ines", "ada"])
def test_instructor_and_admin_see_every_page(client, auth, user):
    auth.login(user)
    for url in GETS:
        if url in ("/author/validations/1", "/author/stats/tasks/svc-endpoints-fixture"):
            continue  # 404 until something exists
        resp = client.get(url)
        assert resp.status_code == (302 if url == "/author/" else 200), (url, resp.status_code)


def test_author_link_only_for_staff(app, auth):
    for user, shown in (("alice", False), ("ines", True)):
        client = app.test_client()
        type(auth)(client).login(user)
        assert ("/author/tasks" in client.get("/").get_data(as_text=True)) is shown


def test_post_without_csrf_token_is_refused(client, auth):
    auth.login("ines")
    resp = client.post(TASK + "/lint", json={"files": {}})
    assert resp.status_code == 400
