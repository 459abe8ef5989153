"""Is the candidate's API whole? Asked once, before the checks run.

A candidate with cluster-admin can make parts of their own API fail: point
the APIService of a group at a Service that does not answer, or register one
that never becomes available. Checks that read those groups then error, and
an error scores zero (``grader.score``). The survey says *why* in plain words,
so the candidate reads "the API group apps/v1 was unavailable at grading
time" beside the failed checks, and the attempt is held for an instructor.

    >>> survey(k8s.api_client)                          # doctest: +SKIP
    ['the API group apps/v1 was unavailable at grading time (FailedDiscoveryCheck: …): checks that need it failed']
"""

from __future__ import annotations

TIMEOUT = 5.0


def _first_line(text: str, limit: int = 160) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return line[:limit] + ("…" if len(line) > limit else "")


def survey(api_client) -> list[str]:
    """Plain-language problems of the API behind ``api_client``; [] when whole."""
    from kubernetes import client

    try:
        client.CoreApi(api_client).get_api_versions(_request_timeout=TIMEOUT)
        client.ApisApi(api_client).get_api_versions(_request_timeout=TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure here is the finding
        return [f"the cluster's API could not be read at grading time ({_first_line(exc)}): "
                "checks that need it failed"]
    try:
        services = client.ApiregistrationV1Api(api_client).list_api_service(
            _request_timeout=TIMEOUT).items
    except Exception as exc:  # noqa: BLE001 - as above: the failure is the finding
        return [f"the cluster's API groups could not be listed at grading time "
                f"({_first_line(exc)}): checks may have failed for it"]
    problems = []
    for svc in sorted(services, key=lambda s: s.metadata.name):
        cond = next((c for c in (svc.status.conditions if svc.status else None) or []
                     if c.type == "Available"), None)
        if cond is not None and cond.status == "True":
            continue
        group = f"{svc.spec.group}/{svc.spec.version}" if svc.spec.group else svc.spec.version
        why = f"{cond.reason}: {_first_line(cond.message or '')}" if cond is not None else "no status"
        problems.append(f"the API group {_first_line(group, 80)} was unavailable at grading time "
                        f"({why.rstrip(': ')}): checks that need it failed")
    return problems
