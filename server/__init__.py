"""The web side of llmviz: a FastAPI app that streams a live forward pass as NDJSON, and the `llmviz` CLI."""
