"""grader.ingress: where an Ingress sends a request, on the client's own
objects (as a check reads them), with every rule of its docstring."""

from __future__ import annotations

from kubernetes.client import (V1HTTPIngressPath, V1HTTPIngressRuleValue, V1Ingress,
                               V1IngressBackend, V1IngressRule, V1IngressServiceBackend,
                               V1IngressSpec, V1ServiceBackendPort, V1ServicePort, V1ServiceSpec,
                               V1Service)

from grader.ingress import host_matches, route, target, target_text


def _backend(svc, port):
    p = V1ServiceBackendPort(number=port) if isinstance(port, int) else V1ServiceBackendPort(name=port)
    return V1IngressBackend(service=V1IngressServiceBackend(name=svc, port=p))


def _rule(host, *paths):
    return V1IngressRule(host=host, http=V1HTTPIngressRuleValue(paths=[
        V1HTTPIngressPath(path=p, path_type=t, backend=_backend(s, n)) for p, t, s, n in paths]))


def _ing(*rules, default=None):
    return V1Ingress(spec=V1IngressSpec(rules=list(rules), default_backend=default))


def _svc(route_to):
    return route_to.service.name if route_to else None


def test_longest_prefix_by_whole_elements():
    ing = _ing(_rule("shop.test", ("/", "Prefix", "web", 80), ("/api", "Prefix", "api", 8080)))
    assert _svc(route(ing, "shop.test", "/api/v1")) == "api"
    assert _svc(route(ing, "shop.test", "/api")) == "api"
    assert _svc(route(ing, "shop.test", "/apix")) == "web"


def test_exact_wins_over_prefix_of_the_same_length_and_matches_only_itself():
    ing = _ing(_rule("a.test", ("/v1", "Prefix", "old", 80), ("/v1", "Exact", "new", 80)))
    assert _svc(route(ing, "a.test", "/v1")) == "new"
    assert _svc(route(ing, "a.test", "/v1/x")) == "old"


def test_exact_host_then_wildcard_then_no_host_then_default_backend():
    ing = _ing(_rule("a.test", ("/", "Prefix", "exact", 80)),
               _rule("*.test", ("/", "Prefix", "wild", 80)),
               _rule(None, ("/only", "Prefix", "hostless", 80)),
               default=_backend("fallback", 80))
    assert _svc(route(ing, "a.test", "/only")) == "exact"
    assert _svc(route(ing, "b.test", "/")) == "wild"
    assert _svc(route(ing, "x.b.test", "/only")) == "hostless"   # a wildcard is one label
    assert _svc(route(ing, "other.example", "/elsewhere")) == "fallback"
    assert not host_matches("*.test", "test")


def test_no_spec_and_broken_rules_route_nowhere():
    assert route(V1Ingress(), "a.test", "/") is None
    assert route(_ing(V1IngressRule(host="a.test", http=None)), "a.test", "/") is None
    assert target(None, "ns", None) is None
    assert target_text(None).startswith("no backend")


class _K8s:
    """Only what ``target`` reads: a Service by name."""

    def __init__(self, ports):
        self.core = self
        self.svc = V1Service(spec=V1ServiceSpec(ports=ports))

    def read_namespaced_service(self, name, ns):
        return self.svc

    def get(self, fn, *args):
        return fn(*args)


def test_a_port_by_name_is_the_services_port_number():
    k8s = _K8s([V1ServicePort(name="http", port=80), V1ServicePort(name="metrics", port=9113)])
    assert target(k8s, "ns", _backend("web", "http")) == ("web", 80)
    assert target(k8s, "ns", _backend("web", 80)) == ("web", 80)
    assert target(k8s, "ns", _backend("web", "grpc")) == ("web", "grpc")
    assert "no such port" in target_text(("web", "grpc"))
