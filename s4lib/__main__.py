import signal
import sys

try:
    from .cli import main

    code = main()
except KeyboardInterrupt:  # Ctrl-C while Python is still importing the command line
    print("\ninterrupted: stopped before anything was written", file=sys.stderr)
    code = 130
# the command is done: a Ctrl-C while the interpreter shuts down would otherwise kill it with no message (-2)
signal.signal(signal.SIGINT, signal.SIG_IGN)
# A Ctrl-C that lands inside a string given to exec() (dataclasses build their methods so) leaves CPython marked
# "KeyboardInterrupt unhandled" even once it is caught, and it then kills itself with SIGINT (-2) at exit instead of
# exiting 130; every exec() of a string starts by clearing that mark, so an empty one clears it.
exec("None")
raise SystemExit(code)
