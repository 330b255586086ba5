// Package kvcache holds the per-session key/value cache of a stage.
package kvcache
