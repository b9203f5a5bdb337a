"""/: the page, rendered from templates/index.html (the front end lays everything else out itself);
/export: one pass of it saved as a single HTML file (server/export.py)."""
import re
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from llmviz.model.tokenizers import PromptError
from llmviz.server.dependencies import AppSettings, DefaultModel, Registry
from llmviz.server.export import export_html
from llmviz.server.exposure import page_policy
from llmviz.server.paths import TEMPLATES_DIR
from llmviz.server.settings import PROTOCOL_VERSION

router = APIRouter()
templates = Jinja2Templates(directory=TEMPLATES_DIR)


# HEAD too: uptime checks and link previews ask for the page without its body.
@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def index(request: Request, default: DefaultModel):
    if not (TEMPLATES_DIR / "index.html").is_file():
        raise HTTPException(500, f"the page template {TEMPLATES_DIR / 'index.html'} is missing from this install")
    nonce = secrets.token_urlsafe(16)  # new per response, so a script injected into the page cannot know it
    response = templates.TemplateResponse(request, "index.html", {
        "request": request, "protocol_version": PROTOCOL_VERSION, "csp_nonce": nonce,
        "default_model": default or "",  # "" rather than Jinja's "None" when no model loaded
    })
    response.headers["content-security-policy"] = page_policy(nonce)
    return response


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
