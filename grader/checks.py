"""Helpers for a task's ``checks.py``: what every task needs, written once.

Each helper either answers a question (``is_ready``, ``selects``,
``tolerates``) or, named ``must_…``, fails the check with a message in the
house style, what was found and what was expected:

    Deployment shop/web not found; expected it to exist
    Deployment shop/web has 1 of 3 replicas ready (3 up to date, 1 available, 3 in all); expected all 3 ready and up to date

A check that uses them::

    from grader.checks import must_get, must_be_ready, pods_of, show

    def test_web_rolled_out(k8s, params):
        '''All 3 replicas of web are ready on node01'''
        ns = params["namespace"]
        dep = must_get(k8s.apps.read_namespaced_deployment, "web", ns)
        must_be_ready(dep, replicas=3)
        elsewhere = [p.metadata.name for p in pods_of(k8s, dep) if p.spec.node_name != "node01"]
        assert not elsewhere, f"Pods of web run on other nodes: {show(elsewhere)}; expected all on node01"

Everything read from the cluster is the candidate's and hostile: helpers take
``None`` for any field and quote what they repeat with ``show`` (shortened,
control characters escaped). The API's own matching rules (label selectors,
node affinity, tolerations) live in ``grader.matching`` and are re-exported
here.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping

from kubernetes.utils.quantity import parse_quantity

from .answers import quote
from .kube import K8s, selector_string
from .matching import (node_admits, pod_spec, selector_query, selects, term_matches,
                       terms_match, tolerates, untolerated)

__all__ = [
    # fetching, waiting
    "must_get", "get_live", "eventually", "must_be_original",
    # Pods and workloads
    "live", "live_pods", "pods_of", "replica_sets_of", "owned_by",
    # readiness
    "condition", "is_ready", "must_be_ready",
    # Pod specs
    "pod_spec", "must_container", "command_line", "same_command", "same_image", "mount_paths",
    "mounted",
    "same_quantity",
    # matching (grader.matching)
    "selects", "selector_query", "term_matches", "terms_match", "node_admits",
    "tolerates", "untolerated",
    # messages
    "show", "describe", "selector_text", "taint_text", "must_equal",
]

_PLAIN = re.compile(r"[\w./:@=-]{1,60}\Z")


# -- messages -----------------------------------------------------------------

def show(value, limit: int = 60) -> str:
    """A value of the candidate's for a message: strings quoted, shortened and
    escaped (``grader.answers.quote``), lists and maps shown element by
    element, ``None`` as ``none``.

        show("web\\x1b[2J")           -> 'web\\x1b[2J'
        show(["a", "b"])              -> ['a', 'b']
        show({"mode": "debug"})       -> {mode: 'debug'}
    """
    if value is None:
        return "none"
    if isinstance(value, (bool, int, float)):
        return str(value)
    if isinstance(value, (str, bytes)):
        return quote(value, limit)
    if isinstance(value, Mapping):
        items = [f"{k if isinstance(k, str) and _PLAIN.match(k) else show(k, limit)}: "
                 f"{show(v, limit)}" for k, v in list(value.items())[:20]]
        more = ", …" if len(value) > 20 else ""
        return "{" + ", ".join(items) + more + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        more = ", …" if len(items) > 20 else ""
        ends = "()" if isinstance(value, tuple) else "[]"
        return ends[0] + ", ".join(show(v, limit) for v in items[:20]) + more + ends[1]
    return quote(str(value), limit)


def _kind(obj) -> str:
    """``Deployment`` for a ``V1Deployment`` (list items carry no ``kind``)."""
    return getattr(obj, "kind", None) or re.sub(r"^V\d+((alpha|beta)\d+)?", "", type(obj).__name__)


def describe(obj) -> str:
    """``Deployment shop/web``, ``Node node01``: how a message names an object."""
    meta = getattr(obj, "metadata", None)
    name, ns = getattr(meta, "name", None) or "?", getattr(meta, "namespace", None)
    return f"{_kind(obj)} {ns}/{name}" if ns else f"{_kind(obj)} {name}"


def selector_text(selector) -> str:
    """A selector for a message: ``'app=web,tier in (a,b)'`` (quoted, shortened),
    ``nothing`` for ``None``, ``everything`` for an empty selector."""
    if selector is None:
        return "nothing"
    query = selector_query(selector)
    if query is None:
        return show(str(selector))
    return quote(query) if query else "everything"


def taint_text(taint) -> str:
    """``dedicated=ml:NoSchedule``, as ``kubectl taint`` writes it (quoted when odd)."""
    text = f"{taint.key}{'=' + taint.value if taint.value else ''}:{taint.effect}"
    return text if _PLAIN.match(text) else show(text)


def must_equal(subject: str, found: Mapping, want: Mapping, same=None) -> None:
    """Fail unless every ``found[k]`` equals ``want[k]``; name only the wrong ones.

    ``same(found, want)`` compares (default ``==``), e.g. ``same_quantity``;
    a map of key to such a function compares only those keys differently.

        must_equal("StorageClass fast", {"reclaimPolicy": sc.reclaim_policy},
                   {"reclaimPolicy": "Retain"})
        # StorageClass fast has reclaimPolicy: 'Delete'; expected reclaimPolicy: Retain
    """
    def compare(key):
        fn = same.get(key) if isinstance(same, Mapping) else same
        return fn or (lambda a, b: a == b)
    wrong = [k for k in want if not compare(k)(found.get(k), want[k])]
    if wrong:
        has = ", ".join(f"{k}: {show(found.get(k))}" for k in wrong)
        raise AssertionError(f"{subject} has {has}; expected "
                             + ", ".join(f"{k}: {want[k]}" for k in wrong))


# -- fetching and waiting -------------------------------------------------------

def _what(read) -> str:
    """``read_namespaced_pod_disruption_budget`` -> ``PodDisruptionBudget``."""
    name = getattr(read, "__name__", "")
    if not name.startswith("read_"):
        return "object"
    name = name.removeprefix("read_").removeprefix("namespaced_")
    return "".join(part.title() for part in name.split("_"))


def must_get(read, *args, what: str | None = None, expected: str = "it to exist", **kw):
    """``read(*args, **kw)``, or a failed check when the object does not exist.

    Why: "not there" is the candidate's state being wrong (a failure with a
    message), never the checker crashing on a 404 (an error). The kind in the
    message comes from the function's name; ``what`` overrides it,
    ``expected`` says what should have been there.

        dep = must_get(k8s.apps.read_namespaced_deployment, "web", ns)
        # Deployment shop/web not found; expected it to exist
        must_get(k8s.core.read_node, "node02", expected="it joined to the cluster")
    """
    obj = K8s.get(read, *args, **kw)
    if obj is None:
        name = args[0] if args else kw.get("name", "?")
        ns = args[1] if len(args) > 1 else kw.get("namespace")
        ref = f"{ns}/{name}" if isinstance(ns, str) and ns else name
        raise AssertionError(f"{what or _what(read)} {ref} not found; expected {expected}")
    return obj


def get_live(read, *args, **kw):
    """``read(*args, **kw)``, or None when the object does not exist *or* is being
    deleted: for checks that something is gone, or still there.

        pod = get_live(k8s.core.read_namespaced_pod, "debug-shell", ns)
        assert pod is None or pod.spec.node_name != "node01", "…"
    """
    obj = K8s.get(read, *args, **kw)
    return obj if obj is not None and live([obj]) else None


def eventually(check, timeout: float = 5.0, interval: float = 0.25):
    """Run ``check()`` until it stops failing (raising ``AssertionError``), and
    return what it returns; at the deadline the *last* failure is raised, so
    the candidate sees the state as it finally was.

    Why: controllers act asynchronously (EndpointSlices follow a selector
    change a moment later), and a check must neither fail on a state that is
    about to settle nor wait forever. Keep ``timeout`` well below the check's
    time limit (10 s by default).

        def three_endpoints():
            found = k8s.endpoints("web", ns)
            assert len(found) == 3, f"Service {ns}/web has {len(found)} ready endpoints; expected 3"
        eventually(three_endpoints, timeout=5)
    """
    return K8s.wait_until(lambda: (check(),), timeout=timeout, interval=interval)[0]


RECORDS_NAMESPACE = "kube-system"


def must_be_original(k8s, obj, record: str) -> None:
    """Fail unless ``obj`` is the very object setup recorded as ``record``.

    Why: "fix it in place, do not delete it" cannot be checked by name or
    content, since a deleted and recreated copy (``kubectl replace --force``,
    ``delete`` then ``apply``) has both. The uid tells them apart: the API
    server assigns it on create and no client can choose it. Setup records
    the uid in an *immutable* ConfigMap ``record`` of ``kube-system``, a
    namespace the statement does not name: no edit can carry a new uid into
    it, and a copy of the object (``get -o yaml``) does not carry the record
    along. (A candidate with cluster-admin who finds the record could delete
    it and write another: that is tampering with the grader, not a mistake.)

        # setup, after creating the object:
        uid=$(kubectl -n "$ns" get deployment checkout -o jsonpath='{.metadata.uid}')
        kubectl -n kube-system delete configmap "checkout-$ns-original" --ignore-not-found
        kubectl -n kube-system apply -f - <<YAML
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: checkout-$ns-original}
        immutable: true
        data: {uid: "$uid"}
        YAML

        must_be_original(k8s, dep, f"checkout-{ns}-original")
        # Deployment shop/checkout was deleted and recreated (the new one created 2025-…); expected the original, changed in place
    """
    rec = must_get(k8s.core.read_namespaced_config_map, record, RECORDS_NAMESPACE,
                   expected=f"it untouched: setup recorded there which {describe(obj)} is the original")
    want = (rec.data or {}).get("uid")
    assert want, (f"ConfigMap {RECORDS_NAMESPACE}/{record} holds no uid; expected setup's record "
                  f"of the original {describe(obj)} untouched")
    meta = obj.metadata
    if meta.uid != want:
        created = f" (the new one created {meta.creation_timestamp.isoformat()})" \
            if meta.creation_timestamp else ""
        raise AssertionError(f"{describe(obj)} was deleted and recreated{created}; "
                             "expected the original, changed in place")


# -- Pods and workloads ---------------------------------------------------------

def live(objs) -> list:
    """The objects not on their way out (``metadata.deletionTimestamp`` unset).

    A Pod being deleted still lists, and may still run, for its grace period:
    it is not part of what the candidate's cluster is becoming."""
    return [o for o in objs or [] if getattr(o.metadata, "deletion_timestamp", None) is None]


def live_pods(k8s, namespace: str, selector=None, node: str | None = None) -> list:
    """The live Pods of a namespace, by label selector and/or node.

    ``selector`` is a query string (``"app=web"``), a map (``{"app": "web"}``)
    or a ``V1LabelSelector``; ``None`` means every Pod of the namespace.

        live_pods(k8s, ns, "app=frontend", node="node01")
    """
    if selector is not None and not isinstance(selector, (str, Mapping)):
        selector = selector_query(selector)
        if selector is None:  # a selector no Pod can satisfy
            return []
    field = f"spec.nodeName={node}" if node else None
    return live(k8s.pods(namespace, selector_string(selector), field_selector=field))


def owned_by(obj, owner) -> bool:
    """Whether ``obj`` has an ownerReference to ``owner``: an API object (by
    uid) or ``"Kind/name"`` (by kind and name).

        owned_by(pod, "DaemonSet/kube-proxy"); owned_by(job, cronjob)
    """
    refs = getattr(obj.metadata, "owner_references", None) or []
    if isinstance(owner, str):
        kind, _, name = owner.partition("/")
        return any(r.kind == kind and r.name == name for r in refs)
    uid = getattr(owner.metadata, "uid", None)
    return uid is not None and any(r.uid == uid for r in refs)


def replica_sets_of(k8s, deployment) -> list:
    """The ReplicaSets a Deployment owns, old revisions included (its rollout history)."""
    query = selector_query(deployment.spec.selector)  # "" lists every ReplicaSet
    if query is None:
        return []
    items = k8s.apps.list_namespaced_replica_set(deployment.metadata.namespace, label_selector=query).items
    return [rs for rs in items if owned_by(rs, deployment)]


def pods_of(k8s, workload) -> list:
    """The live Pods of a Deployment, ReplicaSet, DaemonSet, StatefulSet or Job:
    those its selector picks *and* it owns (a Deployment through its
    ReplicaSets), so a stray Pod that merely carries the labels is not counted.

        pods = pods_of(k8s, must_get(k8s.apps.read_namespaced_deployment, "web", ns))
    """
    owners = replica_sets_of(k8s, workload) if _kind(workload) == "Deployment" else [workload]
    pods = live_pods(k8s, workload.metadata.namespace, workload.spec.selector) \
        if workload.spec.selector is not None else []
    return [p for p in pods if any(owned_by(p, o) for o in owners)]


# -- readiness ------------------------------------------------------------------

def condition(obj, kind: str) -> str | None:
    """The status (``"True"``, ``"False"``, ``"Unknown"``) of ``obj``'s condition
    ``kind``, or None when it has none: ``condition(job, "Complete") == "True"``."""
    for c in getattr(getattr(obj, "status", None), "conditions", None) or []:
        if getattr(c, "type", None) == kind:
            return c.status
    return None


_READY = ("ready", "ready_replicas")
_COUNTS = {  # kind -> (status fields counted against the desired replicas, ready first)
    "Deployment": [_READY, ("up to date", "updated_replicas"), ("available", "available_replicas"),
                   ("in all", "replicas")],
    "ReplicaSet": [_READY, ("available", "available_replicas"), ("in all", "replicas")],
    "DaemonSet": [("ready", "number_ready"), ("up to date", "updated_number_scheduled"),
                  ("available", "number_available")],
}
_COUNTS["StatefulSet"] = _COUNTS["Deployment"]


def _rollout_gap(obj) -> tuple[int, str | None]:
    """(desired replicas, what is missing for a complete rollout or None)."""
    st = obj.status
    if _kind(obj) == "DaemonSet":  # one Pod per eligible node
        desired = (st.desired_number_scheduled or 0) if st else 0
    else:
        desired = obj.spec.replicas if obj.spec.replicas is not None else 1
    counts = [(label, (getattr(st, f, None) or 0) if st else 0) for label, f in _COUNTS[_kind(obj)]]
    current = st is not None and (st.observed_generation or 0) >= (obj.metadata.generation or 0)
    if current and all(n == desired for _, n in counts):
        return desired, None
    stale = "" if current else "; its controller has not seen the latest change yet"
    return desired, (f"{counts[0][1]} of {desired} replicas ready "
                     f"({', '.join(f'{n} {label}' for label, n in counts[1:])}){stale}")


def is_ready(obj) -> bool:
    """Pod or Node: its ``Ready`` condition is ``True``. Deployment,
    StatefulSet, ReplicaSet, DaemonSet: the rollout is complete, every
    desired replica ready, up to date and available, and none left over (what
    ``kubectl rollout status`` waits for)."""
    if _kind(obj) not in _COUNTS:
        return condition(obj, "Ready") == "True"
    return _rollout_gap(obj)[1] is None


def must_be_ready(obj, replicas: int | None = None) -> None:
    """Fail unless ``is_ready(obj)``, and, given ``replicas``, unless the
    workload wants exactly that many.

        must_be_ready(dep, replicas=3)
        # Deployment shop/web has 2 replicas; expected 3
        # Deployment shop/web has 1 of 3 replicas ready (3 up to date, 1 available, 3 in all); expected all 3 ready and up to date
        must_be_ready(pod)
        # Pod shop/web-1 is Pending and not ready; expected it running and ready
    """
    what = describe(obj)
    if _kind(obj) not in _COUNTS:
        if not is_ready(obj):
            phase = obj.status.phase if _kind(obj) == "Pod" and obj.status else None
            state = f"{phase} and not ready" if phase else f"Ready={condition(obj, 'Ready') or 'Unknown'}"
            raise AssertionError(f"{what} is {state}; expected it "
                                 f"{'running and ready' if phase else 'Ready=True'}")
        return
    desired, gap = _rollout_gap(obj)
    if replicas is not None and desired != replicas:
        raise AssertionError(f"{what} has {desired} replicas; expected {replicas}")
    if gap:
        raise AssertionError(f"{what} has {gap}; expected all {desired} ready and up to date")


# -- Pod specs --------------------------------------------------------------------

def must_container(obj, name: str, init: bool = False):
    """The container ``name`` of a Pod, workload, CronJob or PodSpec (an init
    container with ``init=True``), or a failed check that lists what is there.

        c = must_container(dep, "api")
        # Deployment shop/api has containers ['web']; expected one named api
    """
    spec = pod_spec(obj)
    found = (spec.init_containers if init else spec.containers) if spec is not None else None
    for c in found or []:
        if c.name == name:
            return c
    what = describe(obj) if not hasattr(obj, "containers") else "the Pod spec"
    kind = "init containers" if init else "containers"
    raise AssertionError(f"{what} has {kind} {show([c.name for c in found or []]) if found else 'none'}; "
                         f"expected one named {name}")


def command_line(container) -> str:
    """``command`` and ``args`` joined with spaces: what the container runs."""
    return " ".join(str(x) for x in (container.command or []) + (container.args or []))


_SHELLS = {"sh", "ash", "bash", "dash"}


def same_command(container, want: str) -> bool:
    """Whether ``container`` runs the command line ``want`` (``"sleep 3600"``),
    however the candidate wrote it: split between ``command`` and ``args``,
    the program by its path (``/bin/sleep``), or as a shell's script
    (``sh -c 'sleep 3600'``, ``exec`` or not). Nothing set (the image's
    default command) is never ``want``.

        same_command(c, "sleep 3600")   # sleep 3600, args [sleep, 3600], sh -c 'exec sleep 3600'
    """
    words = [str(w) for w in (container.command or []) + (container.args or [])]
    if len(words) == 3 and posixpath.basename(words[0]) in _SHELLS and words[1] == "-c":
        try:
            words = shlex.split(words[2])
        except ValueError:  # unbalanced quotes: not a command line anyone meant
            return False
        words = words[1:] if words[:1] == ["exec"] else words
    wanted = shlex.split(want)
    if words and wanted and "/" not in wanted[0]:
        words = [posixpath.basename(words[0]), *words[1:]]
    return bool(words) and words == wanted


def _short_image(ref: str) -> str:
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "library/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def same_image(found: str | None, want: str) -> bool:
    """Whether image reference ``found`` names ``want``, however spelt:
    ``docker.io/library/nginx:1.27`` is ``nginx:1.27``."""
    return found is not None and _short_image(found) == _short_image(want)


def mount_paths(container) -> dict:
    """``{mount path: volume name}`` of a container, trailing slashes dropped:
    what a message can show when the mount at a path is wrong."""
    return {(m.mount_path or "").rstrip("/") or "/": m.name for m in container.volume_mounts or []}


def mounted(obj, container, path: str):
    """``(mount, volume)`` of what ``container`` mounts at ``path`` (a trailing
    slash ignored), the volume looked up in ``obj``'s Pod spec;
    ``(None, None)`` when nothing is mounted there, ``(mount, None)`` when
    the mount names no volume."""
    path = path.rstrip("/") or "/"
    for m in container.volume_mounts or []:
        if ((m.mount_path or "").rstrip("/") or "/") == path:
            spec = pod_spec(obj)
            volumes = {v.name: v for v in (spec.volumes if spec else None) or []}
            return m, volumes.get(m.name)
    return None, None


def same_quantity(found, want) -> bool:
    """Whether two resource quantities are equal in value (``0.5`` is ``500m``);
    False for a missing or unparseable one."""
    try:
        return found is not None and parse_quantity(found) == parse_quantity(want)
    except (ValueError, TypeError, ArithmeticError):
        return False
