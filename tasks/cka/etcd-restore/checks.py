"""Checks for etcd-restore: a safety snapshot, then etcd restored from before.db.

etcd keeps keys and values as plain bytes in its bbolt file, so a snapshot
contains the key of every object it holds and each object's uid.
"""

import shlex

import pytest

from grader.checks import show

BACKUP = "/opt/backup/before.db"
SNAPSHOT = "/opt/backup/etcd-snapshot.db"


def _in_file(host, text: str, path: str) -> bool:
    return host.run(f"grep -qaF -- {shlex.quote(text)} {shlex.quote(path)}").rc == 0


@pytest.mark.timeout(20)
def test_snapshot_saved(nodes):
    """/opt/backup/etcd-snapshot.db on controlplane is a valid etcd snapshot"""
    host = nodes["controlplane"]
    assert host.file(SNAPSHOT).exists, (
        f"{SNAPSHOT} does not exist on controlplane; expected a snapshot of etcd there")
    res = host.run(f"etcdutl snapshot status {SNAPSHOT} -w json")
    err = (res.stderr.strip() or res.stdout.strip()).splitlines()
    assert res.rc == 0, (f"etcdutl snapshot status {SNAPSHOT} fails: "
                         f"{err[-1] if err else f'exit {res.rc}'}; expected a valid snapshot")


@pytest.mark.timeout(20)
def test_snapshot_before_restore(nodes, params):
    """The snapshot was taken after the incident and before the restore"""
    host = nodes["controlplane"]
    assert host.file(SNAPSHOT).exists, f"{SNAPSHOT} does not exist on controlplane"
    key = f"/registry/configmaps/{params['namespace']}/incident-report"
    assert _in_file(host, key, SNAPSHOT), (
        f"{SNAPSHOT} does not contain ConfigMap {params['namespace']}/incident-report; expected "
        "a snapshot of etcd as it was before the restore")


@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_configmap_restored(k8s, nodes, params):
    """ConfigMap important is served again, restored from the backup with its original data"""
    ns = params["namespace"]
    listed = {c.metadata.name: c for c in k8s.core.list_namespaced_config_map(ns).items}
    cm = listed.get("important")
    if cm is None:
        alone = k8s.get(k8s.core.read_namespaced_config_map, "important", ns)
        assert alone is None, (
            f"ConfigMap {ns}/important is in etcd but the API server does not list it (it lists "
            f"{show(sorted(listed)) if listed else 'nothing'}); expected the API server to serve the "
            "restored state")
        pytest.fail(f"ConfigMap {ns}/important not found; expected it restored from {BACKUP}")
    data = cm.data or {}
    assert data.get("revision") == str(params["revision"]), (
        f"ConfigMap {ns}/important has revision={show(data.get('revision'))}; "
        f"expected revision={params['revision']}, as in the backup")
    assert _in_file(nodes["controlplane"], cm.metadata.uid, BACKUP), (
        f"ConfigMap {ns}/important has uid {cm.metadata.uid}, which is not in {BACKUP}; "
        "expected the object restored from the backup, not created again")
