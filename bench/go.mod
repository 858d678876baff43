module github.com/pureraft/raft/bench

go 1.24

replace github.com/pureraft/raft => ../

require (
	github.com/pureraft/raft v0.0.0-00010101000000-000000000000
	go.etcd.io/raft/v3 v3.6.0
)

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
