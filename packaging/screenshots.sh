#!/usr/bin/env bash
# Takes a screenshot of each tab of the real Hearth window, running on the
# demo backend under Xvfb:
#
#   packaging/screenshots.sh OUTDIR [HEARTH_BINARY]
#
# writes OUTDIR/<tab>-<theme>.png for every tab in the light and the dark
# theme. Without a binary it builds one. Needs xvfb, xauth and imagemagick.
# SHOT_DELAY (seconds, default 6) is how long the window gets to draw.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [HEARTH_BINARY]" >&2; exit 2; }
out="$(mkdir -p "$1" && cd "$1" && pwd)"
tmp="$(mktemp -d)"
xvfb_pid=""
cleanup() {
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

bin="${2:-}"
if [ -z "$bin" ]; then
  echo "screenshots: building hearth"
  (cd "$root" && go build -o "$tmp/hearth" .)
  bin="$tmp/hearth"
fi

display="${SHOT_DISPLAY:-:99}"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do
  DISPLAY="$display" xdpyinfo >/dev/null 2>&1 && break
  [ -e "/tmp/.X11-unix/X${display#:}" ] && break
  sleep 0.1
done

export DISPLAY="$display" HEARTH_DEMO=1 XDG_RUNTIME_DIR="$tmp"
for theme in light dark; do
  for tab in chat models network wallet settings; do
    HEARTH_TAB="$tab" HEARTH_THEME="$theme" "$bin" >"$tmp/$tab-$theme.log" 2>&1 &
    app=$!
    sleep "${SHOT_DELAY:-6}"
    if ! kill -0 "$app" 2>/dev/null; then
      echo "screenshots: hearth exited early on $tab ($theme):" >&2
      cat "$tmp/$tab-$theme.log" >&2
      exit 1
    fi
    # The window without a window manager sits at the top left corner.
    import -window root -crop 1100x720+0+0 +repage "$out/$tab-$theme.png"
    kill "$app"
    wait "$app" 2>/dev/null || true
    echo "screenshots: $out/$tab-$theme.png"
  done
done
