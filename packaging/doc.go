// Package packaging holds the desktop integration files (.desktop,
// AppStream metainfo, Flatpak manifest, systemd unit), the Linux packaging
// and screenshot scripts, and the tests that check them.
package packaging
