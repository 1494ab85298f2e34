#!/usr/bin/env bash
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Run make targets one after the other; stop at the first failure, naming it; print wall times.
#
# usage: MAKE=make tests/utils/stages.sh TARGET...
set -uo pipefail

make_cmd=${MAKE:-make}
names=()
times=()
results=()

fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

summary() {
    echo
    echo "==================== make test: stage times ===================="
    local i
    for i in "${!names[@]}"; do
        printf '  %-14s %8s  %s\n' "${names[$i]}" "$(fmt "${times[$i]}")" "${results[$i]}"
    done
    printf '  %-14s %8s\n' total "$(fmt "$SECONDS")"
}

SECONDS=0
for stage in "$@"; do
    echo
    echo "==================== make test: $stage ===================="
    start=$SECONDS
    $make_cmd --no-print-directory "$stage"
    rc=$?
    names+=("$stage")
    times+=($((SECONDS - start)))
    if [ "$rc" -ne 0 ]; then
        results+=("FAILED (exit $rc)")
        summary
        rest=("${@:$((${#names[@]} + 1))}")
        echo "make test: FAILED at stage '$stage' (make $stage exited $rc)${rest[*]:+; not run: ${rest[*]}}"
        exit 1
    fi
    results+=(ok)
done
summary
echo "make test: all ${#names[@]} stages passed"
