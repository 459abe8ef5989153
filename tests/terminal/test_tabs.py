"""Several terminal tabs on one jail (web/terminal/shells.py, confinement/jail.py): real
jails on a real kwok sandbox, driven through their ptys as the browser does."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from tests.terminal.test_jail_tools import Screen
from tests.waiting import wait_for
from web.terminal.shells import MAX_TABS, ShellManager

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]


@pytest.fixture
def manager(kwok, tmp_path, jail_prefix):
    sb = kwok.create("tabs", nodes=1)
    from web.terminal import jail_spec
    spec = lambda: jail_spec(sb, 41, prefix=jail_prefix)  # noqa: E731
    m = ShellManager(tmp_path / "jails", prefix=jail_prefix)
    m.open = lambda tab: m.get_or_start(41, spec, None, tab)  # noqa: E731
    yield m
    m.stop(41)
    kwok.destroy("tabs")


@pytest.fixture
def busy_machine():
    """Every core busy twice over, as on a loaded host (CPU burners)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(2 * (os.cpu_count() or 2))]
    yield
    for p in burners:
        p.kill()
        p.wait()


def test_terminals_opened_on_a_busy_machine_all_live(manager, busy_machine):
    """Issue 17: the manager recorded the jail before its leader ran, and the
    reaper, seeing a jail that was not running, stopped it: on a busy host
    every new terminal ended at once. Four tabs are opened at once while both
    cores are busy; every one must come up and answer."""
    shells: dict[int, object] = {}
    errors: list[BaseException] = []

    def open_tab(tab: int) -> None:
        try:
            shells[tab] = manager.open(tab)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    openers = [threading.Thread(target=open_tab, args=(t,)) for t in range(MAX_TABS)]
    for t in openers:
        t.start()
    for t in openers:
        t.join()
    assert not errors, errors
    for tab, shell in sorted(shells.items()):
        screen = Screen(shell)
        screen.expect("candidate@exam", timeout=180)
        assert f"ALIVE-{tab}" in screen.run(f"echo ALIVE-$((0+{tab}))", timeout=180)
    assert all(shell.alive for shell in shells.values())
    assert manager.tabs(41) == list(range(MAX_TABS))


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
    wait_for("exit in a tab ends its shell", lambda: not third.alive)
    wait_for("the reaper forgets the exited tab", lambda: manager.tabs(41) == [0])
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
