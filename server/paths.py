"""Where the front end's files live, relative to the repository root."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = REPO_ROOT / "static"
THREE_BUILD_DIR = REPO_ROOT / "node_modules" / "three" / "build"
THREE_ADDONS_DIR = REPO_ROOT / "node_modules" / "three" / "examples" / "jsm"
