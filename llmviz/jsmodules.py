"""The page's ES modules as a graph, read from static/ (and three.js from node_modules) without a bundler.

Two users: the notebook links the pure modules (layout, colours, hover, narration) into one script for an
embedded V8, and `llmviz export` inlines every module of the page into one HTML file. Both need the same
thing: each module's source and the modules its `import` lines name, resolved to paths. Only the import
forms the page uses are understood (named, namespace, side-effect, `export … from`); anything else is an
error here, not a silently broken page.
"""
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

# `import {a, b as c} from "x"`, `import * as X from "x"`, `import "x"`, `export {a} from "x"`, `export * from "x"`,
# each at the start of a line (`import(…)`, dynamic, is not used by the page).
STATEMENT = re.compile(
    r"""^(?P<head>import\s*(?:(?P<what>\{[^}]*\}|\*\s*as\s+[\w$]+)\s*from\s*)?"""
    r"""|export\s*(?P<what_export>\{[^}]*\}|\*(?:\s*as\s+[\w$]+)?)\s*from\s*)"""
    r"""(?P<quote>["'])(?P<spec>[^"'\n]+)(?P=quote)\s*;?""", re.MULTILINE)
EXPORT_DECLARATION = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([\w$]+)", re.MULTILINE)
EXPORT_LIST = re.compile(r"^export\s*\{([^}]*)\}\s*;?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Import:
    statement: str     # the whole statement as written
    specifier: str     # as written: "./layout.js", "three", "three/addons/controls/OrbitControls.js"
    names: str | None  # "{a, b as c}", "* as X", "*" or None (side effect only)
    is_export: bool    # `export … from`


@dataclass(frozen=True)
class Module:
    key: str                          # the module's path below its root, e.g. "scene/layout.js"
    source: str
    imports: tuple[Import, ...]
    dependencies: tuple[str, ...]     # keys of the modules it imports, in order


def parse_imports(source: str) -> list[Import]:
    found = []
    for match in STATEMENT.finditer(source):
        what = match.group("what") or match.group("what_export")
        found.append(Import(match.group(0), match.group("spec"), " ".join(what.split()) if what else None,
                            match.group(0).startswith("export")))
    return found


def resolve(importer_key: str, specifier: str, aliases: dict[str, str]) -> str:
    """A specifier -> module key: relative ones against the importer, bare ones through `aliases` (an import
    map's "imports": exact names and "prefix/" entries)."""
    if specifier.startswith(("./", "../")):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer_key), specifier))
    if specifier in aliases:
        return aliases[specifier]
    for prefix, target in aliases.items():
        if prefix.endswith("/") and specifier.startswith(prefix):
            return target + specifier[len(prefix):]
    raise ValueError(f"{importer_key} imports {specifier!r}, which no import-map entry names")


def read_graph(roots: dict[str, Path], entries: list[str], aliases: dict[str, str] | None = None) -> list[Module]:
    """Every module reachable from `entries`, dependencies before the modules that import them.

    roots: key prefix -> folder ("" -> static/, "vendor/three/" -> node_modules/three/); a key is read
    from the root whose prefix is the longest that fits it.
    """
    aliases = aliases or {}
    order: list[Module] = []
    seen: set[str] = set()

    def path_of(key: str) -> Path:
        prefix = max((p for p in roots if key.startswith(p)), key=len, default=None)
        if prefix is None:
            raise ValueError(f"no folder holds the module {key!r}")
        return roots[prefix] / key[len(prefix):]

    def visit(key: str) -> None:
        if key in seen:
            return
        seen.add(key)
        source = path_of(key).read_text(encoding="utf-8")
        imports = tuple(parse_imports(source))
        dependencies = tuple(resolve(key, i.specifier, aliases) for i in imports)
        for dependency in dependencies:
            visit(dependency)
        order.append(Module(key, source, imports, dependencies))

    for entry in entries:
        visit(entry)
    return order


def exported_names(source: str) -> list[str]:
    names = EXPORT_DECLARATION.findall(source)
    for listed in EXPORT_LIST.findall(source):
        names += [part.split(" as ")[-1].strip() for part in listed.split(",") if part.strip()]
    return names
