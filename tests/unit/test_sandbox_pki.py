"""sandbox.kwok.pki: the credentials a kwok sandbox starts with."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox.kwok import pki


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def _names(cert) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in san}


def test_api_pair_is_signed_by_its_ca_and_names_the_api_server(tmp_path):
    folder = tmp_path / "pki"
    pki.make_api(folder, ["10.96.0.1", "api.example"])
    ca, admin = _cert(folder / "ca.crt"), _cert(folder / "admin.crt")
    admin.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    subject = {a.oid._name: a.value for a in admin.subject}
    assert subject == {"commonName": pki.ADMIN_USER, "organizationName": pki.ADMIN_GROUP}
    names = _names(admin)
    assert {"127.0.0.1", "::1", "localhost", "kubernetes.default.svc", "10.96.0.1",
            "api.example"} <= names
    key = (folder / "admin.key").read_bytes()
    assert key.startswith(b"-----BEGIN EC PRIVATE KEY-----"), "the API server refuses PKCS #8"
    assert (folder / "ca.key").exists()
    for f in [folder, *folder.iterdir()]:
        assert f.stat().st_mode & 0o077 == 0, f"{f} is open to others"


def test_api_pair_is_fresh_each_time(tmp_path):
    pki.make_api(tmp_path / "a")
    pki.make_api(tmp_path / "b")
    with pytest.raises(Exception):
        _cert(tmp_path / "b" / "admin.crt").verify_directly_issued_by(_cert(tmp_path / "a" / "ca.crt"))


def test_etcd_ca_key_is_never_written(tmp_path):
    made = pki.make_etcd(tmp_path / "pki")
    keys = [f for f in made.files() if f.suffix == ".key"]
    assert {str(k) for k in keys} == {"etcd/server.key", "etcd/healthcheck-client.key",
                                      "apiserver-etcd-client.key"}
    for rel in (made.server_cert, made.client_cert, made.apiserver_cert):
        _cert(rel).verify_directly_issued_by(_cert(made.ca))
    assert isinstance(_cert(made.ca).public_key(), ec.EllipticCurvePublicKey)
