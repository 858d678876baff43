package kv

// Keys are spread over the host's Raft groups by a hash of the key.
//
// The number of groups is fixed when the cluster is founded (raftkv
// --groups): a key's group is its FNV-1a hash modulo the number of groups,
// and changing that number would move keys between groups without moving
// their data. There is no resharding.

import (
	"hash/fnv"

	"github.com/pureraft/raft/host"
)

// GroupOf returns the group that holds key, among groups (sorted, as
// host.Host.Groups returns them).
func GroupOf(key string, groups []host.GroupID) host.GroupID {
	f := fnv.New64a()
	f.Write([]byte(key))
	return groups[f.Sum64()%uint64(len(groups))]
}
