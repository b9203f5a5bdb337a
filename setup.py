"""Build hook: a wheel carries the page (templates/, static/) and the three.js files it imports.

pyproject.toml holds the package metadata; this file only adds to `build_py`. The page's folders stay at
the repository's top (the design card's layout) and are copied under the package when a wheel is built:
llmviz/templates, llmviz/static, and llmviz/vendor/three (three.js from node_modules, pinned by
package-lock.json, with its licence). server/paths.py finds the same files in a checkout or an install.
An editable install copies nothing: the server reads the checkout's folders and node_modules directly.
"""
import json
import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
THREE = ROOT / "node_modules" / "three"
# `import ... from "three/addons/x.js"`, `import "./y.js"`, `export ... from "..."`, `import("...")`
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']""")


class BuildError(RuntimeError):
    pass


def page_files(folder: Path):
    """Every file the server serves from `folder`, skipping dot files and any tests."""
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(p.startswith(".") or p in ("tests", "__pycache__") for p in parts):
            yield path


def imports_of(path: Path) -> list[str]:
    return IMPORT.findall(path.read_text(encoding="utf-8"))


def three_files() -> list[Path]:
    """three.js files the page imports: the two build modules, each addon it names and what those import."""
    pinned = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/three"]["version"]
    if not (THREE / "package.json").is_file():
        raise BuildError("node_modules/three is missing: run `npm ci` first (three.js comes from npm, "
                         "pinned by package-lock.json), then build the wheel again")
    installed = json.loads((THREE / "package.json").read_text())["version"]
    if installed != pinned:
        raise BuildError(f"node_modules has three {installed} but package-lock.json pins {pinned}: run `npm ci`")
    wanted = [THREE / "LICENSE", THREE / "package.json", THREE / "build" / "three.module.js"]
    wanted += [THREE / "build" / name for name in imports_of(THREE / "build" / "three.module.js")
               if name.startswith("./")]
    addons = THREE / "examples" / "jsm"
    queue = [addons / spec.removeprefix("three/addons/")
             for page_file in page_files(ROOT / "static") if page_file.suffix in (".js", ".mjs")
             for spec in imports_of(page_file) if spec.startswith("three/addons/")]
    while queue:  # an addon may import its neighbours by relative path
        addon = queue.pop().resolve()
        if addon in wanted:
            continue
        if not addon.is_file():
            raise BuildError(f"the page imports {addon.relative_to(addons)}, which three {pinned} does not have")
        wanted.append(addon)
        queue += [addon.parent / spec for spec in imports_of(addon) if spec.startswith(".")]
    return [path.resolve() for path in wanted]


class BuildPyWithPage(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        package = Path(self.build_lib) / "llmviz"
        copies = [(path, package / folder / path.relative_to(ROOT / folder))
                  for folder in ("templates", "static") for path in page_files(ROOT / folder)]
        copies += [(path, package / "vendor" / "three" / path.relative_to(THREE.resolve())) for path in three_files()]
        for source, target in copies:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


setup(cmdclass={"build_py": BuildPyWithPage})
