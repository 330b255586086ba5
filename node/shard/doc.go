// Package shard implements the /hearth/shard/1 protocol: serving a layer range to peers and the client side of a remote stage.
package shard
