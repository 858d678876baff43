package raftsim

import "testing"

func TestRand(t *testing.T) {
	a, b := NewRand(1), NewRand(1)
	for i := 0; i < 100; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same seed, different sequence")
		}
	}
	// Streams depend on the seed and label only.
	r := NewRand(9)
	s1 := r.Stream("x").Uint64()
	r.Uint64()
	if s2 := r.Stream("x").Uint64(); s1 != s2 {
		t.Fatal("stream depends on the parent's position")
	}
	if r.Stream("x").Uint64() == r.Stream("y").Uint64() {
		t.Fatal("streams with different labels coincide")
	}
	var hist [10]int
	for i := 0; i < 100000; i++ {
		v := r.Intn(10)
		hist[v]++
		if x := r.Range(-3, 3); x < -3 || x > 3 {
			t.Fatalf("Range gave %d", x)
		}
		if f := r.Float64(); f < 0 || f >= 1 {
			t.Fatalf("Float64 gave %v", f)
		}
	}
	for v, n := range hist {
		if n < 9000 || n > 11000 {
			t.Fatalf("Intn(10) gave %d %d times in 100000", v, n)
		}
	}
	if r.Chance(0) || !r.Chance(1) {
		t.Fatal("Chance(0) or Chance(1) wrong")
	}
}
