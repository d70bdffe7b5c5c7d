"""`python -m services.assignment PROCESS`: the same as `campaign serve assignment PROCESS`."""

from services.cli import serve_main

if __name__ == "__main__":
    serve_main("assignment", prog="python -m services.assignment")
