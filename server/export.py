"""One pass saved as one self-contained HTML file: the page, its modules, three.js and the recorded answers.

`llmviz export` and the page's Save HTML button (GET /export) both call `export_html`. The saved page is the
served page itself: its ES modules are inlined (each one's imports rewritten to "@llmviz/<path>" names that
an import map points at blob: URLs, because relative imports cannot resolve inside a blob:), and the answers
its api.js asks for (/api/models, the weight list, the weights, the /api/trace stream) are recorded here
through the same functions the routes use, then replayed by a stand-in for fetch (templates/export.html).
"""
import json
from dataclasses import dataclass

import jinja2

from llmviz.jsmodules import read_graph
from llmviz.model.bundles import ModelBundle
from llmviz.model.sampling import Sampling
from llmviz.server.encoding import dump_line, weight_line
from llmviz.server.passes import recorded_trace
from llmviz.server.paths import STATIC_DIR, TEMPLATES_DIR, THREE_DIR
from llmviz.server.settings import PROTOCOL_VERSION, Settings

EXACT_TRACE_PARAMS = 5e6  # as static/main.js: smaller models are traced in exact float32, larger in float16
WEIGHT_BUDGET = 4e6  # weight values saved, as the page's own WEIGHT_BUDGET: larger weights stay empty blocks
MODULE_PREFIX = "@llmviz/"
ENTRY = "main.js"
THREE_ALIASES = {"three": "vendor/three/build/three.module.js", "three/addons/": "vendor/three/examples/jsm/"}


@dataclass(frozen=True)
class SavedPass:
    html: str
    weights_saved: int      # weight values in the file
    weights_total: int      # weight values the model has
    dropped: list[str]      # checkpoint names left out (their blocks stay empty)


def inlined_modules() -> dict[str, str]:
    """Every module the page loads, by "@llmviz/<path>", with its import specifiers rewritten to such names."""
    modules = read_graph({"": STATIC_DIR, "vendor/three/": THREE_DIR}, [ENTRY], THREE_ALIASES)
    sources = {}
    for module in modules:
        source = module.source
        for statement, dependency in zip(module.imports, module.dependencies):
            quote = statement.statement[statement.statement.index(statement.specifier) - 1]
            rewritten = statement.statement.replace(f"{quote}{statement.specifier}{quote}",
                                                    f"{quote}{MODULE_PREFIX}{dependency}{quote}", 1)
            source = source.replace(statement.statement, rewritten, 1)
        sources[MODULE_PREFIX + module.key] = source
    return sources


def chosen_weights(bundle: ModelBundle, budget: float = WEIGHT_BUDGET) -> list[str]:
    """Weights in checkpoint order while they fit in `budget` values (a weight that does not fit is skipped)."""
    chosen = []
    for name, array in bundle.params.items():
        if array.size <= budget:
            budget -= array.size
            chosen.append(name)
    return chosen


def recorded_answers(bundle: ModelBundle, prompt: str, settings: Settings) -> tuple[dict, list[str]]:
    """What the page's api.js will ask for this one pass, recorded as the API would answer it."""
    # The page sends a chat model's text through its chat template unless "Raw prompt" is ticked: so does this.
    chat = bundle.chat_template is not None
    if chat:
        wrapped = bundle.encode_chat(prompt)
        tokens, template = wrapped.tokens, wrapped.template
    else:
        tokens, template = bundle.encode_prompt(prompt), []
    precision = "f32" if bundle.config.n_params() < EXACT_TRACE_PARAMS else "f16"
    lines = recorded_trace(bundle, tokens, Sampling(temperature=1.0, seed=0), precision, template)
    lines.append({"type": "done", "timings": {}})
    kept = chosen_weights(bundle)
    summary = {**bundle.summary(), "examples": [prompt]}  # the page opens on a model's first example
    answers = {
        "model": bundle.id, "prompt": prompt, "chat": chat,
        "models": {"protocol": PROTOCOL_VERSION, "default_model": bundle.id, "max_new_tokens": settings.max_new_tokens,
                   "models": [summary]},
        # Only saved weights are listed, so the page asks for no other.
        "weightList": {"model": bundle.id, "weights": [{"name": n, "shape": list(bundle.params[n].shape)} for n in kept]},
        "weights": {n: weight_line(bundle.id, n, bundle.params[n], precision) for n in kept},
        "stream": b"".join(dump_line(line) for line in lines).decode("ascii"),
    }
    return answers, kept


def _json_in_script(value) -> str:
    """JSON that cannot end its <script> element early."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def export_html(bundle: ModelBundle, prompt: str, settings: Settings | None = None) -> SavedPass:
    """The page for `prompt` on `bundle` as one HTML file. PromptError (a ValueError) for a prompt it cannot take."""
    settings = settings or Settings()
    answers, kept = recorded_answers(bundle, prompt, settings)
    total = sum(a.size for a in bundle.params.values())
    saved = sum(bundle.params[n].size for n in kept)
    dropped = [n for n in bundle.params if n not in kept]
    note = f"Saved pass of {bundle.id} on “{prompt}”: no server needed. · 서버 없이 열리는 저장된 패스입니다."
    if dropped:
        note += (f" To keep the file small, {len(dropped)} of {len(bundle.params)} weights ({total - saved:,} of "
                 f"{total:,} values) are not saved and their blocks stay empty; every activation is saved."
                 f" · 파일을 작게 하려고 가중치 {len(bundle.params)}개 중 {len(dropped)}개는 저장하지 않았고 그 블록은"
                 " 비어 있습니다. 활성값은 모두 저장했습니다.")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    html = environment.get_template("export.html").render(
        protocol_version=PROTOCOL_VERSION, default_model=bundle.id, model_id=bundle.id, prompt=prompt,
        css=(STATIC_DIR / "style.css").read_text(encoding="utf-8").replace("</", "<\\/"),
        recorded=_json_in_script(answers), modules=_json_in_script(inlined_modules()),
        entry=MODULE_PREFIX + ENTRY, note=note)
    return SavedPass(html, saved, total, dropped)
