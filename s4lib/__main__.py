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
raise SystemExit(code)
