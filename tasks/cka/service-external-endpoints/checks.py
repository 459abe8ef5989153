"""Checks for service-external-endpoints: Service legacy-db has no selector and,
as its only endpoint, the database outside the cluster on a port named like
the Service's; Service mail is an ExternalName alias of the mail relay.

The endpoints are read from the EndpointSlices linked to the Service (label
kubernetes.io/service-name), which is where kube-proxy reads them: a slice
the candidate wrote and one the mirroring controller made from an Endpoints
object of the Service's name count alike.
"""

import pytest

from grader.checks import eventually, must_get, selector_text, show


def _slices(k8s, ns):
    return k8s.discovery.list_namespaced_endpoint_slice(
        ns, label_selector="kubernetes.io/service-name=legacy-db").items


def test_service_without_selector(k8s, params):
    """Service legacy-db is a ClusterIP Service without a selector, with one TCP port 5432 named postgres"""
    ns = params["namespace"]
    svc = must_get(k8s.core.read_namespaced_service, "legacy-db", ns)
    assert svc.spec.type == "ClusterIP", (f"Service {ns}/legacy-db has type {show(svc.spec.type)}; "
                                          "expected ClusterIP")
    assert not svc.spec.selector, (f"Service {ns}/legacy-db selects {selector_text(svc.spec.selector)}; "
                                   "expected no selector: its endpoints are managed by hand")
    ports = [(p.name, p.port, p.protocol) for p in svc.spec.ports or []]
    assert ports == [("postgres", 5432, "TCP")], (
        f"Service {ns}/legacy-db has ports {show([f'{n} {p}/{pr}' for n, p, pr in ports])}; "
        "expected one: postgres 5432/TCP")


@pytest.mark.points(2)
def test_endpoint_is_the_database(k8s, params):
    """Service legacy-db has exactly one ready endpoint, the database's address, on port postgres = the database's port"""
    ns, ip, port = params["namespace"], params["ip"], int(params["port"])

    def linked():  # the mirroring controller copies an Endpoints object a moment later
        found = k8s.endpoints("legacy-db", ns)
        assert found == [ip], (f"Service {ns}/legacy-db has ready endpoints {show(found) if found else 'none'}; "
                               f"expected exactly {ip}")
    eventually(linked, timeout=5)
    carrying = [s for s in _slices(k8s, ns)
                if any(ip in (e.addresses or []) for e in s.endpoints or [])]
    ports = sorted({(p.name or "", p.port, p.protocol or "TCP") for s in carrying for p in s.ports or []},
                   key=str)
    shown = [f"{n or '(no name)'} {p}/{pr}" for n, p, pr in ports]
    assert ports == [("postgres", port, "TCP")], (
        f"the endpoint {ip} of Service {ns}/legacy-db has ports {show(shown) if shown else 'none'}; "
        f"expected one named postgres: {port}/TCP")


def test_mail_external_name(k8s, params):
    """Service mail is of type ExternalName, an alias of the mail relay's DNS name"""
    ns, host = params["namespace"], params["mailhost"]
    svc = must_get(k8s.core.read_namespaced_service, "mail", ns)
    found = {"type": svc.spec.type, "externalName": (svc.spec.external_name or "").rstrip(".")}
    want = {"type": "ExternalName", "externalName": host}
    assert found == want, (f"Service {ns}/mail has type {show(found['type'])}, externalName "
                           f"{show(svc.spec.external_name)}; expected type ExternalName, externalName {host}")
