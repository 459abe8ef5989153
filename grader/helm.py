"""Helm releases as Helm records them: the ``helm.sh/release.v1`` Secrets of a namespace.

Helm 3 stores each revision of a release in a Secret named
``sh.helm.release.v1.<release>.v<revision>`` (labels ``owner=helm``,
``name=<release>``), whose ``release`` key holds the release as JSON,
gzipped, base64-encoded, and base64-encoded once more by the API. Checks
read a release's history from there rather than from ``helm`` (which the
grader does not run)::

    from grader.helm import history

    revs = history(k8s, "shop", "web")          # {1: Release, 2: Release}
    assert revs[2].status == "deployed"
    assert revs[2].values["replicaCount"] == 3  # as the chart's templates saw them

Everything in those Secrets is the candidate's and hostile. Every layer is
bounded: at most ``MAX_REVISIONS`` Secrets per release, ``MAX_SECRET``
characters of text, ``MAX_JSON`` bytes once inflated (a gzip bomb stops
there, not in memory), JSON nested at most as deep as Python parses it, and
every field used is type-checked. A Secret that fails a layer is refused with
a message a check can show::

    Secret shop/sh.helm.release.v1.web.v2 is not a Helm release: it inflates to more than 8 MiB; expected one as Helm writes it
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field

from .checks import show
from .kube import K8s

RELEASE_TYPE = "helm.sh/release.v1"
# the API keeps a Secret under 1 MiB, which is 1.33 MiB of base64 text
MAX_SECRET = 2 * 1024 * 1024
# what a release's JSON may inflate to: real ones (chart, templates, manifest) are well under 1 MiB
MAX_JSON = 8 * 1024 * 1024
# Secrets of one release read at most: Helm keeps 10 by default (--history-max)
MAX_REVISIONS = 100
# nesting of values merged: charts nest a handful of levels
MAX_DEPTH = 20


class NotARelease(AssertionError):
    """A Secret that does not hold a release Helm wrote (a failed check)."""


@dataclass(frozen=True)
class Release:
    """One revision of a release, as its Secret records it."""

    secret: str                 # namespace/name of the Secret
    name: str | None            # the release's name, as the JSON records it
    namespace: str | None
    revision: int | None        # the JSON's ``version``
    status: str | None          # deployed, superseded, failed, ...
    description: str | None     # "Install complete", "Rollback to 1", ...
    chart: str | None           # the chart's name
    chart_version: str | None
    given: dict = field(default_factory=dict)     # the values given (``config``)
    defaults: dict = field(default_factory=dict)  # the values stored with the chart

    @property
    def values(self) -> dict:
        """The values the chart's templates rendered with: those given over the
        chart's (which ``--reuse-values`` replaced by the last revision's)."""
        return coalesce(self.defaults, self.given)


def coalesce(base: dict, over: dict, depth: int = 0) -> dict:
    """``over`` merged onto ``base`` as Helm merges values: maps key by key, a
    null given removes the default, anything else replaces it."""
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict) and depth < MAX_DEPTH:
            out[k] = coalesce(base[k], v, depth + 1)
        else:
            out[k] = v
    return out


def decode(data) -> dict:
    """The release JSON of a Secret's ``release`` value as the API returns it
    (base64 of Helm's base64 of gzip), or NotARelease naming the layer that failed."""
    if not isinstance(data, str) or not data:
        raise NotARelease("it has no release data")
    if len(data) > MAX_SECRET:
        raise NotARelease(f"its release data is over {MAX_SECRET // (1024 * 1024)} MiB")
    try:
        packed = base64.b64decode(base64.b64decode(data, validate=True), validate=True)
    except (binascii.Error, ValueError):
        raise NotARelease("its release data is not base64 of base64 text") from None
    if packed[:2] == b"\x1f\x8b":  # Helm gzips; an old release may not be
        inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            packed = inflate.decompress(packed, MAX_JSON)
        except zlib.error:
            raise NotARelease("its release data is not valid gzip") from None
        if inflate.unconsumed_tail:
            raise NotARelease(f"it inflates to more than {MAX_JSON // (1024 * 1024)} MiB")
    try:
        doc = json.loads(packed)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise NotARelease("its release data is not JSON") from None
    if not isinstance(doc, dict):
        raise NotARelease(f"its release is a JSON {type(doc).__name__}, not an object")
    return doc


def _field(doc: dict, path: str, kind: type):
    """``doc``'s field at dotted ``path`` if it is a ``kind`` (None when absent
    or null, as Helm omits empty fields); NotARelease when it is something else."""
    value = doc
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        names = {dict: "an object", str: "a string", int: "an integer"}
        raise NotARelease(f"its {path} is {show(value, 30)}, not {names[kind]}")
    return value


def parse(doc: dict, secret: str = "") -> Release:
    """The fields checks use of a decoded release, type-checked."""
    return Release(
        secret=secret,
        name=_field(doc, "name", str), namespace=_field(doc, "namespace", str),
        revision=_field(doc, "version", int),
        status=_field(doc, "info.status", str), description=_field(doc, "info.description", str),
        chart=_field(doc, "chart.metadata.name", str), chart_version=_field(doc, "chart.metadata.version", str),
        given=_field(doc, "config", dict) or {}, defaults=_field(doc, "chart.values", dict) or {})


def read(secret) -> Release:
    """The release in one Secret (a V1Secret), or a failed check naming it."""
    where = f"{secret.metadata.namespace}/{secret.metadata.name}"
    try:
        return parse(decode((secret.data or {}).get("release")), where)
    except NotARelease as exc:
        raise NotARelease(f"Secret {where} is not a Helm release: {exc}; expected one as Helm writes it") \
            from None


def secrets(k8s: K8s, ns: str, name: str) -> dict[int, object]:
    """``{revision: V1Secret}`` of release ``name`` in ``ns``, by the Secrets'
    names and type (not yet decoded); empty when there are none."""
    if k8s.get(k8s.core.read_namespace, ns) is None:
        return {}
    found = k8s.core.list_namespaced_secret(ns, label_selector=f"owner=helm,name={name}").items
    pattern = re.compile(rf"sh\.helm\.release\.v1\.{re.escape(name)}\.v(\d{{1,6}})")
    out = {}
    for s in found:
        m = pattern.fullmatch(s.metadata.name or "")
        if m and s.type == RELEASE_TYPE:
            out[int(m.group(1))] = s
    if len(out) > MAX_REVISIONS:
        raise AssertionError(f"Helm release {ns}/{name} has {len(out)} revision Secrets; expected at most "
                             f"{MAX_REVISIONS}")
    return out


def not_found(k8s: K8s, ns: str, name: str) -> AssertionError:
    """The failed check for a release missing from ``ns``, saying where Helm records one instead."""
    elsewhere = sorted({s.metadata.namespace for s in k8s.core.list_secret_for_all_namespaces(
        label_selector=f"owner=helm,name={name}").items})
    where = f" (Helm records one in {show(elsewhere)})" if elsewhere else ""
    return AssertionError(f"Helm release {ns}/{name} not found{where}; expected it installed in {ns}")


def history(k8s: K8s, ns: str, name: str) -> dict[int, Release]:
    """``{revision: Release}`` of release ``name`` in ``ns``: the revisions whose
    JSON names this release and the Secret's revision. A failed check when
    there is none, or when one of its Secrets is not a release."""
    out = {}
    for revision, secret in secrets(k8s, ns, name).items():
        rel = read(secret)
        if rel.name == name and rel.revision == revision:
            out[revision] = rel
    if not out:
        raise not_found(k8s, ns, name)
    return out


def latest(k8s: K8s, ns: str, name: str) -> Release:
    """The newest revision Secret of release ``name`` in ``ns``, whatever its JSON
    says (checks compare that); a failed check when there is none."""
    found = secrets(k8s, ns, name)
    if not found:
        raise not_found(k8s, ns, name)
    return read(found[max(found)])
