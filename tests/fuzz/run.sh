#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/<name>_fuzz.cc) with clang into build-fuzz and runs
# each for a while on a copy of its seed corpus, one after another. Fails if any target crashes
# (a sanitizer report, an invariant's trap, a timeout or running out of memory).
#
#   bash tests/fuzz/run.sh [seconds per target, default 20] [target...]
#
# Installs nothing: server/install_deps.sh --test brings clang. Nothing in the repo is written
# but build-fuzz; a crashing input is kept in the temp dir this prints. docs/fuzzing.md has more.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
shift || true

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSWITCHBOARD_FUZZ=ON -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_targets

targets=("$@")
if ((${#targets[@]} == 0)); then
  for source in tests/fuzz/*_fuzz.cc; do
    name=$(basename "$source" _fuzz.cc)
    targets+=("$name")
  done
fi

work=$(mktemp -d)
failed=()
for name in "${targets[@]}"; do
  dir="$work/$name"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  # Copies, so that a rebuild while this runs changes nothing and the seeds stay as they are.
  cp "build-fuzz/fuzz/${name}_fuzz" "$dir/"
  if [[ -d "tests/fuzz/corpus/$name" ]]; then cp "tests/fuzz/corpus/$name/"* "$dir/corpus/"; fi
  dict=()
  if [[ -f "tests/fuzz/$name.dict" ]]; then dict=(-dict="tests/fuzz/$name.dict"); fi
  # 4 KiB holds any signaling frame worth trying and keeps each execution quick; a unit that
  # takes 10 s is a hang worth reporting.
  status=0
  "$dir/${name}_fuzz" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "${dict[@]}" "$dir/corpus" \
    >"$dir/log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  coverage=$(grep -o ' cov: [0-9]*' "$dir/log" | tail -1 | tr -dc 0-9)
  features=$(grep -o ' ft: [0-9]*' "$dir/log" | tail -1 | tr -dc 0-9)
  crashes=$(find "$dir/artifacts" -type f | wc -l)
  if ((status != 0 && crashes == 0)); then crashes=1; fi
  echo "$name: ${seconds}s, ${executions:-0} executions, cov ${coverage:-0}, ft ${features:-0}, crashes $crashes"
  if ((crashes > 0)); then
    failed+=("$name")
    grep -E 'ERROR|invariant failed|runtime error|SUMMARY' "$dir/log" | head -5 >&2 || true
    echo "  log and input: $dir/log, $dir/artifacts/" >&2
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz targets that crashed: ${failed[*]} (kept in $work)" >&2
  exit 1
fi
rm -rf "$work"
