# Shared by setup-and-run.sh and test.sh.  Sourced, not run.

# Toolchain for kunit.py builds: UML with the host gcc, arm64 cross gcc,
# QEMU for the x86_64 and arm64 guests, dtc for arm64 guest device trees;
# apt/dpkg-deb/xz to fetch sources; patch(1) for kgen run --patch.
DEBIAN_PACKAGES="gcc make flex bison bc libelf-dev libssl-dev cpio rsync xz-utils
  python3 python3-venv python3-pip qemu-system-x86 qemu-system-arm
  gcc-aarch64-linux-gnu device-tree-compiler debian-archive-keyring patch"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  for p in $DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
}

# kgen goes into .venv (never the system Python); activate it for the caller.
install_kgen() {
  local extra=${1:-}
  [ -x .venv/bin/python ] || python3 -m venv .venv
  . .venv/bin/activate
  python -m pip install -q --upgrade pip >/dev/null
  if [ -n "$extra" ]; then
    python -m pip install -q -e ".[$extra]"
  else
    python -m pip install -q -e .
  fi
}
