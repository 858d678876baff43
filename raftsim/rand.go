package raftsim

import "math/bits"

// Rand is the simulator's deterministic pseudo-random generator
// (splitmix64). Every random choice of a run comes from a Rand derived from
// the run's seed, never from math/rand's global source or a clock, so a
// seed replays bit for bit on every platform and Go release.
//
// Each component (network, disks, clients, each kind of fault) draws from
// its own stream (see [Rand.Stream]). Turning one kind of fault off then
// leaves the schedule of the others unchanged until the runs diverge, which
// is what makes shrinking a failing run effective.
type Rand struct{ state, seed uint64 }

// NewRand returns a generator seeded with seed.
func NewRand(seed uint64) *Rand { return &Rand{state: mix64(seed), seed: seed} }

// Stream returns an independent generator for the component named label,
// derived from r's seed and label alone (not from r's position), so the
// streams of a run do not depend on the order they are created in.
func (r *Rand) Stream(label string) *Rand {
	h := uint64(14695981039346656037) // FNV-1a offset basis
	for i := 0; i < len(label); i++ {
		h ^= uint64(label[i])
		h *= 1099511628211
	}
	return NewRand(r.seed ^ mix64(h))
}

// mix64 is splitmix64's finaliser: a bijective scramble of 64 bits.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uint64 returns 64 random bits.
func (r *Rand) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// Intn returns a uniform value in [0, n); n must be positive. It uses
// Lemire's multiply-shift, whose bias is below 2^-32 for the n used here.
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		panic("raftsim: Intn with n <= 0")
	}
	hi, _ := bits.Mul64(r.Uint64(), uint64(n))
	return int(hi)
}

// Range returns a uniform value in [lo, hi] (lo when hi <= lo).
func (r *Rand) Range(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	span := uint64(hi-lo) + 1
	v, _ := bits.Mul64(r.Uint64(), span)
	return lo + int64(v)
}

// Float64 returns a uniform value in [0, 1), built from 53 random bits.
func (r *Rand) Float64() float64 { return float64(r.Uint64()>>11) * (1.0 / (1 << 53)) }

// Chance reports true with probability p. It draws nothing when p <= 0, so a
// disabled fault leaves its stream untouched.
func (r *Rand) Chance(p float64) bool {
	if p <= 0 {
		return false
	}
	return r.Float64() < p
}

// shuffle permutes s in place (Fisher–Yates).
func shuffle[T any](r *Rand, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}
