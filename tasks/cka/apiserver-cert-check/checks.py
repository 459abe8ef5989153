"""Checks for apiserver-cert-check: the expiry written down, the certificate renewed and served.

Every file here is the candidate's (the answer, and on controlplane, as root,
the certificate itself), so each is held against setup's record in
kube-system: the serial of the short-lived certificate setup issued, its
names, and a hash of its expiry date (the date itself would give the answer
away to anyone who reads the record).
"""

import datetime
import hashlib
import re

import pytest

from grader.checks import eventually, must_get, show

CRT = "/etc/kubernetes/pki/apiserver.crt"
CA = "/etc/kubernetes/pki/ca.crt"
ANSWER = "apiserver-expiry.txt"
RECORD = "apiserver-cert-check-original"
# kubeadm's default certificateValidityPeriod is a year; leave room for a
# renewal done a while ago and for clock differences.
MIN_DAYS = 300


def _record(k8s) -> dict:
    rec = must_get(k8s.core.read_namespaced_config_map, RECORD, "kube-system",
                   expected="it untouched: setup recorded there the certificate it issued")
    data = rec.data or {}
    missing = [k for k in ("serial", "sans", "expiry-sha256") if not data.get(k)]
    assert not missing, (f"ConfigMap kube-system/{RECORD} lacks {', '.join(missing)}; "
                         "expected setup's record untouched")
    return data


def _on_disk(host) -> dict:
    """serial, notAfter and SANs of the certificate file on controlplane."""
    assert host.file(CRT).exists, f"{CRT} does not exist on controlplane; expected the API server's certificate"
    res = host.run(f"openssl x509 -in {CRT} -noout -serial -enddate -ext subjectAltName")
    assert res.rc == 0, f"{CRT} on controlplane is not a certificate openssl can read; expected a PEM certificate"
    out = res.stdout
    serial = re.search(r"^serial=(\S+)", out, re.M)
    end = re.search(r"^notAfter=(.+)$", out, re.M)
    sans = re.search(r"Subject Alternative Name:\s*\n\s*(.+)$", out, re.M)
    return {"serial": serial.group(1) if serial else None,
            "end": end.group(1).strip() if end else None,
            "sans": sans.group(1).replace(" ", "") if sans else ""}


def _served_serial(host) -> str:
    out = host.run("echo | openssl s_client -connect 127.0.0.1:6443 2>/dev/null "
                   "| openssl x509 -noout -serial").stdout.strip()
    return out.removeprefix("serial=") or "nothing"


def test_expiry_written(k8s, answers):
    """/opt/answers/apiserver-expiry.txt holds the certificate's expiry date from before the renewal"""
    want = _record(k8s)["expiry-sha256"]
    f = answers / ANSWER
    assert f.exists(), f"/opt/answers/{ANSWER} does not exist; expected the expiry date in it"
    lines = f.lines()
    assert len(lines) == 1 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", lines[0]), (
        f"/opt/answers/{ANSWER} has {show(lines) if lines else 'nothing'}; expected one line "
        "with a date in the form YYYY-MM-DD")
    assert hashlib.sha256(lines[0].encode()).hexdigest() == want, (
        f"/opt/answers/{ANSWER} has {show(lines[0])}; expected the expiry date (UTC) the API "
        "server's certificate had before it was renewed")


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_certificate_renewed(k8s, nodes):
    """apiserver.crt on controlplane is renewed: new, valid for a year, from the cluster CA, same names"""
    rec = _record(k8s)
    host = nodes["controlplane"]
    crt = _on_disk(host)
    assert crt["serial"] and crt["serial"] != rec["serial"], (
        f"{CRT} on controlplane is still the certificate with serial {rec['serial']}; "
        "expected it renewed")
    try:
        end = datetime.datetime.strptime(crt["end"] or "", "%b %d %H:%M:%S %Y GMT").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        pytest.fail(f"{CRT} on controlplane has expiry {show(crt['end'])}, which openssl "
                    "did not print as a date; expected a valid certificate")
    left = (end - datetime.datetime.now(datetime.timezone.utc)).days
    assert left >= MIN_DAYS, (
        f"{CRT} on controlplane expires in {left} days ({end:%Y-%m-%d}); expected it renewed "
        "for kubeadm's default period, a year")
    verify = host.run(f"openssl verify -CAfile {CA} {CRT}")
    assert verify.rc == 0, (f"{CRT} on controlplane is not signed by the cluster CA ({CA}); "
                            "expected a certificate issued by kubeadm from it")
    assert crt["sans"] == rec["sans"], (
        f"{CRT} on controlplane has names {show(crt['sans'])}; expected the same SANs as before, "
        f"{rec['sans']}")


@pytest.mark.timeout(20)
def test_apiserver_serves_renewed(k8s, nodes):
    """The API server serves the renewed certificate"""
    rec = _record(k8s)
    host = nodes["controlplane"]

    def served():
        on_disk = _on_disk(host)["serial"]
        found = _served_serial(host)
        assert found != rec["serial"], (
            f"the API server on controlplane:6443 still serves the old certificate (serial "
            f"{rec['serial']}); expected the renewed one")
        assert found == on_disk, (
            f"the API server on controlplane:6443 serves serial {show(found)} while {CRT} has "
            f"{show(on_disk)}; expected it to serve the renewed certificate file")
    eventually(served, timeout=10)
