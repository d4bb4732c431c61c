"""The ``skelar`` console command: parses arguments and delegates to one subcommand module each.

A subcommand lives in ``skelar/cli/cmd_<name>.py`` and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` to a callable taking the parsed ``argparse.Namespace`` and returning an
exit code. The CLI only parses and delegates; the work happens in the library.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

__all__ = ["main", "build_parser"]

# every subcommand module is imported: a broken one fails the command instead of hiding
SUBCOMMAND_MODULES = [
    "train",
    "test",
    "predict",
    "models",
    "info",
    "layouts",
    "import_checkpoint",
    "export",
    "bench",
    "prepare",
    "data",
    "ensemble",
    "list",
    "show",
]


def _plugin_imports(argv: list[str]) -> None:
    """Import the modules named by ``--import MODULE`` before the parser is built, so what they register
    (models, transforms, losses, ``skelar prepare`` targets, ...) is known to every subcommand."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--import", dest="imports", action="append", default=[])
    known, _ = pre.parse_known_args(argv)
    for module in known.imports:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"--import {module}: cannot import it ({e})") from None


def build_parser() -> argparse.ArgumentParser:
    """The ``skelar`` parser with every subcommand registered."""
    from skelar import __version__

    parser = argparse.ArgumentParser(prog="skelar", description="Skeleton-based human action recognition toolkit.")
    parser.add_argument("--version", action="version", version=f"skelar {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks instead of one-line errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (a plugin that registers models, transforms, losses, prepare targets, ...); repeatable")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"skelar.cli.cmd_{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``skelar`` command on ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    try:
        _plugin_imports(sys.argv[1:] if argv is None else list(argv))
    except ValueError as e:
        print(f"skelar: error: {e}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = ["skelar", *(sys.argv[1:] if argv is None else argv)]
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.debug or os.environ.get("SKELAR_DEBUG"):
        return int(args.func(args) or 0)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at interpreter exit, so that a closed stdout is caught below
        return code
    except KeyboardInterrupt:
        print("skelar: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (e.g. `| head`): stop quietly
        _silence_stdout()
        return 141  # the shell's status for a process ended by SIGPIPE
    except (ValueError, KeyError, TypeError, RuntimeError, OSError, MemoryError, ImportError) as e:
        print(f"skelar: error: {' '.join(error_line(e).split())}", file=sys.stderr)
        return 2


def error_line(e: BaseException) -> str:
    """The one line a user error gets: for OS errors the path and the cause, never a traceback."""
    if isinstance(e, KeyError):
        return str(e.args[0]) if e.args else "KeyError"
    if isinstance(e, ModuleNotFoundError):
        return f"module {e.name!r} is not installed ({e}); install it, or check the module names given to --import / imports"
    if isinstance(e, MemoryError):
        return f"out of memory{f' ({e})' if str(e) else ''}; use smaller batches or inputs, or a machine with more memory"
    if isinstance(e, OSError) and e.strerror:  # raised by the system (skelar's own OS errors carry a message)
        where = ", ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        return f"{where}: {e.strerror}" if where else e.strerror
    return str(e) or type(e).__name__


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
