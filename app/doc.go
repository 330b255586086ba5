// Package app is the Fyne desktop GUI: it renders the runtime's state and
// sends it commands. It declares the Backend it needs; the runtime's bridge
// satisfies it, and app/internal/demo is an in-memory Backend for the tests
// and the demo mode.
package app
