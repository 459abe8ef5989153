"""Checks for etcd-snapshot: the answer file is a complete etcd snapshot of this cluster.

An etcd snapshot is a bbolt database file followed by the SHA-256 of its
contents (what `etcdutl snapshot status` verifies). Keys are stored as plain
bytes, so the marker ConfigMap's key can be found in it. No etcd binary needed.
"""

import hashlib
import struct

import pytest

BOLT_MAGIC = 0xED0CDAED


def _data(answers):
    f = answers / "etcd-snapshot.db"
    assert f.exists(), "/opt/answers/etcd-snapshot.db does not exist; expected an etcd snapshot there"
    data = f.read_bytes()
    assert len(data) > 8192, f"/opt/answers/etcd-snapshot.db has {len(data)} bytes; expected an etcd database"
    return data


@pytest.mark.points(2)
def test_valid_snapshot(answers):
    """/opt/answers/etcd-snapshot.db is a complete, uncorrupted etcd snapshot"""
    data = _data(answers)
    # bbolt meta page: 16-byte page header, then magic (uint32) and version (uint32), little-endian
    magic, version = struct.unpack_from("<II", data, 16)
    assert magic == BOLT_MAGIC, (
        f"/opt/answers/etcd-snapshot.db starts with magic {magic:#x}; expected a bbolt database ({BOLT_MAGIC:#x})")
    body, digest = data[:-32], data[-32:]
    assert hashlib.sha256(body).digest() == digest, (
        "/opt/answers/etcd-snapshot.db has no valid integrity hash; expected a snapshot saved by "
        "etcdctl snapshot save (a copy of the data directory's db file is not a snapshot)")


@pytest.mark.points(2)
def test_contains_marker(params, answers):
    """The snapshot was taken from this cluster after the marker ConfigMap was created"""
    data = _data(answers)
    key = f"/registry/configmaps/default/{params['marker']}".encode()
    assert key in data, (f"the snapshot does not contain ConfigMap default/{params['marker']}; "
                         "expected a snapshot of this cluster taken now")
