"""Several terminal tabs on one jail (web/terminal/shells.py, jail.py): real
jails on a real kwok sandbox, driven through their ptys as the browser does."""

from __future__ import annotations

import os
import time

import pytest

from tests.terminal.test_jail_tools import Screen
from web.terminal.shells import MAX_TABS, ShellManager

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]


@pytest.fixture
def manager(kwok, tmp_path):
    sb = kwok.create("tabs", nodes=1)
    from web.terminal.jail import JailSpec
    spec = lambda: JailSpec(attempt=41, workspace=sb.workspace,  # noqa: E731
                            kubeconfig=sb.kubeconfig, prefix="tabtest-")
    m = ShellManager(tmp_path / "jails", prefix="tabtest-")
    m.open = lambda tab: m.get_or_start(41, spec, None, tab)  # noqa: E731
    yield m
    m.stop(41)
    kwok.destroy("tabs")


def wait_for(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.05)


def test_tabs_share_one_jail_and_each_keeps_its_own_screen(manager):
    one, two = manager.open(0), manager.open(1)
    assert manager.tabs(41) == [0, 1]
    a, b = Screen(one), Screen(two)
    # one jail: the same uid, files in the private /tmp, processes and cluster
    a.run("echo shared > /tmp/from-tab-1; sleep 300 & true")
    out = b.run("id -u; cat /tmp/from-tab-1; pgrep -c -x sleep; kubectl get ns default -o name")
    assert out.split() [-4:] == [str(one.jail.spec.uid), "shared", "2", "namespace/default"], out
    assert one.jail is two.jail
    # each tab's own screen comes back on attach, without the other's output
    b.run("echo ONLY-IN-TAB-$((1+1))")
    picture, _ = two.attach()
    assert b"ONLY-IN-TAB-2" in picture
    picture, _ = one.attach()
    assert b"ONLY-IN-TAB-2" not in picture and b"from-tab-1" in picture


def test_closing_or_exiting_a_tab_leaves_the_others_and_the_limit_holds(manager):
    first = manager.open(0)
    second, third = manager.open(1), manager.open(2)
    manager.close_tab(41, 1)
    assert not second.alive and manager.tabs(41) == [0, 2]
    Screen(third).shell.write(b"exit\r")
    wait_for(lambda: not third.alive, "exit in a tab ends its shell")
    wait_for(lambda: manager.tabs(41) == [0], "the reaper forgets the exited tab")
    assert "ok" in Screen(first).run("echo ok")
    with pytest.raises(ValueError):
        manager.open(MAX_TABS)
    # a tab reopened later enters the same jail again
    again = manager.open(1)
    assert again.jail is first.jail and "ok" in Screen(again).run("echo ok")


def test_vim_in_a_tab_then_attach_types_nothing_into_the_shell(manager):
    shell = manager.open(0)
    s = Screen(shell)
    s.run("printf 'x: 1\\n' > f.yaml")
    shell.write(b"vim f.yaml\r")
    s.expect("All")  # vim's ruler: it is up
    shell.write(b":wq\r")
    s.expect("\x1b[?1049l")  # vim has left the screen
    s.expect("$ ")          # and bash reads again
    picture, q = shell.attach()  # a task switch: a new browser terminal attaches
    for query in (b"\x1b[6n", b"\x1b[c", b"\x1b[>c", b"\x1b]1", b"\x1bP"):
        assert query not in picture, f"{query!r} replayed to the browser"
    shell.write(b"echo CLEAN-$((6*7))\r")
    seen = b""
    while b"CLEAN-42\r\n" not in seen:
        data = q.get(timeout=20)
        assert data is not None
        seen += data
    assert seen.count(b"echo CLEAN-$((6*7))") == 1 and b"rgb:" not in seen
