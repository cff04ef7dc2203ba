#!/bin/bash
# Regenerate the revert for one tree: make.sh TREE OUT_DIR
#
# Copies the three files the revert touches out of TREE (never writing
# TREE), commits them in a scratch git repo, applies the three steps of
# edits.py as three commits with the messages msg1..3.txt, and writes
# them as format-patch files to OUT_DIR.  edits.py fails when a block it
# replaces is not found exactly once, so a tree whose code moved on
# stops the script instead of giving a half revert.
set -euo pipefail
tree=$(realpath "$1")
out=$(realpath -m "$2")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/mm" "$work/include/linux" "$out"
cp "$tree/mm/page_alloc.c" "$tree/mm/vmalloc.c" "$work/mm/"
cp "$tree/include/linux/gfp.h" "$work/include/linux/"
cd "$work"
git init -q
git -c user.name=kgen -c user.email=kgen@localhost commit -q --allow-empty -m empty
git add -A
git -c user.name=kgen -c user.email=kgen@localhost commit -qm base
for step in 1 2 3; do
	python3 "$here/edits.py" "$work" "$step"
	git -c user.name=kgen -c user.email=kgen@localhost commit -qa -F "$here/msg$step.txt"
done
git format-patch -q --zero-commit --no-signature -o "$out" HEAD~3
# No Date: lines, so a regenerated series diffs clean against the kept one.
sed -i '/^Date: /d' "$out"/*.patch
ls "$out"
