"""Checks for crd-custom-resource: the Backup objects as the API server
stores them (after the CRD's schema defaulted them), read as hostile data."""

import pytest

from grader.checks import must_equal, must_get, show

GROUP, VERSION, PLURAL = "ops.proctor.dev", "v1", "backups"
HOURLY = {"schedule": "0 * * * *", "retentionDays": 2, "target": {"kind": "postgres", "name": "orders"}}


def _backup(k8s, ns, name, expected="it to exist"):
    return must_get(k8s.custom.get_namespaced_custom_object, group=GROUP, version=VERSION,
                    namespace=ns, plural=PLURAL, name=name, what="Backup", expected=expected)


def _spec(obj) -> dict:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    return spec if isinstance(spec, dict) else {}


def _elsewhere(k8s, name, ns) -> str:
    """Where else a Backup of that name is, for the message."""
    found = k8s.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    spaces = sorted({(i.get("metadata") or {}).get("namespace") for i in found.get("items") or []
                     if (i.get("metadata") or {}).get("name") == name} - {ns})
    return f" (there is one in {', '.join(show(s) for s in spaces)})" if spaces else ""


@pytest.mark.points(3)
def test_new_backup(k8s, params):
    """Backup <name> runs on the schedule, keeps its backups for the days, targets postgres orders"""
    ns, name = params["namespace"], params["name"]
    if k8s.get(k8s.custom.get_namespaced_custom_object, GROUP, VERSION, ns, PLURAL, name) is None:
        raise AssertionError(f"Backup {ns}/{name} not found{_elsewhere(k8s, name, ns)}; "
                             f"expected it in namespace {ns}")
    spec = _spec(_backup(k8s, ns, name))
    schedule = spec.get("schedule")
    found = {"schedule": " ".join(schedule.split()) if isinstance(schedule, str) else schedule,
             "retentionDays": spec.get("retentionDays"), "target": spec.get("target"),
             "suspend": spec.get("suspend") is True}
    must_equal(f"Backup {ns}/{name}", found,
               {"schedule": params["schedule"], "retentionDays": params["days"],
                "target": {"kind": "postgres", "name": "orders"}, "suspend": False})


@pytest.mark.points(2)
def test_hourly_suspended_and_otherwise_unchanged(k8s, params):
    """Backup hourly is suspended and keeps its schedule, retention and target"""
    ns = params["namespace"]
    spec = _spec(_backup(k8s, ns, "hourly", expected="it to still exist"))
    assert spec.get("suspend") is True, (
        f"Backup {ns}/hourly has suspend: {show(spec.get('suspend'))}; expected true")
    must_equal(f"Backup {ns}/hourly", spec, HOURLY)
