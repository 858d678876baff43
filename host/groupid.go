package host

// GroupID names one Raft group among the many a host runs. Zero is never a
// group: on disk it marks a missing or damaged ID.
type GroupID uint64
