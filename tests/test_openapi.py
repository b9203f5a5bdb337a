"""/openapi.json is published and true: every route declares the errors it can answer in the shape it
answers them, and schemathesis (all checks, bounded examples) finds no disagreement with a real server."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from llmviz.server.main import create_app
from llmviz.server.schemas import ErrorLine
from llmviz.server.settings import Settings
from servers import free_port, start, stop

SCHEMATHESIS_CONFIG = Path(__file__).parent / "schemathesis.toml"
EXAMPLES = 8  # per operation and phase; with the coverage and stateful phases ~500 requests, ~15 s


@pytest.fixture(scope="module")
def schema(request):
    from doubles import random_letter_bundle

    app = create_app(Settings(), registry={"nano-sort": random_letter_bundle()})
    response = TestClient(app, base_url="http://localhost").get("/openapi.json")
    assert response.status_code == 200, response.text  # was a 500 (UnboundLocalError in FastAPI's generator)
    return response.json()


def api_operations(schema):
    return [(path, method, op) for path, methods in schema["paths"].items() if path.startswith("/api/")
            for method, op in methods.items()]


def test_every_api_route_declares_the_errors_any_request_can_meet(schema):
    error_shape = ErrorLine.model_json_schema()
    for path, method, op in api_operations(schema):
        for status in ("400", "408", "413"):
            assert op["responses"][status]["content"] == {"application/json": {"schema": error_shape}}, (path, status)
        for status, response in op["responses"].items():
            if status != "200":
                assert list(response["content"]) == ["application/json"], (path, status)  # never x-ndjson
                assert "HTTPValidationError" not in str(response), (path, status)  # FastAPI's shape is not ours


def test_routes_that_take_a_slot_or_name_a_model_declare_404_422_and_503(schema):
    passes = {("/api/trace", "post"), ("/api/generate", "post"), ("/api/models/{model_id}/weights/{name}", "get")}
    for path, method, op in api_operations(schema):
        if (path, method) in passes:
            assert {"404", "422", "503"} <= set(op["responses"]), path
        if "{model_id}" in path:
            assert {"404", "422"} <= set(op["responses"]), path


def test_request_schemas_say_what_the_server_checks(schema):
    trace = schema["components"]["schemas"]["TraceRequest"]
    assert trace["properties"]["prompt"]["minLength"] == 1 and trace["properties"]["model"]["minLength"] == 1
    assert trace["additionalProperties"] is False and set(trace["required"]) == {"model", "prompt"}
    weight = schema["paths"]["/api/models/{model_id}/weights/{name}"]["get"]["responses"]["200"]
    assert weight["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/WeightLine"}


def test_schemathesis_finds_no_failure_with_every_check(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start([str(Path(sys.executable).parent / "llmviz"), "serve", "--port", str(port)], f"{url}/api/health",
                   cwd=tmp_path)
    try:
        run = subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(SCHEMATHESIS_CONFIG), "run",
             f"{url}/openapi.json", "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", "1",
             "--generation-database", "none"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    finally:
        stop(server)
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary
    assert " passed" in summary and "failure" not in summary.split("SUMMARY")[-1], summary
