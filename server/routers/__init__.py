"""One router per prefix: `pages` (the HTML page) and `api` (JSON and NDJSON)."""
