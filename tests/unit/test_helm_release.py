"""grader.helm on release Secrets built here as Helm 3 writes them.

Helm's storage driver (pkg/storage/driver/util.go, encodeRelease) marshals
the release to JSON, gzips it at best compression and base64-encodes it into
the ``release`` key of a Secret ``sh.helm.release.v1.<name>.v<revision>`` of
type ``helm.sh/release.v1``, labelled owner=helm, name, status, version; the
API base64-encodes the key's bytes once more, which is what the client's
``V1Secret.data`` holds. The namespace's Secrets come from a small fake that
answers list calls by label like the API server.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from kubernetes.client import V1Namespace, V1ObjectMeta, V1Secret

from grader import helm
from grader.helm import MAX_JSON, NotARelease, coalesce, decode, history, latest

CHART_VALUES = {"replicaCount": 1, "image": {"repository": "nginx", "tag": "1.27"}, "message": "hi"}


def release_json(name="web", ns="shop", revision=1, status="deployed", description="Install complete",
                 config=None, chart="webapp", values=CHART_VALUES) -> dict:
    """A release as Helm marshals it (fields Helm leaves out when empty left out)."""
    doc = {"name": name, "namespace": ns, "version": revision,
           "info": {"first_deployed": "2026-01-01T00:00:00Z", "last_deployed": "2026-01-01T00:00:00Z",
                    "deleted": "", "description": description, "status": status},
           "chart": {"metadata": {"name": chart, "version": "0.1.0", "apiVersion": "v2"},
                     "lock": None, "templates": [{"name": "templates/deployment.yaml", "data": "a2luZDog"}],
                     "values": values, "schema": None, "files": None},
           "manifest": "---\nkind: Deployment\n"}
    if config:
        doc["config"] = config
    return doc


def api_data(raw: bytes) -> str:
    """What the API returns for a Secret key holding ``raw`` (Helm's base64 text)."""
    return base64.b64encode(raw).decode()


def helm_data(doc) -> str:
    """The ``release`` value of a Secret as the client reads it: API base64 of Helm's base64 of gzip."""
    return api_data(base64.b64encode(gzip.compress(json.dumps(doc).encode(), compresslevel=9)))


def secret(doc=None, *, name="web", ns="shop", revision=1, data=None, kind=helm.RELEASE_TYPE) -> V1Secret:
    doc = doc if doc is not None else release_json(name, ns, revision)
    return V1Secret(metadata=V1ObjectMeta(name=f"sh.helm.release.v1.{name}.v{revision}", namespace=ns,
                                          labels={"owner": "helm", "name": name, "status": "deployed",
                                                  "version": str(revision)}),
                    type=kind, data={"release": data if data is not None else helm_data(doc)})


class FakeK8s:
    """Answers the Secret and Namespace calls grader.helm makes, by label like the API server."""

    def __init__(self, *secrets: V1Secret):
        self._secrets = list(secrets)
        self.core = self

    get = staticmethod(lambda fn, *args: fn(*args))

    def read_namespace(self, name):
        return V1Namespace(metadata=V1ObjectMeta(name=name)) if name == "shop" else None

    def _select(self, selector, ns=None):
        want = dict(kv.split("=") for kv in selector.split(","))
        found = [s for s in self._secrets if ns in (None, s.metadata.namespace)
                 and all((s.metadata.labels or {}).get(k) == v for k, v in want.items())]
        return type("List", (), {"items": found})

    def list_namespaced_secret(self, ns, label_selector):
        return self._select(label_selector, ns)

    def list_secret_for_all_namespaces(self, label_selector):
        return self._select(label_selector)


def refused(data) -> str:
    with pytest.raises(NotARelease) as err:
        decode(data)
    return str(err.value)


# -- decoding --------------------------------------------------------------------

def test_decodes_a_release_as_helm_writes_it():
    doc = release_json(config={"replicaCount": 3})
    assert decode(helm_data(doc)) == doc
    plain = api_data(base64.b64encode(json.dumps(doc).encode()))  # releases before gzip
    assert decode(plain) == doc


def test_layers_that_fail_are_named():
    assert refused(None) == "it has no release data"
    assert refused("") == "it has no release data"
    assert refused(42) == "it has no release data"
    assert refused("not base64!") == "its release data is not base64 of base64 text"
    assert refused(api_data(b"%%%")) == "its release data is not base64 of base64 text"
    assert refused(api_data(base64.b64encode(b"\x1f\x8bnot gzip at all"))) == "its release data is not valid gzip"
    assert refused(api_data(base64.b64encode(gzip.compress(b"{nope")))) == "its release data is not JSON"
    assert refused(api_data(base64.b64encode(gzip.compress(b"\xff\xfe")))) == "its release data is not JSON"
    assert refused(helm_data(["a", "list"])) == "its release is a JSON list, not an object"
    assert refused("A" * (helm.MAX_SECRET + 4)) == "its release data is over 2 MiB"


def test_a_gzip_bomb_stops_at_the_bound():
    bomb = gzip.compress(b"[" + b" " * (2 * MAX_JSON) + b"]", compresslevel=9)
    assert len(bomb) < 32 * 1024  # a Secret far under the API's 1 MiB
    assert refused(api_data(base64.b64encode(bomb))) == f"it inflates to more than {MAX_JSON // 2**20} MiB"


def test_json_nested_too_deep_is_refused():
    deep = b"[" * 200_000 + b"]" * 200_000
    assert refused(api_data(base64.b64encode(gzip.compress(deep)))) == "its release data is not JSON"


# -- fields ----------------------------------------------------------------------

def test_fields_of_a_release():
    rel = latest(FakeK8s(secret(release_json(config={"image": {"tag": "1.28"}, "message": None}))), "shop", "web")
    assert (rel.secret, rel.name, rel.namespace, rel.revision) == ("shop/sh.helm.release.v1.web.v1", "web", "shop", 1)
    assert (rel.status, rel.description, rel.chart, rel.chart_version) == (
        "deployed", "Install complete", "webapp", "0.1.0")
    assert rel.given == {"image": {"tag": "1.28"}, "message": None}
    assert rel.defaults == CHART_VALUES
    # as Helm renders: maps merged key by key, a null given removes the default
    assert rel.values == {"replicaCount": 1, "image": {"repository": "nginx", "tag": "1.28"}}


def test_fields_helm_leaves_out_are_empty():
    doc = {"name": "web", "version": 1}
    rel = latest(FakeK8s(secret(doc)), "shop", "web")
    assert (rel.status, rel.chart, rel.given, rel.defaults, rel.values) == (None, None, {}, {}, {})


@pytest.mark.parametrize(("path", "value", "said"), [
    ("name", ["web"], "its name is ['web'], not a string"),
    ("version", "1", "its version is '1', not an integer"),
    ("version", True, "its version is True, not an integer"),
    ("info.status", {"x": 1}, "its info.status is {x: 1}, not a string"),
    ("chart.metadata.name", 7, "its chart.metadata.name is 7, not a string"),
    ("chart.values", [1, 2], "its chart.values is [1, 2], not an object"),
    ("config", "replicaCount=3", "its config is 'replicaCount=3', not an object"),
])
def test_wrong_types_are_refused(path, value, said):
    doc = release_json()
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[last] = value
    with pytest.raises(AssertionError) as err:
        latest(FakeK8s(secret(doc)), "shop", "web")
    assert str(err.value) == (f"Secret shop/sh.helm.release.v1.web.v1 is not a Helm release: {said}; "
                       "expected one as Helm writes it")


def test_coalesce_is_bounded_in_depth():
    deep_base, deep_over = {}, {}
    b, o = deep_base, deep_over
    for _ in range(helm.MAX_DEPTH + 5):
        b["k"], o["k"] = {"keep": 1}, {}
        b, o = b["k"], o["k"]
    merged = coalesce(deep_base, deep_over)
    node, kept = merged, []
    for _ in range(helm.MAX_DEPTH + 5):
        node = node["k"]
        kept.append("keep" in node)
    # merged key by key down to the bound, below it the given map replaces the default's
    assert kept == [True] * helm.MAX_DEPTH + [False] * 5
    assert coalesce({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}, "d": 4}) == {"a": {"b": 3, "c": 2}, "d": 4}
    assert coalesce({"a": {"b": 1}}, {"a": "flat"}) == {"a": "flat"}


# -- history ---------------------------------------------------------------------

def test_history_by_revision():
    k8s = FakeK8s(secret(release_json(status="superseded"), revision=1),
                  secret(release_json(revision=2, description="Upgrade complete"), revision=2),
                  secret(release_json(name="db"), name="db"),
                  secret(release_json(revision=3), revision=3, kind="Opaque"),
                  secret(release_json(name="other", revision=4), revision=4))  # its JSON names another release
    revs = history(k8s, "shop", "web")
    assert sorted(revs) == [1, 2]
    assert (revs[1].status, revs[2].status, revs[2].description) == ("superseded", "deployed", "Upgrade complete")
    assert latest(k8s, "shop", "web").name == "other"  # the newest Secret, as it says


def test_a_hostile_revision_fails_the_history():
    k8s = FakeK8s(secret(revision=1), secret(revision=2, data="!!"))
    with pytest.raises(NotARelease, match=r"^Secret shop/sh\.helm\.release\.v1\.web\.v2 is not a Helm release: "
                                          r"its release data is not base64 of base64 text; expected one"):
        history(k8s, "shop", "web")


def test_release_not_found_says_where_helm_records_one():
    k8s = FakeK8s(secret(release_json(ns="default"), ns="default"))
    for read in (history, latest):
        with pytest.raises(AssertionError) as err:
            read(k8s, "shop", "web")
        assert str(err.value) == ("Helm release shop/web not found (Helm records one in ['default']); "
                                  "expected it installed in shop")
    with pytest.raises(AssertionError, match=r"^Helm release gone/web not found; expected it installed in gone$"):
        history(FakeK8s(), "gone", "web")


def test_too_many_revisions_are_refused():
    k8s = FakeK8s(*(secret(revision=r, data="x") for r in range(1, helm.MAX_REVISIONS + 2)))
    with pytest.raises(AssertionError, match=rf"has {helm.MAX_REVISIONS + 1} revision Secrets; expected at most"):
        history(k8s, "shop", "web")
