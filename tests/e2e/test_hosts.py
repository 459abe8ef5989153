"""Two tasks on two hosts, each on a cluster of its own, in a real browser:
the terminal opens on the base host, where kubectl has no cluster; the
candidate takes each task's `ssh` line from its page, solves the task on
that host, exits back to the base host, and "Check my work" passes both;
the second host does not see what was done on the first."""

from __future__ import annotations

import re

import pytest

from .e2e_portal import (ARTIFACTS, SCREEN, check_my_work, log_in, run_portal, start_practice,
                         terminal_ready, wait_screen)

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


@pytest.fixture(scope="module")
def hosts_portal(tmp_path_factory):
    # No warm pool: one cold practice attempt on a shared machine.
    with run_portal(tmp_path_factory.mktemp("hosts-portal"), "hosts-portal.log",
                    PROCTOR_POOL_SIZE="0") as p:
        yield p


def host_of(page) -> str:
    line = page.inner_text("#task-host")
    return re.search(r"ssh (\S+)", line).group(1)


def type_line(page, text: str) -> None:
    page.click("#terminal")
    page.keyboard.type(text + "\n")


def test_two_tasks_solved_on_their_own_hosts(hosts_portal, browser_page):
    page = browser_page
    log_in(page, hosts_portal, "candidate")
    attempt_url = start_practice(page, hosts_portal, "ckad-hosts", timeout=600_000)

    # task 1: the Service selector, on its host
    page.goto(attempt_url + "/tasks/1")
    terminal_ready(page)
    host1 = host_of(page)
    statement = page.inner_text("article.markdown")
    namespace = re.search(r"In namespace (\S+) the Deployment", statement).group(1)
    # the base host has no cluster
    type_line(page, "kubectl get ns kube-system 2>&1 | tail -1; echo BASE-$((1+1))")
    wait_screen(page, "BASE-2")
    assert "kube-system   Active" not in page.evaluate(SCREEN)
    # the ssh line is one click to copy, like every name in the statement
    assert page.get_attribute("#task-host code", "class") == "copyable"
    type_line(page, f"ssh {host1}")
    wait_screen(page, f"candidate@{host1}")
    type_line(page, f"""k -n {namespace} patch svc web -p '{{"spec":{{"selector":"""
                    f"""{{"app":"web","tier":"frontend"}}}}}}'""")
    wait_screen(page, "service/web patched")
    page.screenshot(path=str(ARTIFACTS / "hosts-task-1.png"))
    type_line(page, "exit")
    outcomes = check_my_work(page, timeout=90_000)
    assert outcomes and set(outcomes) == {"check-passed"}, page.inner_text("#check-result")

    # task 2: scaling, on the other host
    page.goto(attempt_url + "/tasks/2")
    terminal_ready(page)
    host2 = host_of(page)
    assert host2 != host1
    statement = page.inner_text("article.markdown")
    ns = re.search(r"In namespace (\S+),", statement).group(1)
    replicas = re.search(r"to (\d+) replicas", statement).group(1)
    type_line(page, f"ssh {host2}")
    wait_screen(page, f"candidate@{host2}")
    type_line(page, f"k -n {ns} scale deploy/api --replicas={replicas} && "
                    f"k -n {ns} scale sts/queue --replicas=1 && hostname")
    wait_screen(page, f"statefulset.apps/queue scaled\n{host2}")
    # another cluster: task 1's namespace is not here
    type_line(page, f"k get ns {namespace} 2>&1 | tail -1")
    wait_screen(page, f'namespaces "{namespace}" not found')
    outcomes = check_my_work(page, timeout=120_000)
    assert outcomes and set(outcomes) == {"check-passed"}, page.inner_text("#check-result")
    page.screenshot(path=str(ARTIFACTS / "hosts-task-2.png"))
