"""``proctor``: the one command line.

Each package contributes its own group (``sandbox``/``toolchain`` from
``sandbox.cli``, ``validate``/``grade``/``lint`` from ``grader.commands``);
packages above the grader (the portal) add theirs through the
``proctor.commands`` entry-point group, so nothing here imports ``web``.

Known errors become one red line and exit 1; Ctrl-C exits 2.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

from sandbox import SandboxError
from sandbox.cli import sandbox_group, toolchain_group
from sandbox.toolchain import ToolchainError

KNOWN_ERRORS: tuple[type[BaseException], ...] = (SandboxError, ToolchainError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="proctor")
def cli():
    """Proctor: practice and auto-grading for the CKA and CKAD on live clusters."""


cli.add_command(sandbox_group)
cli.add_command(toolchain_group)

try:  # the grader's commands, once that module exists
    from grader.commands import register as _register_grader
    _register_grader(cli)
    from grader.errors import GraderError
    KNOWN_ERRORS += (GraderError,)
except ImportError as exc:  # pragma: no cover - only while bootstrapping
    if "grader." not in str(exc):
        raise

for ep in entry_points(group="proctor.commands"):
    cli.add_command(ep.load(), ep.name)


def error(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)


def main(argv: list[str] | None = None) -> None:
    try:
        # standalone_mode=False: click *returns* the code of ctx.exit(n)
        # instead of exiting, so pass it on ourselves.
        rv = cli.main(args=argv, prog_name="proctor", standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except KNOWN_ERRORS as exc:
        error(str(exc))
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
