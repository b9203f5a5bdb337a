"""Static files go out gzip-compressed with a content-hash ETag; the NDJSON streams never do."""
import gzip

import pytest
from fastapi.testclient import TestClient

from llmviz.server.main import create_app
from llmviz.server.paths import STATIC_DIR
from llmviz.server.settings import Settings


@pytest.fixture
def client(random_bundle):
    return TestClient(create_app(Settings(), registry={"nano-sort": random_bundle}))


def raw(client, path, **headers):
    """The response as sent: httpx would otherwise undo the gzip before the test sees it."""
    with client.stream("GET", path, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_a_module_goes_out_gzipped_and_unpacks_to_the_file(client):
    response, body = raw(client, "/static/main.js", **{"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    assert "javascript" in response.headers["content-type"] and response.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == (STATIC_DIR / "main.js").read_bytes()
    assert int(response.headers["content-length"]) == len(body) < (STATIC_DIR / "main.js").stat().st_size


def test_without_accept_encoding_the_file_goes_out_as_it_is(client):
    for accept in ("identity", "gzip;q=0"):
        response, body = raw(client, "/static/main.js", **{"Accept-Encoding": accept})
        assert "content-encoding" not in response.headers and body == (STATIC_DIR / "main.js").read_bytes()


def test_the_etag_is_the_contents_hash_and_a_revalidation_gets_304(client):
    first = client.get("/static/main.js")
    assert first.headers["cache-control"] == "no-cache" and first.headers["etag"].startswith('"')
    again = client.get("/static/main.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/static/style.css")
    assert other.headers["etag"] != first.headers["etag"]


def test_a_changed_file_gets_a_new_etag(tmp_path, random_bundle, monkeypatch):
    from llmviz.server import main
    (tmp_path / "a.js").write_text("export const a = 1;\n" * 100)
    monkeypatch.setattr(main, "MOUNTS", {"/static": tmp_path})
    client = TestClient(main.create_app(Settings(), registry={"nano-sort": random_bundle}))
    before = client.get("/static/a.js").headers["etag"]
    (tmp_path / "a.js").write_text("export const a = 2;\n" * 101)
    response = client.get("/static/a.js", headers={"If-None-Match": before})
    assert response.status_code == 200 and response.headers["etag"] != before and "a = 2" in response.text


def test_a_stream_is_never_compressed(client):
    with client.stream("POST", "/api/trace", json={"model": "nano-sort", "prompt": "CBA"},
                       headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200 and "content-encoding" not in response.headers
        assert b"".join(response.iter_raw()).startswith(b'{"type":"header"')


def test_weights_go_out_gzipped_and_unpack_to_the_same_line(client):
    url = "/api/models/nano-sort/weights/h.0.mlp.c_fc.weight?precision=f32"
    plain, plain_body = raw(client, url, **{"Accept-Encoding": "identity"})
    packed, packed_body = raw(client, url, **{"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed_body) == plain_body and len(packed_body) < len(plain_body)
