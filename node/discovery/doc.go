// Package discovery finds peers and shard providers over mDNS and the Kademlia DHT.
package discovery
