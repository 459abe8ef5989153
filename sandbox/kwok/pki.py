"""A kwok sandbox's credentials, made before anything of it starts.

``make_etcd``: its etcd's, a CA of its own and certificates signed by it,
laid out as kubeadm lays out /etc/kubernetes/pki.

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

``make_api``: the cluster's own, in kwokctl's layout (``ca.crt``, ``ca.key``,
``admin.crt``, ``admin.key`` in ``kwok/clusters/<name>/pki``), which kwokctl
then uses as it finds them instead of making its own: the API server serves
with the admin pair, trusts the CA for clients, and signs ServiceAccount
tokens with the admin key; every component and the candidate's kubeconfig
authenticate with the admin pair (``system:masters``). kwokctl makes RSA
2048 keys, about 0.35 s of a create that waits for nothing else.

Keys are ECDSA P-256: a folder takes a few milliseconds to make.

    >>> pki = make_etcd(Path("/tmp/x/pki"))                  # doctest: +SKIP
    >>> pki.ca, pki.client_cert                               # doctest: +SKIP
    >>> make_api(Path("/tmp/x/cluster/pki"), ["10.96.0.1"])   # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil
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
# The API server's names beyond those, as kwokctl gives them (pki.DefaultAltNames,
# without the names of kwok's own test webhooks), and its user and group.
API_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local")
ADMIN_USER, ADMIN_GROUP = "kwok-admin", "system:masters"


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


BOTH = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
CLIENT = [ExtendedKeyUsageOID.CLIENT_AUTH]


def make_etcd(folder: Path) -> EtcdPki:
    """Make a fresh CA and every certificate in ``folder`` (replacing what
    was there), readable by its owner only. Returns their paths. The CA's
    key is not written."""
    pki = EtcdPki(folder)
    _fresh(folder, "etcd")
    ca = _Ca("etcd-ca")
    _write(pki.ca, ca.cert_pem)
    ca.issue(pki.server_cert, pki.server_key, "controlplane", BOTH, SERVER_NAMES)
    ca.issue(pki.client_cert, pki.client_key, "kube-etcd-healthcheck-client", CLIENT)
    ca.issue(pki.apiserver_cert, pki.apiserver_key, "kube-apiserver-etcd-client", CLIENT,
             org=ADMIN_GROUP)
    return pki


def make_api(folder: Path, extra_names: Iterable[str] = ()) -> None:
    """Make the cluster's CA and admin pair in kwokctl's layout in ``folder``
    (replacing what was there), readable by its owner only. The admin
    certificate serves the API for ``API_NAMES``, loopback, this host's
    addresses and ``extra_names`` (addresses or DNS names)."""
    _fresh(folder)
    ca = _Ca("kwok-ca")
    _write(folder / "ca.crt", ca.cert_pem)
    _write(folder / "ca.key", _key_pem(ca.key))
    names = [*SERVER_NAMES, *(_san(n) for n in (*API_NAMES, *_host_addresses(), *extra_names))]
    ca.issue(folder / "admin.crt", folder / "admin.key", ADMIN_USER, BOTH,
             list(dict.fromkeys(names)), org=ADMIN_GROUP)


class _Ca:
    """A fresh CA whose key lives in memory; ``issue`` writes a pair it signs."""

    def __init__(self, common_name: str):
        self.now = datetime.datetime.now(datetime.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(common_name)
        self.cert_pem = (
            _builder(self.name, self.name, self.key.public_key(), self.now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))

    def issue(self, cert: Path, key: Path, common_name: str, usages, names=(),
              org: str = "") -> None:
        own = ec.generate_private_key(ec.SECP256R1())
        builder = (_builder(_name(common_name, org), self.name, own.public_key(), self.now)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_usage(), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(names)),
                                            critical=False)
        _write(cert, builder.sign(self.key, hashes.SHA256()).public_bytes(
            serialization.Encoding.PEM))
        _write(key, _key_pem(own))


def _fresh(folder: Path, *subfolders: str) -> None:
    """``folder`` (and its ``subfolders``) new and empty, its owner's only."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, mode=0o700)
    os.chmod(folder, 0o700)  # whatever the umask
    for sub in subfolders:
        os.makedirs(folder / sub, mode=0o700)


def _key_pem(key) -> bytes:
    """SEC 1 (``EC PRIVATE KEY``), as kubeadm writes it: the API server reads
    the ServiceAccount key from the admin key and refuses PKCS #8."""
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _host_addresses() -> list[str]:
    """This host's addresses on interfaces that are up, as kwokctl adds them."""
    up = {name for name, stats in psutil.net_if_stats().items() if stats.isup}
    return [a.address.split("%")[0] for name, addrs in psutil.net_if_addrs().items()
            if name in up for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)]


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
