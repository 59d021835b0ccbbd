#!/usr/bin/env bash
# Print the Debian mirror the host's own apt uses (the first enabled source serving the
# "debian" archive, not debian-security), so debootstrap fetches from the same place apt
# does. Reads one-line (sources.list, *.list) and deb822 (*.sources) files; falls back to
# deb.debian.org.
set -euo pipefail
files=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
done
mirror=""
if ((${#files[@]})); then
    mirror=$(
        awk '
            FILENAME ~ /\.sources$/ && tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i; next }
            FILENAME !~ /\.sources$/ && $1 == "deb" {
                for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i ~ /:\/\//) { print $i; break }
            }
        ' "${files[@]}" | sed 's:/*$::' | grep -E '/debian$' | head -n 1
    ) || true
fi
echo "${mirror:-http://deb.debian.org/debian}"
