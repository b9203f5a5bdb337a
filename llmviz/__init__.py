"""llmviz: an interactive 3D walk through the real forward pass of a real language model.

The repository keeps the design card's folders at its top (model/, server/, static/, templates/);
the distribution maps them under this one import package (llmviz.model, llmviz.server, ...), so an
installed llmviz puts nothing else at the top of site-packages.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmviz")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"


# The notebook API. Imported on first use, so `import llmviz` stays light (no pythreejs, V8 or models).
def trace(model, prompt, **options):
    """One recorded pass: a Trace whose items are NumPy arrays under TransformerLens names (llmviz.notebook)."""
    from llmviz.notebook.tracing import trace as run

    return run(model, prompt, **options)


def show(model_or_trace, prompt=None, **options):
    """The pass drawn in 3D as a Jupyter widget (pythreejs); needs `pip install 'llmviz[notebook]'`."""
    from llmviz.notebook.widget import show as draw

    return draw(model_or_trace, prompt, **options)


def save_html(widget, path, title="llmviz"):
    """A widget from llmviz.show saved as one HTML file that opens from disk with no network."""
    from llmviz.notebook.embed import save_html as save

    return save(widget, path, title)
