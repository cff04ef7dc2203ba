#!/usr/bin/env bash
# One command from a fresh Debian machine to a JUnit report:
#   installs the build dependencies (Debian packages) and kgen (in .venv),
#   fetches linux-source-7.3 into the kgen cache, and runs the shipped specs
#   on UML.  Extra arguments go to `kgen run` (e.g. --arch arm64).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_debian_packages
install_kgen
kgen kernel fetch
mkdir -p results
arch=um
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = --arch ]; then j=$((i + 1)); arch=${!j}; fi
done
exec kgen run --junit "results/junit-$arch.xml" "$@"
