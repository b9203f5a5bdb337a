#!/bin/sh
# Stryker's command for a sampled run (tools/mutation/stryker_sample.py): the active mutant is tested only if its
# id is in IDS_FILE; any other answers "survived" at once and is not counted by `stryker_sample.py score`.
#   sh tools/mutation/stryker_sampled.sh IDS_FILE 'TEST COMMAND'
# With STRYKER_SAMPLE_LOG=FILE, each tested id and its exit status (0: survived) are appended to FILE as they end.
ids_file=$1
if [ -n "${__STRYKER_ACTIVE_MUTANT__:-}" ] && ! grep -qx "$__STRYKER_ACTIVE_MUTANT__" "$ids_file"; then
  exit 0
fi
status=0
sh -c "$2" || status=$?
[ -z "${STRYKER_SAMPLE_LOG:-}" ] || echo "${__STRYKER_ACTIVE_MUTANT__:-dry-run} $status" >> "$STRYKER_SAMPLE_LOG"
exit $status
