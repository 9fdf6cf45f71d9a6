#!/usr/bin/env bash
# Vigil developer entry point. On a Debian 12 machine (as root, or with sudo):
#   bash scripts/dev.sh serve [vigild flags]  install what is missing, build, start vigild
#   bash scripts/dev.sh test                  install what is missing, build, run every test
#                                             (and the merge fuzzer for 20 s)
#   bash scripts/dev.sh build                 install what is missing, build
#   bash scripts/dev.sh bench                 build, run the benchmarks (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${VIGIL_BUILD_DIR:-build}
# Paths relative to the checkout, so that clones in other folders (CI) share
# the compiler cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  librocksdb-dev libabsl-dev libssl-dev libsodium-dev
  libspdlog-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  clang libclang-rt-14-dev
)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  if ((${#missing[@]} > 0)); then
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"
  fi
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DVIGIL_WERROR=ON >/dev/null
  cmake --build "$BUILD_DIR" -j2
}

cmd=${1:-}
shift || true
case "$cmd" in
  serve)
    install_deps
    build
    exec "$BUILD_DIR/server/vigild" "$@"
    ;;
  test)
    install_deps
    build
    # The merge and diff3 under libFuzzer with ASan/UBSan, for a bounded time
    # (clang build of sync/ only). VIGIL_SKIP_FUZZ=1 skips it.
    if [ "${VIGIL_SKIP_FUZZ:-0}" != 1 ]; then
      cmake -S . -B "$BUILD_DIR-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
        -DVIGIL_FUZZ=ON -DVIGIL_WERROR=ON -DVIGIL_BUILD_BENCH=OFF >/dev/null
      cmake --build "$BUILD_DIR-fuzz" -j2 --target merge_fuzzer
      ctest --test-dir "$BUILD_DIR-fuzz" -R '^merge_fuzz$' --output-on-failure
    fi
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600
    ;;
  build)
    install_deps
    build
    ;;
  bench)
    install_deps
    build
    for b in "$BUILD_DIR"/bench/bench_*; do
      [ -x "$b" ] || continue
      echo "== $(basename "$b")"
      "$b"
    done
    ;;
  *)
    echo "usage: bash scripts/dev.sh serve|test|build|bench" >&2
    exit 2
    ;;
esac
