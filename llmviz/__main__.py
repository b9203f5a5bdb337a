"""`python -m llmviz` is the `llmviz` command."""
from llmviz.server.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
