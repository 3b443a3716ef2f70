#!/usr/bin/env bash
# Download one Debian package (without installing it) into the gspkit cache and unpack it.
# Usage: debian-fetch.sh PACKAGE [SUITES]          (SUITES default: "sid trixie")
#        debian-fetch.sh --search REGEX [SUITES]   (print "NAME CANDIDATE-VERSION" per matching package)
# Prints the unpack directory on stdout. Reuses the machine's own archive URI; names no host.
# Exit codes: 0 ok, 2 usage, 3 no archive URI in the apt configuration, 4 package not found,
# other non-zero: apt-get / dpkg-deb failed.
set -euo pipefail
mode=fetch
if [ "${1:-}" = "--search" ]; then mode=search; shift; fi
arg=${1:-}
[ -n "$arg" ] || { echo "usage: debian-fetch.sh PACKAGE [SUITES] | --search REGEX [SUITES]" >&2; exit 2; }
suites=${2:-"sid trixie"}
cache=${GSPKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gspkit}
dest="$cache/debian/$arg"
if [ "$mode" = fetch ] && [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi

uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$uri" ] || { echo "debian-fetch: no Debian archive URI found in the apt configuration" >&2; exit 3; }

work="$cache/debian/.apt"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts"
printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main contrib non-free non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$uri" "$suites" > "$work/parts/gspkit.sources"
# deb822 syntax is only accepted from a *.sources file in a parts directory.
A=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
   -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
# Refresh the private package lists at most once a day, or when the suites changed.
if [ -z "$(find "$work/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ] ||
   [ "$(cat "$work/suites.stamp" 2>/dev/null || true)" != "$suites" ]; then
  echo "debian-fetch: updating package lists ($suites)" >&2
  apt-get "${A[@]}" -q update >&2
  printf '%s' "$suites" > "$work/suites.stamp"
fi

if [ "$mode" = search ]; then
  names=$(apt-cache "${A[@]}" search --names-only "$arg" | awk '{print $1}' | sort -u)
  [ -n "$names" ] || { echo "debian-fetch: no package matches $arg in $suites" >&2; exit 4; }
  for n in $names; do
    v=$(apt-cache "${A[@]}" policy "$n" | awk '/Candidate:/{print $2; exit}')
    echo "$n ${v:-none}"
  done
  exit 0
fi

pkg=$arg
if ! apt-cache "${A[@]}" show "$pkg" >/dev/null 2>&1; then
  echo "debian-fetch: package $pkg is not available in $suites" >&2; exit 4
fi
mkdir -p "$dest.tmp"
echo "debian-fetch: downloading $pkg" >&2
(cd "$work" && rm -f "${pkg}"_*.deb && apt-get "${A[@]}" -q download "$pkg" >&2)
deb=$(ls -t "$work/${pkg}"_*.deb | head -1)
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
dpkg-deb -x "$deb" "$dest.tmp"
basename "$deb" > "$dest.tmp/.deb-name"
rm -f "$deb"
rm -rf "$dest" && mv "$dest.tmp" "$dest" && touch "$dest/.complete"
echo "$dest"
