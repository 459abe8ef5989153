"""``proctor sandbox …`` and ``proctor toolchain …``."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time

import click

from .base import NotFound, SandboxError, check_name, check_nodes
from .registry import PROVIDERS, get_provider
from .toolchain import Toolchain


def _progress(message: str) -> None:
    click.secho(message, fg="cyan", err=True)


# -- toolchain ------------------------------------------------------------------

@click.group("toolchain")
def toolchain_group():
    """Build and inspect the Kubernetes binaries (built locally from Go modules)."""


@toolchain_group.command("build")
@click.option("--force", is_flag=True, help="Rebuild even what is already there.")
@click.option("--with-kind", is_flag=True,
              help="Also build the kind node image and every image it preloads (needs Docker "
                   "and debootstrap; see docs/kind.md).")
@click.option("--with-gvisor", is_flag=True,
              help="Also build runsc and the box image of gvisor sandboxes, the real nodes "
                   "of sandboxes with real containers (the kind node image first; see "
                   "docs/containers.md).")
def toolchain_build(force, with_kind, with_gvisor):
    """Build whatever is missing; with everything present this takes milliseconds."""
    tc = Toolchain()
    started = time.monotonic()
    tc.build(progress=_progress, force=force, with_kind=with_kind or with_gvisor)
    click.echo(f"toolchain ready in {tc.bin_dir} ({time.monotonic() - started:.1f}s)")
    if with_kind or with_gvisor:
        from .nodeimage import NodeImage
        started = time.monotonic()
        tag = NodeImage(tc).build(progress=_progress, force=force)
        click.echo(f"kind node image ready: {tag} ({time.monotonic() - started:.1f}s)")
    if with_gvisor:
        from .gvisor.image import BoxImage
        started = time.monotonic()
        path = BoxImage(tc).build(progress=_progress, force=force)
        click.echo(f"gvisor box image ready: {path} ({time.monotonic() - started:.1f}s)")


@toolchain_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def toolchain_status(as_json):
    """Say which versions are pinned and which binaries are built."""
    from .kind import node_image_status
    status = Toolchain().status()
    image = status["kind_node_image"] = node_image_status()
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    click.echo(f"directory: {status['dir']}")
    for k, v in status["versions"].items():
        click.echo(f"{k:>12}: {v}")
    for name, path in {**status["binaries"], **status["tools"]}.items():
        mark = click.style("built", fg="green") if path else click.style("missing", fg="red")
        click.echo(f"{name:>24}  {mark}")
    try:
        from .gvisor.image import BoxImage
        box = BoxImage().status()
        mark = (click.style("built", fg="green") if box["built"]
                else click.style("not built (proctor toolchain build --with-gvisor)", fg="yellow"))
        click.echo(f"{'gvisor box image':>24}  {mark}  {box['rootfs']}")
    except Exception as exc:  # noqa: BLE001 - a status line, never a failure
        click.echo(f"{'gvisor box image':>24}  {click.style(str(exc), fg='yellow')}")
    if "error" in image:
        click.echo(f"{'kind node image':>24}  {click.style(image['error'], fg='yellow')}")
    else:
        mark = (click.style("built", fg="green") if image["built"]
                else click.style("not built (proctor toolchain build --with-kind)", fg="yellow"))
        click.echo(f"{'kind node image':>24}  {mark}  {image['image']}")
    if not status["complete"]:
        click.echo("run `proctor toolchain build` to build what is missing")
        sys.exit(1)


# -- sandbox ----------------------------------------------------------------------

@click.group("sandbox")
def sandbox_group():
    """Create, list and remove sandbox clusters."""


provider_option = click.option(
    "--provider", "-p", default=lambda: os.environ.get("PROCTOR_PROVIDER", "kwok"),
    show_default="kwok", help=f"Sandbox provider ({', '.join(sorted(PROVIDERS))}).")
# for commands that name a sandbox: without -p, whichever provider has it
named_provider_option = click.option(
    "--provider", "-p", default=None, show_default="the one that has NAME",
    help=f"Sandbox provider ({', '.join(sorted(PROVIDERS))}).")


def _owner(name: str, provider: str | None):
    """The provider of sandbox ``name``: ``provider`` if given, else the
    default one (PROCTOR_PROVIDER, kwok) if it has it, else the first that
    does, else the default one (removing a missing sandbox is no error)."""
    check_name(name)
    default = os.environ.get("PROCTOR_PROVIDER", "kwok")
    if provider:
        return get_provider(provider)
    for candidate in [default, *sorted(set(PROVIDERS) - {default})]:
        try:
            prov = get_provider(candidate)
            if prov.get(name) is not None:
                return prov
        except Exception:  # noqa: BLE001 - a provider this machine cannot run has none
            continue
    return get_provider(default)


@sandbox_group.command("up")
@click.option("--name", help="Name (default: a random sbx-xxxx).")
@click.option("--nodes", "-n", default="3", show_default=True,
              help="Nodes in all, the first being 'controlplane'.")
@click.option("--unjoined", "-u", multiple=True, metavar="NODE",
              help="A worker left as a machine for you to join with kubeadm "
                   "(kind and vm; repeat or separate by commas).")
@provider_option
def sandbox_up(name, nodes, unjoined, provider):
    """Create a sandbox and print how to use it."""
    name = check_name(name or f"sbx-{secrets.token_hex(2)}")
    nodes = check_nodes(nodes)
    options = {}
    if unjoined:
        options["unjoined"] = [n.strip() for u in unjoined for n in u.split(",") if n.strip()]
    prov = get_provider(provider)
    _progress(f"creating {provider} sandbox {name!r} with {nodes} node(s) …")
    started = time.monotonic()
    sb = prov.create(name, nodes=nodes, **options)
    click.echo(f"sandbox {sb.url} is ready in {time.monotonic() - started:.1f}s")
    click.echo(f"  nodes:      {', '.join(sb.nodes)}")
    if sb.unjoined:
        click.echo(f"  unjoined:   {', '.join(sb.unjoined)} (machines, not yet nodes: "
                   f"proctor sandbox ssh {name} {sb.unjoined[0]})")
    click.echo(f"  API:        {sb.api_url}")
    click.echo(f"  kubeconfig: {sb.kubeconfig}")
    click.echo(f"  try:        proctor sandbox kubectl {name} -- get nodes")
    click.echo(f"          or: export KUBECONFIG={sb.kubeconfig}")
    click.echo(f"  remove:     proctor sandbox down {name}")


@sandbox_group.command("ls")
@provider_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sandbox_ls(provider, as_json):
    """List sandboxes with their health."""
    prov = get_provider(provider)
    rows = []
    for sb in prov.list():
        health = prov.health(sb.name)
        rows.append({**sb.to_dict(), "healthy": health.ok, "health": health.detail})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no {provider} sandboxes")
        return
    click.echo(f"{'NAME':<24} {'NODES':>5} {'AGE':>8}  {'API':<26} HEALTH")
    for r in rows:
        age = _age(time.time() - r["created_at"])
        health = click.style(r["health"], fg="green" if r["healthy"] else "red")
        click.echo(f"{r['name']:<24} {len(r['nodes']):>5} {age:>8}  {r['api_url']:<26} {health}")


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


@sandbox_group.command("down")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True,
              help="Remove every sandbox of the provider (-p, default kwok).")
@named_provider_option
def sandbox_down(names, all_, provider):
    """Remove sandboxes (idempotent: removing a missing one is not an error)."""
    if not names and not all_:
        raise click.UsageError("name a sandbox, or pass --all")
    if all_:
        prov = get_provider(provider or os.environ.get("PROCTOR_PROVIDER", "kwok"))
        targets = [(prov, sb.name) for sb in prov.list(include_creating=True)]
    else:
        targets = [(_owner(name, provider), name) for name in names]
    for prov, name in targets:
        started = time.monotonic()
        there = prov.get(name) is not None
        prov.destroy(name)
        click.echo(f"removed {prov.name} sandbox {name} ({time.monotonic() - started:.1f}s)"
                   if there else f"no sandbox {name}: nothing to remove")


@sandbox_group.command("reap")
@click.option("--older-than", default=6 * 3600, show_default=True, type=float,
              help="Seconds; older sandboxes are removed, as are unhealthy ones.")
@provider_option
def sandbox_reap(older_than, provider):
    """Remove sandboxes left behind by a crash, or older than a limit."""
    for name in get_provider(provider).reap(older_than):
        click.echo(f"reaped {name}")


def _existing(provider: str | None, name: str):
    prov = _owner(name, provider)
    sb = prov.get(name)
    if sb is None:
        raise NotFound(name, provider) if provider else SandboxError(
            f"no sandbox named {name!r} (looked in {', '.join(sorted(PROVIDERS))})")
    return sb


@sandbox_group.command("kubeconfig")
@click.argument("name")
@named_provider_option
def sandbox_kubeconfig(name, provider):
    """Print the path of a sandbox's kubeconfig."""
    click.echo(_existing(provider, name).kubeconfig)


@sandbox_group.command("kubectl", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@named_provider_option
def sandbox_kubectl(name, args, provider):
    """Run kubectl against a sandbox: proctor sandbox kubectl NAME -- get pods -A"""
    sb = _existing(provider, name)
    kubectl = str(Toolchain().binary("kubectl"))
    os.execv(kubectl, [kubectl, "--kubeconfig", str(sb.kubeconfig), *args])


@sandbox_group.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("node")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@named_provider_option
def sandbox_ssh(name, node, command, provider):
    """A root shell on a real node of a sandbox (gvisor's workers, kind, vm), or run
    COMMAND there: proctor sandbox ssh NAME node01 -- crictl ps"""
    sb = _existing(provider, name)
    prov = get_provider(sb.provider)
    if node not in sb.nodes + sb.unjoined:
        raise click.UsageError(f"sandbox {name} has no node {node!r} (it has {', '.join(sb.nodes)})")
    argv = prov.node_shell(sb, node, tty=sys.stdin.isatty())
    if not argv:
        real = [n for n in sb.nodes if prov.node_shell(sb, n)]
        raise click.UsageError(
            f"{node} is simulated in {sb.provider} sandbox {name} and has no shell"
            + (f"; its real nodes are {', '.join(real)}" if real else
               "; use a sandbox with real nodes (-p gvisor, kind or vm)"))
    argv += list(command) if command else ["bash", "-l"]
    os.execvp(argv[0], argv)
