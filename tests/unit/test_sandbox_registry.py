"""The provider registry and the one-string sandbox form, without a cluster."""

from pathlib import Path

import pytest

import sandbox
from sandbox import (InvalidName, InvalidOption, Provider, Sandbox, SandboxError,
                     UnknownProvider, format_url, get_provider, node_names, parse_url, register)
from sandbox.base import check_name, check_nodes


def test_parse_url_gives_provider_name_and_options():
    assert parse_url("kwok://exam-42?nodes=3") == ("kwok", "exam-42", {"nodes": 3})
    assert parse_url("kwok://a") == ("kwok", "a", {})


@pytest.mark.parametrize("url, error, words", [
    ("exam-42", SandboxError, "provider://name"),
    ("nope://exam", UnknownProvider, "unknown sandbox provider 'nope'"),
    ("kwok://Exam_42", InvalidName, "'Exam_42' is invalid"),
    ("kwok://exam?nodes=0", InvalidOption, "between 1 and"),
    ("kwok://exam?nodes=three", InvalidOption, "whole number, got 'three'"),
])
def test_parse_url_rejects_with_a_message_naming_the_part(url, error, words):
    with pytest.raises(error) as exc:
        parse_url(url)
    assert words in str(exc.value)


def test_format_url_round_trips():
    url = format_url("kwok", "exam-42", nodes=3)
    assert url == "kwok://exam-42?nodes=3"
    assert parse_url(url) == ("kwok", "exam-42", {"nodes": 3})


@pytest.mark.parametrize("name", ["a", "exam-42", "x" * 40, "n0"])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "a_b", "1abc", "x" * 41, "a/b", "../x"])
def test_invalid_names(name):
    with pytest.raises(InvalidName):
        check_name(name)


def test_check_nodes_bounds():
    assert check_nodes("3") == 3
    for bad in (0, -1, 51, None):
        with pytest.raises(InvalidOption):
            check_nodes(bad)


def test_exam_style_node_names():
    assert node_names(1) == ["controlplane"]
    assert node_names(3) == ["controlplane", "node01", "node02"]
    assert node_names(12)[-1] == "node11"


def test_unknown_provider_lists_the_known_ones():
    with pytest.raises(UnknownProvider) as exc:
        get_provider("vmware")
    assert "known: gvisor, kind, kwok" in str(exc.value)


class DummyProvider(Provider):
    """A provider registered from outside, to prove the registry is open."""
    name = "dummy"

    def __init__(self):
        self.made: dict[str, Sandbox] = {}

    def create(self, name, nodes=1, **options):
        sb = Sandbox(name, "dummy", Path("/dev/null"), "https://127.0.0.1:1",
                     node_names(nodes), Path("/tmp"))
        self.made[name] = sb
        return sb

    def get(self, name):
        return self.made.get(name)

    def health(self, name):
        return sandbox.Health(name in self.made, "ok")

    def destroy(self, name):
        self.made.pop(name, None)

    def list(self, include_creating=False):
        return list(self.made.values())


def test_outside_provider_registers_by_dotted_path_and_reap_uses_the_interface():
    register("dummy", f"{__name__}:DummyProvider")
    try:
        prov = get_provider("dummy")
        assert get_provider("dummy") is prov  # imported and built once
        sb = prov.create("one", nodes=2)
        assert sb.url == "dummy://one?nodes=2"
        assert parse_url(sb.url) == ("dummy", "one", {"nodes": 2})
        sb.created_at -= 100
        prov.create("two")
        assert prov.reap(older_than=50) == ["one"]
        assert [s.name for s in prov.list()] == ["two"]
    finally:
        sandbox.PROVIDERS.pop("dummy")


def test_sandbox_record_round_trips_through_json():
    sb = Sandbox("a", "kwok", Path("/k"), "https://127.0.0.1:5", ["controlplane"], Path("/w"),
                 created_at=12.5, capabilities=frozenset({"api", "etcd"}),
                 etcd_endpoint="http://127.0.0.1:7")
    d = sb.to_dict()
    assert d["url"] == "kwok://a?nodes=1" and d["capabilities"] == ["api", "etcd"]
    assert Sandbox.from_dict(d) == sb


def test_choose_takes_the_first_provider_that_offers_what_is_required():
    from sandbox import choose, get_provider
    assert choose(["api"], ["kwok", "kind"]).name == "kwok"
    assert choose(["api", "nodes"], ["kwok", "kind"]).name == "kind"
    assert choose(["api", "nodes"], ["kwok"]) is None
    assert choose(["api", "nodes"], ["no-such", get_provider("kind")]).name == "kind"


def test_providers_say_whether_destroy_unmounts_their_workspaces():
    """The terminal mounts a disk image in a sandbox's workspace only where
    the provider says its destroy detaches it (web.terminal asks the
    provider, not its class): the built-in providers do, an outside one by
    default does not."""
    import importlib
    for name, target in sorted(sandbox.PROVIDERS.items()):
        module, _, cls = target.partition(":")
        assert getattr(importlib.import_module(module), cls).unmounts_workspace is True, name
    assert DummyProvider.unmounts_workspace is False
