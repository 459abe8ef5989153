"""Checks for helm-install-component: the release as Helm records it (the
newest ``helm.sh/release.v1`` Secret of the release, decoded as hostile
data) and the objects it made.

Helm stores a release as JSON, gzipped, base64-encoded, in the Secret's
``release`` key (which the API base64-encodes once more). Every layer is
bounded: a Secret is at most 1 MiB, and the JSON is inflated to at most
``MAX_JSON`` bytes, so a crafted Secret cannot take the grader's memory.
"""

import base64
import binascii
import json
import re
import zlib

import pytest

from grader.checks import must_be_ready, must_container, must_get, same_image, show

MAX_JSON = 8 * 1024 * 1024
RELEASE_TYPE = "helm.sh/release.v1"


def _decode(blob) -> dict:
    """The release JSON of a Secret's ``release`` value (already base64-decoded
    once by us from the API's encoding), or an AssertionError naming the layer that failed."""
    try:
        packed = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise AssertionError("is not base64 text") from None
    if packed[:2] == b"\x1f\x8b":  # Helm gzips; an old release may not be
        inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            packed = inflate.decompress(packed, MAX_JSON)
        except zlib.error:
            raise AssertionError("is not valid gzip data") from None
        if inflate.unconsumed_tail:
            raise AssertionError(f"inflates to more than {MAX_JSON // (1024 * 1024)} MiB")
    try:
        doc = json.loads(packed)
    except (ValueError, UnicodeDecodeError):
        raise AssertionError("is not a release in JSON") from None
    if not isinstance(doc, dict):
        raise AssertionError("is not a release in JSON")
    return doc


def _release(k8s, params) -> dict:
    """The newest recorded revision of the release in the namespace."""
    ns, name = params["namespace"], params["release"]
    secrets = k8s.core.list_namespaced_secret(ns, label_selector=f"owner=helm,name={name}").items \
        if k8s.get(k8s.core.read_namespace, ns) is not None else []
    revisions = []
    for s in secrets:
        m = re.fullmatch(rf"sh\.helm\.release\.v1\.{re.escape(name)}\.v(\d{{1,6}})", s.metadata.name or "")
        if m and s.type == RELEASE_TYPE:
            revisions.append((int(m.group(1)), s))
    if not revisions:
        elsewhere = [f"{s.metadata.namespace}" for s in k8s.core.list_secret_for_all_namespaces(
            label_selector=f"owner=helm,name={name}").items]
        where = f" (there is one in {show(sorted(set(elsewhere)))})" if elsewhere else ""
        raise AssertionError(f"Helm release {ns}/{name} not found{where}; expected it installed in {ns}")
    _, secret = max(revisions, key=lambda r: r[0])
    blob = (secret.data or {}).get("release")
    try:
        text = base64.b64decode(blob or "", validate=True)
        return _decode(text)
    except (binascii.Error, ValueError):
        raise AssertionError(f"Secret {ns}/{secret.metadata.name} is not base64 data") from None
    except AssertionError as exc:
        raise AssertionError(f"Secret {ns}/{secret.metadata.name} {exc}; expected a release Helm wrote") \
            from None


@pytest.mark.points(2)
def test_release_deployed(k8s, params):
    """Helm release <release> of chart webapp is deployed in the namespace"""
    ns, name = params["namespace"], params["release"]
    rel = _release(k8s, params)
    info = rel.get("info") if isinstance(rel.get("info"), dict) else {}
    chart = rel.get("chart") if isinstance(rel.get("chart"), dict) else {}
    meta = chart.get("metadata") if isinstance(chart.get("metadata"), dict) else {}
    found = (rel.get("name"), rel.get("namespace"), meta.get("name"), info.get("status"))
    assert found == (name, ns, "webapp", "deployed"), (
        f"Helm release {ns}/{name} records release {show(found[0])} in {show(found[1])} of chart "
        f"{show(found[2])}, status {show(found[3])}; expected {name} in {ns} of chart webapp, deployed")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


@pytest.mark.points(2)
def test_release_values(k8s, params):
    """The release was given replicaCount and image.tag, every other value left at the chart's default"""
    ns, name = params["namespace"], params["release"]
    rel = _release(k8s, params)
    config = _dict(rel.get("config"))
    defaults = _dict(_dict(rel.get("chart")).get("values"))
    image, default_image = _dict(config.get("image")), _dict(defaults.get("image"))
    tag = image.get("tag")  # --set image.tag=1.27 gives the number 1.27, which renders alike
    found = {"replicaCount": config.get("replicaCount"),
             "image.tag": str(tag) if isinstance(tag, (str, float)) else tag}
    want = {"replicaCount": int(params["replicas"]), "image.tag": params["tag"]}
    assert found == want, f"Helm release {ns}/{name} was given {show(found)}; expected {show(want)}"
    others = [k for k in config if k not in ("replicaCount", "image") and config[k] != defaults.get(k)]
    others += [f"image.{k}" for k in image if k != "tag" and image[k] != default_image.get(k)]
    assert not others, (f"Helm release {ns}/{name} was also given other values for {show(sorted(others))}; "
                        "expected the chart's defaults")


@pytest.mark.points(2)
def test_objects(k8s, params):
    """Deployment <release>-webapp, made by the release, runs the replicas of nginx:<tag>"""
    ns, name = params["namespace"], params["release"]
    dep = must_get(k8s.apps.read_namespaced_deployment, f"{name}-webapp", ns)
    notes = dep.metadata.annotations or {}
    owner = (notes.get("meta.helm.sh/release-name"), notes.get("meta.helm.sh/release-namespace"))
    assert owner == (name, ns), (f"Deployment {ns}/{name}-webapp belongs to Helm release "
                                 f"{show(owner[1])}/{show(owner[0])}; expected {ns}/{name}")
    c = must_container(dep, "web")
    assert same_image(c.image, f"nginx:{params['tag']}"), (
        f"Deployment {ns}/{name}-webapp runs {show(c.image)}; expected nginx:{params['tag']}")
    must_be_ready(dep, replicas=int(params["replicas"]))
