"""Checks for rbac-can-i-answer: the list of ServiceAccounts that may delete Secrets,
and a minimal grant for auditor, both asked of the API server's authorizer."""

import pytest

from grader.answers import quote

ACCOUNTS = ["builder", "deployer", "monitor", "backup", "release"]
# The grants setup gives, in its order, and whether each lets delete Secrets in
# the namespace; layout a..e rotates them over ACCOUNTS (setup does the same).
GRANTS = [("role-delete", True), ("edit", True), ("cluster-delete", True), ("role-read", False),
          ("admin-elsewhere", False)]
ANSWER = "/opt/answers/secret-deleters.txt"


def deleters(layout: str) -> set:
    shift = ord(layout) - ord("a")
    return {acc for i, acc in enumerate(ACCOUNTS) if GRANTS[(i + shift) % len(GRANTS)][1]}


def _sa(ns, name):
    return f"system:serviceaccount:{ns}:{name}"


@pytest.mark.points(3)
def test_answer_lists_deleters(params, answers):
    """secret-deleters.txt lists exactly the ServiceAccounts that can delete Secrets, by bare name"""
    f = answers / "secret-deleters.txt"
    assert f.exists(), f"{ANSWER} does not exist; expected the names of the ServiceAccounts that can delete Secrets"
    found = f.lines()
    want = deleters(params["layout"])
    prefixed = [n for n in found if ":" in n or "/" in n]
    assert not prefixed, (f"{ANSWER} lists {', '.join(quote(n) for n in prefixed[:3])}; "
                          "expected bare ServiceAccount names such as builder")
    missing, extra = sorted(want - set(found)), sorted(set(found) - want)
    assert not missing, f"{ANSWER} misses {', '.join(missing)}, which can delete Secrets"
    assert not extra, (f"{ANSWER} also lists {', '.join(quote(n) for n in extra[:5])}, which cannot delete "
                       f"Secrets in {params['namespace']}; expected only those that can")
    assert len(found) == len(set(found)), f"{ANSWER} lists some names more than once"


@pytest.mark.points(3)
def test_auditor_reads_only_that_secret(k8s, params):
    """auditor can get the one Secret and nothing more; the others' permissions are unchanged"""
    ns, secret = params["namespace"], params["secret"]
    auditor = _sa(ns, "auditor")
    assert k8s.can(auditor, "get", "secrets", ns, name=secret), (
        f"ServiceAccount {ns}/auditor cannot get Secret {secret}; expected it can")
    extra = [what for what, verb, name, where in (
        ("get Secret app-db", "get", "app-db", ns),
        ("list Secrets", "list", None, ns),
        ("watch Secrets", "watch", None, ns),
        (f"update Secret {secret}", "update", secret, ns),
        (f"delete Secret {secret}", "delete", secret, ns),
        (f"get Secrets in {ns}-staging", "get", secret, f"{ns}-staging"),
    ) if k8s.can(auditor, verb, "secrets", where, name=name)]
    for what, verb, resource in (("create Pods", "create", "pods"), ("get ConfigMaps", "get", "configmaps")):
        if k8s.can(auditor, verb, resource, ns):
            extra.append(what)
    assert not extra, f"ServiceAccount {ns}/auditor can also {', '.join(extra)}; expected only get on Secret {secret}"
    want = deleters(params["layout"])
    now = {a for a in ACCOUNTS if k8s.can(_sa(ns, a), "delete", "secrets", ns)}
    assert now == want, (f"ServiceAccounts that can delete Secrets are now {sorted(now)}; expected "
                         f"{sorted(want)} as before: the others' permissions must not change")
