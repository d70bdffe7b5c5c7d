"""`python -m services.intake PROCESS`: the same as `campaign serve intake PROCESS` (services/cli.py)."""

from services.cli import serve_main

if __name__ == "__main__":
    serve_main("intake", prog="python -m services.intake")
