# Shared by setup-and-run.sh and test.sh.  Sourced, not run.

# What kgen needs on a Debian machine, and nothing more.  Installed without
# Recommends: with them, QEMU alone pulled 141 more packages (GTK, SDL,
# PulseAudio, pocketsphinx speech recognition ...) that kunit.py's
# -nographic guests never load; 210 packages in all on a fresh machine.
#   gcc libc6-dev make flex bison bc libelf-dev libssl-dev
#                     kunit.py's kernel builds; UML links against libc, and
#                     gcc only recommends libc6-dev; libelf-dev for objtool,
#                     libssl-dev for the tree's certificate tools
#   gcc-aarch64-linux-gnu  the arm64 cross compiler
#   gcc-arm-linux-gnueabihf  the 32-bit arm cross compiler
#   qemu-system-x86 qemu-system-arm  the x86_64, i386, arm64 and arm guests
#                     (qemu-system-i386 is in qemu-system-x86; the host gcc
#                     builds i386; qemu-system-arm has both arm binaries)
#   device-tree-compiler   dtc, for arm64 guest-layout device trees
#   python3 python3-venv   kgen's .venv (ensurepip brings pip into it)
#   xz-utils debian-archive-keyring  kgen kernel fetch (signed Debian
#                     package lists, the .tar.xz source)
#   rsync             the git-tree integration test copies the tree with it;
#                     patch: --patch and kgen validate apply patches with it
#   lcov              kgen run --coverage (lcov, genhtml; gcov comes with gcc);
#                     (with perl, libjson-perl, libperlio-gzip-perl; its
#                     Recommends libgd-perl only draws PNG legends)
DEBIAN_PACKAGES="gcc libc6-dev make flex bison bc libelf-dev libssl-dev
  gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-system-x86 qemu-system-arm device-tree-compiler
  python3 python3-venv xz-utils debian-archive-keyring rsync patch lcov"

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
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"
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
