#!/usr/bin/env bash
# Times the test command as its first run on a fresh machine with Rust would take it: a clean
# clone, an empty CARGO_HOME (every crate downloaded, tansu built) and an empty target/, with
# the installed toolchain (RUSTUP_HOME) and this machine's Debian and Python packages (their
# download and install are not in the figure). Prints /usr/bin/time's report and the wall
# seconds; the README's "How long" quotes it.
#
#   scripts/time-first-run.sh [REPO]      # default: this repository's HEAD
#
# Work files go to $FIRST_RUN_DIR (default /tmp/apitap-first-run, emptied first; several GB).
set -euo pipefail

repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
dir="${FIRST_RUN_DIR:-/tmp/apitap-first-run}"
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
cargo_bin="$(dirname "$(command -v cargo)")"
# A pyenv python finds its versions through PYENV_ROOT, which defaults to a path under HOME.
pyenv_root="${PYENV_ROOT:-$(pyenv root 2>/dev/null || true)}"
[[ -x /usr/bin/time ]] || { echo "time-first-run: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }

rm -rf "$dir" && mkdir -p "$dir/home" "$dir/bin"
# The toolchain's proxies only: no tansu or other tools installed earlier.
for b in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver rustup; do
    [[ -e "$cargo_bin/$b" ]] && ln -s "$cargo_bin/$b" "$dir/bin/$b"
done
git clone -q "$repo" "$dir/clone"
cd "$dir/clone"
echo "first run of .ci/run at $(git log --oneline -1); load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
path="$dir/bin:$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -x -F "$cargo_bin" | paste -sd:)"
env -i HOME="$dir/home" PATH="$path" RUSTUP_HOME="$rustup_home" RUSTUP_AUTO_INSTALL=0 \
    CARGO_HOME="$dir/home/.cargo" TERM=dumb ${pyenv_root:+PYENV_ROOT="$pyenv_root"} \
    /usr/bin/time -v bash .ci/run
echo "first run: $(( $(date +%s) - start )) s wall; load after $(cut -d' ' -f1-3 /proc/loadavg)"
