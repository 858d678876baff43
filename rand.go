package raft

// rng is a splitmix64 generator: tiny, fast, and deterministic across
// platforms and Go releases, which math/rand's global source is not
// guaranteed to be. It randomises election timeouts (§5.2).
type rng struct{ state uint64 }

func newRNG(seed uint64, id NodeID) rng {
	// Hash the ID before mixing it in. With state = seed ^ id*γ (γ being
	// the increment), nodes sharing seed 0 would draw one sequence
	// shifted by id draws: nodes that drew equally often would time out
	// together in every election and split the vote forever.
	h := rng{state: uint64(id)}
	return rng{state: seed ^ h.next()}
}

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n), n > 0. The modulo bias is negligible for
// the small n used here.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }
