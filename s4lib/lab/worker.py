"""One training run in a process of its own: python -m s4lib.lab.worker OUT.json < CONFIG.json (a recorded config).

It prints the run's log and writes the run's record entry to OUT.json (a diverged run's too, which says where it
diverged); an interrupted run writes nothing and exits 1."""
from __future__ import annotations

import json
import sys

from ..checkpoint import config_from_record
from ..files import write_json
from ..train import train
from .experiments import run_entry


def main(out: str) -> int:
    result = train(config_from_record(json.loads(sys.stdin.read())))
    if result.interrupted:
        return 1
    write_json(run_entry(result), out)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main(sys.argv[1]))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
