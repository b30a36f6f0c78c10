# scripts/harness_env.sh (sourced): the scripts', tests' and benchmarks' own
# environment variables are PKTEST_*; POOLKIT_* names belong to the library and
# the malloc (which warns about POOLKIT_* names it does not know). A variable set
# under its former POOLKIT_ name would be silently ignored: refuse it by name.
refuse_former_names() {
  local pair old new
  for pair in POOLKIT_LANES:PKTEST_LANES POOLKIT_JOBS:PKTEST_JOBS POOLKIT_QUICK:PKTEST_QUICK \
      POOLKIT_TEST_SCALE:PKTEST_SCALE POOLKIT_TEST_SEED:PKTEST_SEED \
      POOLKIT_FUZZ_SECONDS:PKTEST_FUZZ_SECONDS POOLKIT_MALLOC:PKTEST_MALLOC; do
    old=${pair%%:*} new=${pair#*:}
    if [ -n "${!old+set}" ]; then
      echo "$0: $old is now called $new (set $new instead)" >&2
      exit 2
    fi
  done
}
refuse_former_names
