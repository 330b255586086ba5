// Package model runs llama-family models as stages: layer ranges with their own KV caches.
package model
