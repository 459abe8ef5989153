"""Checks for dockerfile-modify: /opt/answers/orders-api/Dockerfile read as
Docker's parser reads it (grader.dockerfile), and the Deployment rolled to
the image CI builds.
"""

import json

import pytest

from grader.checks import must_be_original, must_be_ready, must_container, must_get, same_image, show
from grader.dockerfile import env_pairs, exec_form, parse

FILE = "orders-api/Dockerfile"
WHERE = f"/opt/answers/{FILE}"
# the build steps setup wrote, which the candidate must keep as they are
STEPS = [("WORKDIR", "/app"), ("COPY", "requirements.txt ."),
         ("RUN", "pip install --no-cache-dir -r requirements.txt && useradd --uid 10001 "
                 "--no-create-home --shell /usr/sbin/nologin app"),
         ("COPY", ". .")]
APP_USERS = {"app", "10001"}


def _instructions(answers) -> list[tuple[str, str]]:
    f = answers / FILE
    assert f.exists(), f"{WHERE} does not exist; expected the Dockerfile, edited in place"
    found = parse(f.read_text())
    assert found, f"{WHERE} has no instructions; expected the Dockerfile, edited in place"
    return found


def test_base_image_and_steps(answers, params):
    """The Dockerfile builds FROM the new Python base and keeps its build steps"""
    found = _instructions(answers)
    base = f"python:{params['python']}-slim"
    froms = [a for k, a in found if k == "FROM"]
    assert froms == [base], f"{WHERE} has FROM {show(froms)}; expected one stage FROM {base}"
    steps = [(k, a) for k, a in found if k in ("WORKDIR", "COPY", "ADD", "RUN")]
    assert steps == STEPS, (f"{WHERE} has build steps {show([k + ' ' + a for k, a in steps])}; "
                            "expected WORKDIR, COPY, RUN and COPY as given")


def test_env(answers, params):
    """The Dockerfile sets APP_ENV and keeps the Python variables"""
    env = {}
    for k, a in _instructions(answers):
        if k == "ENV":
            env.update(env_pairs(a))
    want = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "APP_ENV": params["env"]}
    wrong = {k: env.get(k) for k, v in want.items() if env.get(k) != v}
    assert not wrong, (f"{WHERE} sets {show(wrong)}; expected APP_ENV={params['env']} beside "
                       "PYTHONDONTWRITEBYTECODE=1 and PYTHONUNBUFFERED=1")


@pytest.mark.points(2)
def test_runs_as_app_user(answers):
    """The image runs as the user app, set after the step that creates it"""
    found = _instructions(answers)
    users = [(i, a) for i, (k, a) in enumerate(found) if k == "USER"]
    assert users, f"{WHERE} has no USER; expected the image to run as the user app (uid 10001)"
    last, arg = users[-1]
    user = arg.split(":", 1)[0]
    assert user in APP_USERS, f"{WHERE} ends with USER {show(arg)}; expected app (uid 10001), not root"
    creates = max((i for i, (k, a) in enumerate(found) if k == "RUN" and "useradd" in a), default=None)
    assert creates is not None and all(i > creates for i, _ in users), (
        f"{WHERE} switches USER before the RUN step that creates the user (it must install as root); "
        "expected USER after it")


@pytest.mark.points(2)
def test_expose_and_exec_cmd(answers, params):
    """The Dockerfile exposes only the new port and starts the app with an exec-form CMD"""
    found = _instructions(answers)
    port = str(params["port"])
    exposed = [w.split("/")[0] for k, a in found if k == "EXPOSE" for w in a.split()]
    assert exposed == [port], f"{WHERE} exposes {show(exposed)}; expected only {port}"
    cmds = [a for k, a in found if k == "CMD"]
    want = ["python", "-m", "orders", "--port", port]
    assert cmds, f"{WHERE} has no CMD; expected CMD {json.dumps(want)}"
    assert exec_form(cmds[-1]) == want, (
        f"{WHERE} has CMD {show(cmds[-1])}; expected the exec (JSON) form {json.dumps(want)}")
    assert not [a for k, a in found if k == "ENTRYPOINT"], (
        f"{WHERE} has an ENTRYPOINT, which would prefix the CMD; expected the CMD alone")


@pytest.mark.points(2)
def test_deployment_rolled_to_new_image(k8s, params):
    """Deployment orders-api, the original, runs the image CI builds from the file"""
    ns, image = params["namespace"], f"registry.internal:5000/orders-api:{params['tag']}"
    dep = must_get(k8s.apps.read_namespaced_deployment, "orders-api", ns, expected="it to still exist")
    must_be_original(k8s, dep, f"orders-api-{ns}-original")
    api = must_container(dep, "api")
    assert same_image(api.image, image), (
        f"Deployment {ns}/orders-api runs image {show(api.image)}; expected {image}")
    must_be_ready(dep, replicas=2)
