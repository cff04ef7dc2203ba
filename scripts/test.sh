#!/usr/bin/env bash
# The test suite: unit tests, then integration tests that build and boot
# real UML kernels from the cached linux-source-7.3 tree (fetched if
# needed).  Installs what it needs first.  Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_debian_packages
install_kgen test
kgen kernel fetch >/dev/null
exec python -m pytest -ra "$@"
