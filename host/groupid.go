package host

// GroupID names one Raft group among the many a host runs. Every replica
// of a group uses the same GroupID on every host.
type GroupID uint64
