"""`python -m shared.check`: validate the common settings and check Mongo and Kafka answer."""

from __future__ import annotations

import sys

from shared.entry import check_dependencies, guarded
from shared.settings import CommonSettings, Env


def main() -> int:
    settings = CommonSettings.from_env(Env())
    check_dependencies(settings)
    print("settings valid; MongoDB and Kafka answer")
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main, "check"))
