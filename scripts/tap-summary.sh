#!/bin/sh
# tap-summary.sh DIR...: count the TAP test points recorded by automake's
# TAP driver (*.trs) under each DIR and print "N passed, N failed, N skipped".
# Exits 1 if anything failed.
awk '
  /^:test-result: (PASS|XFAIL)/ { pass++ }
  /^:test-result: (FAIL|XPASS|ERROR)/ { fail++ }
  /^:test-result: SKIP/ { skip++ }
  END { printf "%d passed, %d failed, %d skipped\n", pass, fail, skip; exit fail > 0 }
' $(find "$@" -name '*.trs' 2>/dev/null) /dev/null
