#!/usr/bin/env bash
# Renders hearth.svg to the PNG icons with ImageMagick (which reads SVG
# through librsvg's rsvg-convert: apt-get install imagemagick librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
for size in 256 512; do
  convert -background none hearth.svg -resize "${size}x${size}" "PNG32:hearth-${size}.png"
done
