"""Checks for helm-rollback: the release's history as Helm records it (one
``helm.sh/release.v1`` Secret per revision, read by grader.helm as hostile
data), the Deployment it manages, and the answer file.
"""

import pytest

from grader.checks import must_be_ready, must_container, must_get, show
from grader.helm import Release, history


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _database(rel: Release):
    return _dict(rel.values.get("database")).get("host")


@pytest.mark.points(3)
def test_rolled_back_with_helm(k8s, params):
    """The release's revision 3 is a rollback to revision 1, deployed; revision 2 is kept"""
    ns, name = params["namespace"], params["release"]
    revs = history(k8s, ns, name)
    assert sorted(revs) == [1, 2, 3], (f"Helm release {ns}/{name} has revisions {show(sorted(revs))}; "
                                       "expected 1, 2 and the rollback, 3")
    third = revs[3]
    assert third.status == "deployed" and third.description == "Rollback to 1", (
        f"Helm release {ns}/{name} revision 3 is {show(third.status)}: {show(third.description)}; "
        "expected deployed: Rollback to 1")
    hosts = (_database(revs[1]), _database(revs[3]))
    assert hosts[0] == hosts[1] == params["database"], (
        f"Helm release {ns}/{name} renders database host {show(hosts[1])} in revision 3; expected revision "
        f"1's {params['database']}")


def test_deployment_restored(k8s, params):
    """The release's Deployment uses the good database again and is rolled out"""
    ns, name = params["namespace"], params["release"]
    dep = must_get(k8s.apps.read_namespaced_deployment, f"{name}-api", ns)
    env = {e.name: e.value for e in must_container(dep, "api").env or []}
    want = f"postgres://{params['database']}:5432/ledger"
    assert env.get("DATABASE_URL") == want, (
        f"Deployment {ns}/{name}-api has DATABASE_URL {show(env.get('DATABASE_URL'))}; expected {want}")
    must_be_ready(dep, replicas=2)


def test_revision_count_written(k8s, params, answers):
    """helm-revisions.txt holds the number of revisions in the release's history"""
    ns, name = params["namespace"], params["release"]
    f = answers / "helm-revisions.txt"
    assert f.exists(), "/opt/answers/helm-revisions.txt does not exist; expected the number of revisions"
    lines = f.lines()
    want = len(history(k8s, ns, name))
    assert lines == [str(want)], (f"/opt/answers/helm-revisions.txt holds {show(lines)}; expected the "
                                  f"number of revisions of {name}, {want}")
