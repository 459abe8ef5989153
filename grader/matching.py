"""The matching rules of the Kubernetes API, reimplemented for checks.

A check often has to ask the question a controller or the scheduler asks:
does this selector pick these labels, does this node satisfy this affinity,
does this toleration let a Pod past this taint. The answers here follow the
Kubernetes source, not the documentation's summary of it:

* label selectors: ``metav1.LabelSelectorAsSelector`` and
  ``labels.Requirement.Matches`` (k8s.io/apimachinery);
* node selector terms: ``nodeaffinity.LazyErrorNodeSelector`` and
  ``GetRequiredNodeAffinity`` (k8s.io/component-helpers/scheduling/corev1);
* tolerations: ``Toleration.ToleratesTaint`` (k8s.io/api/core/v1).

Where the Go code turns an invalid requirement into a parse error, the
requirement here matches nothing, which is what the error amounts to for the
selector or term around it (requirements are ANDed). Everything accepts the
``kubernetes`` client's model objects with any field ``None``: the objects
come from the candidate's cluster.

These functions are re-exported by ``grader.checks``; import them from there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["selects", "selector_query", "term_matches", "terms_match", "node_admits",
           "tolerates", "untolerated", "pod_spec"]

_INT64 = re.compile(r"[+-]?[0-9]+\Z")


def _int64(text) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: digits with an optional sign, or None."""
    if not isinstance(text, str) or not _INT64.match(text):
        return None
    value = int(text)
    return value if -2 ** 63 <= value < 2 ** 63 else None


def _requirement(operator, key, values, labels: Mapping, numeric: bool = False) -> bool:
    """One requirement of a selector against a label set.

    ``numeric`` admits ``Gt``/``Lt``, which node selector terms have and label
    selectors do not. An invalid requirement (``In`` without values,
    ``Exists`` with values, ``Gt`` on a non-integer, an unknown operator)
    matches nothing."""
    values = list(values or [])
    has = key in labels
    value = labels.get(key)
    if operator == "In":
        return bool(values) and has and value in values
    if operator == "NotIn":  # an absent label is "not in" every set
        return bool(values) and (not has or value not in values)
    if operator == "Exists":
        return not values and has
    if operator == "DoesNotExist":
        return not values and not has
    if numeric and operator in ("Gt", "Lt"):
        bound = _int64(values[0]) if len(values) == 1 else None
        found = _int64(value) if has else None
        if bound is None or found is None:
            return False
        return found > bound if operator == "Gt" else found < bound
    return False


def selects(selector, labels: Mapping | None) -> bool:
    """Whether ``selector`` selects an object with ``labels``.

    ``selector`` is either a LabelSelector (``V1LabelSelector``: a workload's
    ``spec.selector``, a NetworkPolicy's ``podSelector``, …) or a plain map of
    labels (a Service's ``spec.selector``, a Pod's ``nodeSelector``):

    * ``None`` selects nothing (a Service without a selector has no endpoints;
      a nil LabelSelector is ``labels.Nothing()``);
    * an empty LabelSelector, or an empty map, selects everything;
    * ``matchLabels`` pairs and ``matchExpressions`` (``In``, ``NotIn``,
      ``Exists``, ``DoesNotExist``) are ANDed; ``NotIn`` matches an object
      without the label at all.

        selects(dep.spec.selector, pod.metadata.labels)
        selects(svc.spec.selector, {"app": "web"})       # a Service's map
    """
    if selector is None:
        return False
    labels = labels or {}
    if isinstance(selector, Mapping):
        return all(k in labels and labels[k] == v for k, v in selector.items())
    match_labels = getattr(selector, "match_labels", None) or {}
    expressions = getattr(selector, "match_expressions", None) or []
    if not all(k in labels and labels[k] == v for k, v in match_labels.items()):
        return False
    return all(_requirement(getattr(e, "operator", None), getattr(e, "key", None),
                            getattr(e, "values", None), labels) for e in expressions)


def selector_query(selector) -> str | None:
    """A selector as the API's ``labelSelector`` query: ``app=web,tier in (a,b),!debug``.

    ``""`` selects everything; ``None`` means the selector selects nothing
    (``None``, or an expression no object can satisfy), so there is nothing
    to ask the API for."""
    if selector is None:
        return None
    if isinstance(selector, Mapping):
        return ",".join(f"{k}={v}" for k, v in selector.items())
    parts = [f"{k}={v}" for k, v in (getattr(selector, "match_labels", None) or {}).items()]
    for e in getattr(selector, "match_expressions", None) or []:
        op, key, values = e.operator, e.key, list(e.values or [])
        if op in ("In", "NotIn") and values:
            parts.append(f"{key} {op.lower()} ({','.join(values)})")
        elif op == "Exists" and not values:
            parts.append(key)
        elif op == "DoesNotExist" and not values:
            parts.append(f"!{key}")
        else:
            return None
    return ",".join(parts)


def term_matches(term, labels: Mapping | None, name: str | None = None) -> bool:
    """Whether a NodeSelectorTerm admits a node with ``labels`` and ``name``.

    ``matchExpressions`` compare the node's labels (``In``, ``NotIn``,
    ``Exists``, ``DoesNotExist``, and ``Gt``/``Lt`` as whole numbers: a label
    ``gpus=4`` satisfies ``gpus Gt 2``); ``matchFields`` compare the node's
    ``metadata.name`` (``In``/``NotIn`` with exactly one value). All are ANDed.
    An empty term admits no node. Like the scheduler, field requirements are
    skipped for a node without a name: pass ``name`` to have them count.

        term_matches(term, {"disktype": "ssd"}, "node01")
    """
    if term is None:
        return False
    labels = labels or {}
    expressions = getattr(term, "match_expressions", None) or []
    fields = getattr(term, "match_fields", None) or []
    if not expressions and not fields:
        return False
    for e in expressions:
        if not _requirement(e.operator, e.key, e.values, labels, numeric=True):
            return False
    node_fields = {"metadata.name": name} if name else {}
    for f in fields:
        values = list(f.values or [])
        if f.operator not in ("In", "NotIn") or len(values) != 1:
            return False  # a parse error: the term matches no node
        if node_fields and (node_fields.get(f.key, "") == values[0]) != (f.operator == "In"):
            return False
    return True


def terms_match(node_selector, labels: Mapping | None, name: str | None = None) -> bool:
    """Whether a NodeSelector (its terms ORed) admits the node; ``None`` admits none.

        req = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        terms_match(req, node.metadata.labels, node.metadata.name)
    """
    terms = getattr(node_selector, "node_selector_terms", None) or []
    return any(term_matches(t, labels, name) for t in terms)


def pod_spec(obj):
    """The PodSpec of a Pod, of a workload's Pod template, of a CronJob's Job
    template, or ``obj`` itself when it is a PodSpec; None when there is none."""
    if obj is None or hasattr(obj, "containers"):
        return obj
    spec = getattr(obj, "spec", None)
    if spec is None:
        return None
    if hasattr(spec, "containers"):
        return spec
    job = getattr(spec, "job_template", None)
    if job is not None:
        spec = getattr(job, "spec", None)
    template = getattr(spec, "template", None)
    return getattr(template, "spec", None)


def node_admits(obj, node) -> bool:
    """Whether the scheduler's node filters let ``obj``'s Pods onto ``node``:
    ``nodeName``, ``nodeSelector`` and required node affinity (not taints,
    see ``untolerated``, nor resources).

    ``obj`` is a Pod, a workload (its Pod template) or a PodSpec; ``node`` a
    ``V1Node``.

        allowed = [n.metadata.name for n in k8s.core.list_node().items if node_admits(dep, n)]
    """
    spec = pod_spec(obj)
    meta = getattr(node, "metadata", None)
    name, labels = getattr(meta, "name", None), getattr(meta, "labels", None) or {}
    if spec is None:
        return False
    if spec.node_name and spec.node_name != name:
        return False
    if not selects(spec.node_selector or {}, labels):
        return False
    affinity = getattr(spec.affinity, "node_affinity", None) if spec.affinity else None
    required = getattr(affinity, "required_during_scheduling_ignored_during_execution", None)
    return required is None or terms_match(required, labels, name)


def tolerates(toleration, taint) -> bool:
    """Whether one toleration tolerates one taint, by the scheduler's rules:

    * an empty ``effect`` matches every effect, otherwise the effects are equal;
    * an empty ``key`` matches every key (with ``Exists``: every taint at all);
    * ``Exists`` matches any value; ``Equal`` (or no operator) an equal value;
    * ``Lt``/``Gt`` compare the taint's value with the toleration's as whole
      numbers (the taint's value is less/greater).

        tolerates(V1Toleration(key="dedicated", operator="Exists"), taint)
    """
    if toleration is None or taint is None:
        return False
    effect, key = toleration.effect or "", toleration.key or ""
    if effect and effect != taint.effect:
        return False
    if key and key != taint.key:
        return False
    operator = toleration.operator or "Equal"
    if operator == "Equal":
        return (toleration.value or "") == (taint.value or "")
    if operator == "Exists":
        return True
    if operator in ("Lt", "Gt"):
        bound, found = _int64(toleration.value or ""), _int64(taint.value or "")
        if bound is None or found is None:
            return False
        return found < bound if operator == "Lt" else found > bound
    return False


def untolerated(tolerations, taints, effects=("NoSchedule", "NoExecute")) -> list:
    """The taints (with an effect in ``effects``) that no toleration tolerates.

    The default effects are those that keep a Pod off a node;
    ``PreferNoSchedule`` only makes the scheduler avoid it.

        untolerated(pod_spec(dep).tolerations, node.spec.taints)   # [] when it may go there
    """
    return [t for t in taints or [] if t is not None and t.effect in effects
            and not any(tolerates(tol, t) for tol in tolerations or [])]
