#!/usr/bin/env bash
# The test suite as CI runs it, RUNS times in a row (default 3), on a clean clone of this
# checkout's HEAD, while bench/ocr.py keeps every core busy with OCR (records, raw Tesseract
# and OCRmyPDF on rendered letters, in a loop). A test that fails only here is a bug in the
# test or in records. Needs `make bench` (OCRmyPDF, Ghostscript) once in this checkout.
#
#   tools/under_load.sh [RUNS]        each run's exit code and seconds go to stdout;
#                                     the runs' logs to $TMPDIR/under-load/run-N.log
set -u
runs=${1:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/under-load
rm -rf "$work" && mkdir -p "$work"
git clone -q "$here" "$work/clone"
( while true; do
      "$here/.venv/bin/python" "$here/bench/ocr.py" --set letters --letters 6 \
          --json "$work/ocr.json" > /dev/null 2>&1
  done ) &
loader=$!
trap 'kill $loader 2>/dev/null; pkill -f "$here/bench/ocr.py"' EXIT
corpus=${RECORDS_CORPUS:-$(cd "$here/.." && pwd)/shared/corpus}
cd "$work/clone" || exit 1
failed=0
for n in $(seq 1 "$runs"); do
    start=$(date +%s)
    RECORDS_PROMISES_STRICT=1 RECORDS_CORPUS="$corpus" make test > "$work/run-$n.log" 2>&1
    code=$?
    [ "$code" = 0 ] || failed=1
    echo "run $n: exit $code, $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg):" \
         "$(grep -E '(passed|failed)' "$work/run-$n.log" | tail -1)"
done
exit $failed
