#!/bin/sh
# Stryker's command for a sampled run (tools/mutation/stryker_sample.py): the active mutant is tested only if its
# id is in IDS_FILE; any other answers "survived" at once and is not counted by `stryker_sample.py score`.
#   sh tools/mutation/stryker_sampled.sh IDS_FILE 'TEST COMMAND'
ids_file=$1
if [ -n "${__STRYKER_ACTIVE_MUTANT__:-}" ] && ! grep -qx "$__STRYKER_ACTIVE_MUTANT__" "$ids_file"; then
  exit 0
fi
exec sh -c "$2"
