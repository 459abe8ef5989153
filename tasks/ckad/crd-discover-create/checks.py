"""Checks for crd-discover-create: an object of the operator's cache cluster kind with
the four fields, and the kind's short name in an answer file."""

import pytest

from grader.answers import quote
from grader.checks import show

ANSWER = "/opt/answers/cache-short-name.txt"


def _plural(params):
    return params["kind"].lower() + "s"


def _get(k8s, params):
    ns, name = params["namespace"], params["name"]
    obj = k8s.get(k8s.custom.get_namespaced_custom_object, params["group"], "v1", ns, _plural(params), name)
    assert obj is not None, f"{params['kind']} {ns}/{name} not found; expected it created"
    return obj


@pytest.mark.points(3)
def test_cache_cluster(k8s, params):
    """The cache cluster has the shards, engine version, eviction policy and persistence, and nothing else set"""
    obj = _get(k8s, params)
    spec = obj.get("spec") if isinstance(obj, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    what = f"{params['kind']} {params['namespace']}/{params['name']}"
    engine = spec.get("engine") if isinstance(spec.get("engine"), dict) else {}
    persistence = spec.get("persistence") if isinstance(spec.get("persistence"), dict) else {}
    found = {"shards": spec.get("shards"), "engine.version": engine.get("version"),
             "evictionPolicy": spec.get("evictionPolicy"), "persistence.enabled": persistence.get("enabled")}
    want = {"shards": int(params["shards"]), "engine.version": params["version"],
            "evictionPolicy": params["policy"], "persistence.enabled": True}
    wrong = [k for k in want if found[k] != want[k]]
    assert not wrong, (f"{what} has " + ", ".join(f"{k}: {show(found[k])}" for k in wrong)
                       + "; expected " + ", ".join(f"{k}: {want[k]}" for k in wrong))
    extra = sorted(set(spec) - {"shards", "engine", "evictionPolicy", "persistence"})
    extra += [f"engine.{k}" for k in engine if k != "version"]
    # intervalSeconds: 300 is the schema's default, filled in by the API server
    extra += [f"persistence.{k}" for k, v in persistence.items()
              if k != "enabled" and (k, v) != ("intervalSeconds", 300)]
    assert not extra, f"{what} also sets {show(extra)}; expected only the four fields asked for"


def test_short_name(params, answers):
    """cache-short-name.txt holds the short name of the cache cluster kind"""
    f = answers / "cache-short-name.txt"
    assert f.exists(), f"{ANSWER} does not exist; expected the short name of the cache cluster kind"
    lines = f.lines()
    want = params["short"]
    assert len(lines) == 1, (f"{ANSWER} has {len(lines)} lines; expected one line with the short name"
                             if lines else f"{ANSWER} is empty; expected the short name")
    assert lines[0] == want, f"{ANSWER} holds {quote(lines[0])}; expected the short name of the cache cluster kind"
