//go:build unix

package catalog

const runtimeHasFlock = true
