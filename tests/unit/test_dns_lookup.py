"""grader.dns reads busybox nslookup's output as a check sees it."""

from grader.dns import addresses, why_not

ANSWERED = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

Name:\tweb.shop.svc.cluster.local
Address: 10.96.44.3
"""
REFUSED = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

** server can't find ldap.intranet.test: NXDOMAIN
"""


def test_the_answer_not_the_server():
    assert addresses(ANSWERED) == ["10.96.44.3"]
    assert why_not(ANSWERED) == "no answer"


def test_no_answer_says_why():
    assert addresses(REFUSED) == []
    assert why_not(REFUSED) == "** server can't find ldap.intranet.test: NXDOMAIN"
    assert addresses(";; connection timed out; no servers could be reached\n") == []
    assert "timed out" in why_not(";; connection timed out; no servers could be reached\n")
