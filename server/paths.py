"""Where the front end's files live, from a checkout (editable install) or from an installed wheel.

Both place this file one folder below the root that holds templates/ and static/: the repository in a
checkout (server/paths.py), the package in a wheel (llmviz/server/paths.py; setup.py copies the folders in).
three.js is node_modules/three in a checkout and llmviz/vendor/three (the same tree, trimmed) in a wheel.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
THREE_DIR = next((d for d in (ROOT / "vendor" / "three", ROOT / "node_modules" / "three") if d.is_dir()),
                 ROOT / "node_modules" / "three")
THREE_BUILD_DIR = THREE_DIR / "build"
THREE_ADDONS_DIR = THREE_DIR / "examples" / "jsm"
