#!/bin/sh
# Mutation testing of one Python module with cosmic-ray (README, Tests). Not part of CI: minutes per module.
#   tools/mutation/cosmic_ray.sh tools/mutation/sampling.toml [RUN_DIR]
# cosmic-ray edits the module in place, so it works on a copy of HEAD in RUN_DIR (default /tmp/llmviz-mutation/<name>).
# The copy's llmviz/ gets symlinks to its model/ and server/ and goes first on PYTHONPATH: the venv's editable
# install points at this checkout, which must keep seeing unmutated files (and cosmic-ray must test the copy). Needs `pip install -e '.[mutation]'`.
# Run under `nice -n 19` on a shared machine. Results: cr-report RUN_DIR/session.sqlite (also printed at the end).
set -eu
config=$(realpath "$1")
name=$(basename "$config" .toml)
here=$(git rev-parse --show-toplevel)
venv="$here/.venv/bin"
run=${2:-/tmp/llmviz-mutation/$name}
rm -rf "$run" && mkdir -p "$run/src"
git -C "$here" archive HEAD | tar -x -C "$run/src"
ln -s ../model "$run/src/llmviz/model"
ln -s ../server "$run/src/llmviz/server"
cp "$config" "$run/config.toml"
cd "$run/src"
export PATH="$venv:$PATH" PYTHONPATH="$run/src" PYTHONDONTWRITEBYTECODE=1
python -c "import llmviz.model, sys; assert llmviz.model.__path__[0].startswith('$run'), llmviz.model.__path__"
cosmic-ray init "$run/config.toml" "$run/session.sqlite"
if [ -n "${SAMPLE:-}" ]; then  # SAMPLE=N SEED=S: run a seeded random sample of N mutants, skip the rest
  python "$here/tools/mutation/sample_session.py" "$run/session.sqlite" "$SAMPLE" "${SEED:-14}"
fi
cosmic-ray baseline "$run/config.toml"
cosmic-ray exec "$run/config.toml" "$run/session.sqlite"
cr-report --show-pending "$run/session.sqlite" | tail -n 5
