// Package assets holds Hearth's icons and other embedded resources. The
// PNG icons are renders of hearth.svg made by render.sh.
package assets

import _ "embed"

// IconSVG is the app icon as drawn.
//
//go:embed hearth.svg
var IconSVG []byte

// Icon256 is the app icon rendered at 256×256.
//
//go:embed hearth-256.png
var Icon256 []byte

// Icon512 is the app icon rendered at 512×512.
//
//go:embed hearth-512.png
var Icon512 []byte
