"""The notebook view: `llmviz.trace`, `llmviz.show` and `llmviz.save_html` (see llmviz/__init__.py).

runtime.py runs the page's own layout, colours, hover and narration (static/) in an embedded V8, so the
pythreejs scene (widget.py) places and explains every block exactly as the page does.
"""
