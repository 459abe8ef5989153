"""Checks for kustomize-configmap-generator: the kustomization file (a
generator and an image override, the given manifests untouched) and what it
made: a ConfigMap whose name carries Kustomize's hash of its very content,
referenced everywhere the Deployment named ``catalog-config``, the new image
rolled out, the Service in the namespace.

The hash is recomputed here as Kustomize computes it (sigs.k8s.io/kustomize/api
hasher: sha256 of the JSON of kind, an empty name and data, first ten hex
digits with 0 1 3 a e replaced): a ConfigMap made by hand with a suffix, or
edited after it was generated, does not carry its own hash.
"""

import hashlib
import json
import re

import pytest
import yaml

from grader.checks import must_be_ready, must_container, must_get, same_image, show

DIR = "catalog"
GENERATED = re.compile(r"catalog-config-[a-z0-9]{10}\Z")
APP_PROPERTIES = ("catalog.page-size=20\ncatalog.currency=EUR\n"
                  "search.url=http://search:9200/products?fuzzy=true&limit=50\n")
ORIGINAL = {  # sha256 of the files setup wrote, which the candidate must leave as they are
    "deployment.yaml": "7f2b74b4e60594aa0d8b9c32ebacb8d29fbd8fed49999c9c609cf3e76de6e8f5",
    "service.yaml": "55dd97388e0bda6f99963aa601028b71292c88c4268d32fd1572babda8f58788",
    "app.properties": "a2b04b715e72f01f0d486473428da532175cef22e483c5edd7e8f719583670ef",
}
_HASH_LETTERS = str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"})


def kustomize_hash(data: dict, binary: dict | None = None) -> str:
    """The suffix Kustomize gives a generated ConfigMap with this content."""
    body = {"data": data, "kind": "ConfigMap", "name": ""}
    if binary:
        body["binaryData"] = binary
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return hashlib.sha256(text.encode()).hexdigest()[:10].translate(_HASH_LETTERS)


def _kustomization(answers) -> dict:
    f = answers / f"{DIR}/kustomization.yaml"
    assert f.exists(), f"/opt/answers/{DIR}/kustomization.yaml does not exist; expected the kustomization"
    try:
        doc = yaml.safe_load(f.read_text())
    except yaml.YAMLError as exc:
        raise AssertionError(f"/opt/answers/{DIR}/kustomization.yaml is not valid YAML "
                             f"({show(str(exc).splitlines()[0])}); expected a kustomization") from None
    assert isinstance(doc, dict), f"/opt/answers/{DIR}/kustomization.yaml holds no mapping; expected a kustomization"
    return doc


def _items(doc, key) -> list[dict]:
    value = doc.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _deployment(k8s, ns):
    return must_get(k8s.apps.read_namespaced_deployment, "catalog", ns)


def _config_names(dep) -> set:
    """Every ConfigMap name the Deployment's Pods refer to (envFrom, env, volumes)."""
    spec = dep.spec.template.spec
    names = {v.config_map.name for v in spec.volumes or [] if v.config_map is not None}
    for c in spec.containers or []:
        names |= {e.config_map_ref.name for e in c.env_from or [] if e.config_map_ref is not None}
        names |= {e.value_from.config_map_key_ref.name for e in c.env or []
                  if e.value_from is not None and e.value_from.config_map_key_ref is not None}
    return names


@pytest.mark.points(2)
def test_kustomization_generates_and_overrides(answers, params):
    """kustomization.yaml sets the namespace, generates catalog-config and overrides the nginx tag; the given files are untouched"""
    doc = _kustomization(answers)
    where = f"/opt/answers/{DIR}/kustomization.yaml"
    gens = [g for g in _items(doc, "configMapGenerator") if g.get("name") == "catalog-config"]
    assert gens, (f"{where} has no configMapGenerator entry named catalog-config; "
                  "expected the ConfigMap to be generated")
    images = [i for i in _items(doc, "images") if i.get("name") == "nginx"]
    assert images and str(images[0].get("newTag")) == params["tag"], (
        f"{where} has images {show(doc.get('images'))}; expected an override of nginx with newTag {params['tag']}")
    options = doc.get("generatorOptions")
    no_hash = [g for g in gens if isinstance(g.get("options"), dict) and g["options"].get("disableNameSuffixHash")]
    assert not no_hash and not (isinstance(options, dict) and options.get("disableNameSuffixHash")), (
        f"{where} disables the name suffix hash; expected the generated name to carry it")
    assert doc.get("namespace") == params["namespace"], (
        f"{where} has namespace {show(doc.get('namespace'))}; expected {params['namespace']}")
    for name, digest in ORIGINAL.items():  # the kustomization makes the changes, not edits
        f = answers / f"{DIR}/{name}"
        assert f.exists(), f"/opt/answers/{DIR}/{name} does not exist; expected it as given"
        assert hashlib.sha256(f.read_bytes()).hexdigest() == digest, (
            f"/opt/answers/{DIR}/{name} was changed; expected it as given (the kustomization makes the changes)")


@pytest.mark.points(3)
def test_deployment_uses_generated_configmap(k8s, params):
    """Deployment catalog refers only to the generated ConfigMap, which holds app.properties and LOG_LEVEL"""
    ns = params["namespace"]
    dep = _deployment(k8s, ns)
    names = _config_names(dep)
    assert names and all(GENERATED.match(n or "") for n in names) and len(names) == 1, (
        f"Deployment {ns}/catalog refers to ConfigMap(s) {show(sorted(n or '' for n in names))}; "
        "expected only the generated catalog-config-<hash>")
    name = names.pop()
    cm = must_get(k8s.core.read_namespaced_config_map, name, ns)
    data = cm.data or {}
    want = {"app.properties": APP_PROPERTIES, "LOG_LEVEL": params["level"]}
    assert data == want, (f"ConfigMap {ns}/{name} has keys {show(sorted(data))} with LOG_LEVEL "
                          f"{show(data.get('LOG_LEVEL'))}; expected app.properties as the file and "
                          f"LOG_LEVEL {params['level']}, nothing else")
    digest = kustomize_hash(data, cm.binary_data)
    assert name.endswith("-" + digest), (
        f"ConfigMap {ns}/{name} does not carry the hash of its content ({digest}); expected it "
        "generated by Kustomize and not changed since")


@pytest.mark.points(2)
def test_image_rolled_out(k8s, params):
    """Deployment catalog runs nginx with the new tag, rolled out, behind Service catalog"""
    ns, image = params["namespace"], f"nginx:{params['tag']}"
    dep = _deployment(k8s, ns)
    web = must_container(dep, "web")
    assert same_image(web.image, image), (
        f"Deployment {ns}/catalog runs image {show(web.image)}; expected {image}")
    must_be_ready(dep, replicas=2)
    must_get(k8s.core.read_namespaced_service, "catalog", ns)
