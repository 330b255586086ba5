// Package meter meters the work of shard sessions and exchanges signed receipts.
package meter
