"""/: the page, rendered from templates/index.html (the front end lays everything else out itself);
/export: one pass of it saved as a single HTML file (server/export.py)."""
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from llmviz.model.tokenizers import PromptError
from llmviz.server.dependencies import AppSettings, DefaultModel, Registry
from llmviz.server.export import export_html
from llmviz.server.paths import TEMPLATES_DIR
from llmviz.server.settings import PROTOCOL_VERSION

router = APIRouter()
templates = Jinja2Templates(directory=TEMPLATES_DIR)


@router.get("/", include_in_schema=False)
def index(request: Request, default: DefaultModel):
    if not (TEMPLATES_DIR / "index.html").is_file():
        raise HTTPException(500, f"the page template {TEMPLATES_DIR / 'index.html'} is missing from this install")
    return templates.TemplateResponse(request, "index.html", {
        "request": request, "protocol_version": PROTOCOL_VERSION,
        "default_model": default or "",  # "" rather than Jinja's "None" when no model loaded
    })


@router.get("/export", include_in_schema=False)
def export(model: str, prompt: str, registry: Registry, settings: AppSettings) -> HTMLResponse:
    """The page's Save HTML: this pass as one file with everything inlined (as `llmviz export` writes it)."""
    if model not in registry:
        raise HTTPException(404, f"unknown model {model!r}; available: {', '.join(sorted(registry)) or 'none'}")
    try:
        saved = export_html(registry[model], prompt, settings)
    except PromptError as e:
        raise HTTPException(422, str(e)) from e
    filename = re.sub(r"[^\w.-]+", "_", f"llmviz-{model}-{prompt}.html", flags=re.ASCII)
    return HTMLResponse(saved.html, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
