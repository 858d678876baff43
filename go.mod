module github.com/pureraft/raft

go 1.24
