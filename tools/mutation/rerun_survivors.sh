#!/bin/sh
# After tests were added: rerun only the mutants that survived a cosmic_ray.sh session, against HEAD's tests.
#   tools/mutation/rerun_survivors.sh tools/mutation/encoding.toml [RUN_DIR]
# Adding tests cannot revive a killed mutant, so killed ones keep their result; the session's sample (if any)
# stays the same. The copy's tests/ and module are refreshed from HEAD (a fix the new tests needed may have
# touched the module; mutants are found again by line and column, so such a fix must not move lines above them).
set -eu
config=$(realpath "$1")
name=$(basename "$config" .toml)
here=$(git rev-parse --show-toplevel)
run=${2:-/tmp/llmviz-mutation/$name}
module=$(sed -n 's/^module-path = "\(.*\)"/\1/p' "$config")
rm -rf "$run/src/tests"
git -C "$here" archive HEAD tests "$module" | tar -x -C "$run/src"
cp "$config" "$run/config.toml"
"$here/.venv/bin/python" - "$run/session.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
gone = db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'").rowcount
db.commit()
print(f"{gone} survivors to rerun")
PY
cd "$run/src"
export PATH="$here/.venv/bin:$PATH" PYTHONPATH="$run/src" PYTHONDONTWRITEBYTECODE=1
cosmic-ray baseline "$run/config.toml"  # the new tests must pass on the unmutated copy, or every rerun "kills"
cosmic-ray exec "$run/config.toml" "$run/session.sqlite"
cr-report "$run/session.sqlite" | tail -n 3
