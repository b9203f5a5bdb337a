"""/: the page, rendered from templates/index.html (the front end lays everything else out itself)."""
from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from llmviz.server.dependencies import DefaultModel
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
