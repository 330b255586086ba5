//go:build !unix

package catalog

const runtimeHasFlock = false
