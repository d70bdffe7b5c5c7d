"""`python -m services.notify PROCESS`: the same as `campaign serve notify PROCESS` (services/cli.py)."""

from services.cli import serve_main

if __name__ == "__main__":
    serve_main("notify", prog="python -m services.notify")
