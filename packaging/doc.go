// Package packaging holds the desktop integration files (.desktop, AppStream,
// Flatpak, systemd unit) and the tests that check them.
package packaging
