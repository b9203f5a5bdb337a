"""Reading a streamed /api response in the API tests: every line parsed and checked against the published schema."""
import json

from llmviz.server.schemas import stream_line


def lines_of(response) -> list[dict]:
    assert response.status_code == 200, response.text
    lines = [json.loads(text) for text in response.text.splitlines()]
    for line in lines:
        stream_line.validate_python(line)
    return lines
