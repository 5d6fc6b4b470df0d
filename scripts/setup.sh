#!/usr/bin/env bash
# Installs everything jrvs needs to build, test and benchmark, from Debian 12's archive.
# Idempotent: packages already present are skipped without touching the network.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-format
  # DESIGN.md §1 stack
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libcurl4-openssl-dev libsqlite3-dev sqlite3 libpq-dev postgresql
  libfaiss-dev libopenblas-dev libgumbo-dev libpoppler-cpp-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libexpected-dev
  # terminal chat line editing (BSD licensed)
  libedit-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev wrk nginx-light python3 python3-locust curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# libboost1.81-dev conflicts with Boost 1.74's -dev packages: never add libboost-dev here.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
