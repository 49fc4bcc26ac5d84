import sys

try:
    from .cli import main

    code = main()
except KeyboardInterrupt:  # Ctrl-C while Python is still importing the command line
    print("\ninterrupted: stopped before anything was written", file=sys.stderr)
    code = 130
raise SystemExit(code)
