"""Checks for helm-install-component: the release as Helm records it (the
newest ``helm.sh/release.v1`` Secret of the release, read by grader.helm as
hostile data) and the objects it made.
"""

import pytest

from grader.checks import must_be_ready, must_container, must_get, same_image, show
from grader.helm import latest


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


@pytest.mark.points(2)
def test_release_deployed(k8s, params):
    """Helm release <release> of chart webapp is deployed in the namespace"""
    ns, name = params["namespace"], params["release"]
    rel = latest(k8s, ns, name)
    found = (rel.name, rel.namespace, rel.chart, rel.status)
    assert found == (name, ns, "webapp", "deployed"), (
        f"Helm release {ns}/{name} records release {show(found[0])} in {show(found[1])} of chart "
        f"{show(found[2])}, status {show(found[3])}; expected {name} in {ns} of chart webapp, deployed")


@pytest.mark.points(2)
def test_release_values(k8s, params):
    """The release was given replicaCount and image.tag, every other value left at the chart's default"""
    ns, name = params["namespace"], params["release"]
    rel = latest(k8s, ns, name)
    config, defaults = rel.given, rel.defaults
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
