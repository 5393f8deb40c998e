"""Runs rows of tests/unit/test_bad_inputs.py through ``msm.cli.main``, in this process.

The table starts it through capless.py, so that as root file modes bind here. msm is
imported once, so the permission rows cost what the in-process rows cost.

One JSON request a line on stdin: ``{"cwd": ..., "args": [...], "closed": [kind, path,
...]}``; one JSON reply a line on stdout: ``{"not_denied": [...], "code": ..., "err":
...}``. ``not_denied`` lists the closed paths this process could still get into (a
"file" it could open for reading, a "dir" it could make a file in); when it is not
empty the row isn't run. ``code`` is the exit code, ``err`` everything written to
file descriptor 2 during the row.

``bad_input_worker.py --check KIND PATH ...`` only checks the paths (without importing
msm) and exits non-zero, naming them, if any isn't denied.
"""

import json
import os
import sys
import tempfile
import traceback


def not_denied(closed: list[str]) -> list[str]:
    out = []
    for kind, p in zip(closed[::2], closed[1::2], strict=True):
        probe = os.path.join(p, ".capless-probe") if kind == "dir" else p
        try:
            open(probe, "x" if kind == "dir" else "rb").close()
        except PermissionError:
            continue
        out.append(p)
        if kind == "dir":
            os.remove(probe)
    return out


def run_row(main, args: list[str]) -> tuple[object, str]:
    with tempfile.TemporaryFile() as err:  # fd level, as the in-process rows' capfd
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            main(args)
            code: object = None
        except SystemExit as e:
            code = e.code
        except Exception:
            traceback.print_exc()
            code = "uncaught exception"
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        return code, err.read().decode("utf-8", "replace")


def serve() -> None:
    reply = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # what rows print can't mix with replies
    from msm.cli import main

    for line in sys.stdin:
        req = json.loads(line)
        os.chdir(req["cwd"])
        bad = not_denied(req["closed"])
        code, err = (None, "") if bad else run_row(main, req["args"])
        reply.write(json.dumps({"not_denied": bad, "code": code, "err": err}) + "\n")
        reply.flush()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        bad = not_denied(sys.argv[2:])
        sys.exit(f"not denied here: {bad}" if bad else 0)
    serve()
