// Package app is the Fyne desktop GUI: it renders the runtime's state and sends it commands.
package app
