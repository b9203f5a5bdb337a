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
