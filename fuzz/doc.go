// Package fuzz holds the native Go fuzz targets of pureraft and their
// committed seed corpus (testdata/fuzz/<Target>/). It has no API: the
// targets live in its test files.
//
// Decoding targets feed arbitrary bytes to the codecs and check that they
// never panic, allocate only in proportion to the input, and accept only
// canonical encodings (every accepted input re-encodes to the same bytes):
//
//	FuzzDecodeMessage       raft.Decode
//	FuzzDecodeEntry         raft.DecodeEntry
//	FuzzDecodeHardState     raft.DecodeHardState
//	FuzzDecodeSnapshotMeta  raft.DecodeSnapshotMeta
//
// FuzzStep puts one node of a small cluster in each role and feeds it a
// program decoded from the input — messages (well-formed, hostile, or raw
// bytes through raft.Decode), ticks, proposals, persist acknowledgements,
// compactions, membership changes — next to a twin node that receives only
// the inputs the first one accepted. Every rejected input must leave the
// node exactly as it was, and node-local invariants (terms, votes, commit,
// the persisted log) must hold throughout.
//
// FuzzCluster drives a whole cluster in the raftsim simulator from a
// schedule decoded from the input and checks raftsim's safety properties.
//
// The plain test run (go test ./...) runs every target on its seed corpus.
// To fuzz, run one target at a time, for example:
//
//	go test ./fuzz -run='^$' -fuzz='^FuzzStep$' -fuzztime=60s
//
// or every target in turn with fuzz/run.sh TIME. See docs/testing.md.
package fuzz
