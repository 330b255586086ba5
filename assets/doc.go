// Package assets holds Hearth's icons and other embedded resources.
package assets
