"""A kwok sandbox's etcd credentials: a CA of its own, and certificates
signed by it, laid out as kubeadm lays out /etc/kubernetes/pki.

A sandbox's etcd listens on the host's loopback, where every local process
can connect: another candidate's confined check, ``nobody``, anyone. So etcd
serves TLS only and asks every client, and every peer, for a certificate
signed by *this sandbox's* CA (``--client-cert-auth``,
``--peer-client-cert-auth``). The CA's key lives only in memory while the
sandbox is made and is never written: once these certificates are signed,
nothing can sign another, and a certificate of one sandbox opens no other
sandbox's etcd (a different CA, so the TLS handshake fails).

The folder (``sandboxes/<name>/pki``, mode 0700, root's) holds, in kubeadm's
names, so that the exam shell shows them where a kubeadm node has them::

    etcd/ca.crt                         the CA (its key is not kept)
    etcd/server.crt, etcd/server.key    etcd's serving and peer certificate; like
                                        kubeadm's it also authenticates a client,
                                        so the exam's usual ``etcdctl --cacert
                                        …/ca.crt --cert …/server.crt --key
                                        …/server.key`` works
    etcd/healthcheck-client.crt, .key   a client certificate (Proctor's task scripts)
    apiserver-etcd-client.crt, .key     the API server's client certificate

Who holds them: etcd and the API server (root, on the host), the candidate's
exam shell (a copy of the folder at /etc/kubernetes/pki), and a task
script's private room (a copy of the CA and the health-check client pair).

Keys are ECDSA P-256: the whole folder takes a few milliseconds to make.

    >>> pki = make(Path("/tmp/x/pki"))                       # doctest: +SKIP
    >>> pki.ca, pki.client_cert                               # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A sandbox lives for hours; the margin before covers a clock that is a little behind.
VALID_FOR = datetime.timedelta(days=365)
BACKDATE = datetime.timedelta(hours=1)
# What the certificates are valid for: the candidate and the scripts say
# https://127.0.0.1:2379, kubeadm's own endpoint, or localhost.
SERVER_NAMES = (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")))


@dataclass(frozen=True)
class EtcdPki:
    """The paths of one sandbox's etcd credentials (see the module's docstring)."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "etcd" / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.folder / "etcd" / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "etcd" / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.folder / "etcd" / "healthcheck-client.crt"

    @property
    def client_key(self) -> Path:
        return self.folder / "etcd" / "healthcheck-client.key"

    @property
    def apiserver_cert(self) -> Path:
        return self.folder / "apiserver-etcd-client.crt"

    @property
    def apiserver_key(self) -> Path:
        return self.folder / "apiserver-etcd-client.key"

    def files(self) -> list[Path]:
        """Every file of the folder, relative to it (what the exam shell gets)."""
        return sorted(p.relative_to(self.folder) for p in self.folder.rglob("*") if p.is_file())


def make(folder: Path) -> EtcdPki:
    """Make a fresh CA and every certificate in ``folder`` (replacing what
    was there), readable by its owner only. Returns their paths."""
    shutil.rmtree(folder, ignore_errors=True)
    pki = EtcdPki(folder)
    os.makedirs(folder / "etcd", mode=0o700)
    os.chmod(folder, 0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("etcd-ca")
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(cert_sign=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    _write(pki.ca, ca.public_bytes(serialization.Encoding.PEM))

    def issue(cert: Path, key: Path, common_name: str, usages, names=(), org: str = "") -> None:
        own = ec.generate_private_key(ec.SECP256R1())
        builder = (_builder(_name(common_name, org), ca_name, own.public_key(), now)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_usage(), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       ca_key.public_key()), critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(names)),
                                            critical=False)
        _write(cert, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        _write(key, own.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    client = [ExtendedKeyUsageOID.CLIENT_AUTH]
    issue(pki.server_cert, pki.server_key, "controlplane", both, SERVER_NAMES)
    issue(pki.client_cert, pki.client_key, "kube-etcd-healthcheck-client", client)
    issue(pki.apiserver_cert, pki.apiserver_key, "kube-apiserver-etcd-client", client,
          org="system:masters")
    return pki


def _name(common_name: str, org: str = "") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + VALID_FOR))


def _usage(cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=cert_sign, crl_sign=cert_sign, encipher_only=False,
                         decipher_only=False)


def _write(path: Path, data: bytes) -> None:
    """A new file of the owner's only (never through a link planted in its place)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
