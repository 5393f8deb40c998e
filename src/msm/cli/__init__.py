"""The ``msm`` command line: a thin wrapper over the library's stage functions.

Every failure the user can cause ends as one line on stderr and a non-zero exit (a
settings file with several problems: a line naming the file and the count, then one
indented line per problem).
Heavy imports (torch, transformers, inspect) happen inside commands, so
``msm --help`` and ``msm spec ...`` stay fast.

The commands live in one module per group (``spec``, ``generate``, ``train``,
``run``); importing this package registers them all on ``app``.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings

import typer

from msm._util.config_io import ConfigError
from msm.cli import generate, items, run, spec, train  # noqa: F401  (registers the commands)
from msm.cli._common import Interrupted, app
from msm.errors import MsmError

__all__ = ["app", "main"]

# OSErrors caused by the machine rather than by msm: reported like MsmError, in one line
_ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EROFS", "EIO", "EFBIG", "EACCES", "EPERM", "EMFILE", "ENFILE")
    if hasattr(errno, name)
)


# every stage keeps what it finished (call stores, checkpoints, node states) and resumes it
INTERRUPTED = "msm: interrupted; rerun the same command to resume"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors, meaningful exit codes."""
    # typer >= 0.2x vendors click and raises its own exception classes
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
    from typer.exceptions import Abort, Exit

    debug = bool(os.environ.get("MSM_DEBUG"))
    try:
        rv = typer.main.get_command(app).main(
            args=list(argv if argv is not None else sys.argv[1:]),
            prog_name="msm",
            standalone_mode=False,
        )
        sys.exit(rv if isinstance(rv, int) else 0)
    except Exit as e:
        sys.exit(e.exit_code)
    except NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx is not None else e.format_message())
        sys.exit(2)
    except UsageError as e:
        path = e.ctx.command_path if e.ctx else ""
        hint = f" (see '{path} --help')" if path else ""
        print(f"msm: error: {' '.join(e.format_message().split())}{hint}", file=sys.stderr)
        sys.exit(2)
    except Abort:
        print("msm: aborted", file=sys.stderr)
        sys.exit(130)
    except (KeyboardInterrupt, Interrupted):
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(130)
    except MsmError as e:
        if debug:
            raise
        # an error raised while a network client was still connecting leaves an un-awaited
        # coroutine that Python reports at exit: noise after the one line that matters
        warnings.filterwarnings("ignore", message="coroutine .* was never awaited")
        if isinstance(e, ConfigError):  # every problem in a file: a header, one line each
            print(f"msm: error: {e.header}", file=sys.stderr)
            for line in e.details:
                print(f"  {line}", file=sys.stderr)
        else:
            print(f"msm: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except Exception as e:  # a bug: say so in one line, traceback on request
        if debug:
            raise
        if isinstance(e, OSError) and e.errno in _ENVIRONMENT_ERRNOS:
            # not a bug: the machine refused (disk full, read-only, no permission)
            reason = " ".join((e.strerror or os.strerror(e.errno or 0)).split())
            where = f": {e.filename}" if e.filename else ""
            print(f"msm: error: {reason}{where}", file=sys.stderr)
            sys.exit(MsmError.exit_code)
        msg = " ".join(str(e).split())[:300] or type(e).__name__
        print(
            f"msm: internal error: {type(e).__name__}: {msg} "
            "(rerun with MSM_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
