package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

type kvInput struct {
	put   bool
	key   string
	value string
}

type kvOutput struct {
	value string // for gets: "" when the key is missing
}

// kvModel is a register per key (porcupine partitions the history by key).
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.put {
			return true, in.value
		}
		return output.(kvOutput).value == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.put {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %q", in.key, output.(kvOutput).value)
	},
}

type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// The leader is killed with SIGKILL in the middle of a read/write load and
// restarted. Every client operation is recorded: a write whose outcome is
// unknown (it timed out even after retries with its request ID) may have
// taken effect at any time after it was called. The history must be
// linearizable, and no acknowledged write may be lost.
func TestKillLeaderLinearizable(t *testing.T) { testKillLeaderLinearizable(t) }

// testKillLeaderLinearizable runs the test on a cluster started with
// extra flags (TLS: TestKillLeaderLinearizableTLS).
func testKillLeaderLinearizable(t *testing.T, extra ...string) {
	c := newTestCluster(t, 3, extra...)
	c.leader()
	h := &history{start: time.Now()}
	acks := &ackLog{keys: map[string]string{}}
	stop := make(chan struct{})
	var wg, ackWG sync.WaitGroup
	writeLoad(c, "u", 2, acks, stop, &ackWG) // unique keys: none may be lost
	keys := []string{"x", "y", "z"}
	var liveMu sync.Mutex
	apis := func() []string {
		liveMu.Lock()
		defer liveMu.Unlock()
		var out []string
		for _, p := range c.live() {
			out = append(out, p.api)
		}
		return out
	}
	for client := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 42))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := keys[rng.IntN(len(keys))]
				if rng.IntN(2) == 0 {
					value := fmt.Sprintf("c%d-%d", client, n)
					rid := fmt.Sprintf("lin-%d-%d", client, n)
					call := h.now()
					ok := false
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					for ctx.Err() == nil {
						a := apis()
						r, err := do("PUT", urlOf(a[rng.IntN(len(a))])+"/kv/"+key+"?timeout=500ms&request_id="+rid, []byte(value), nil)
						if err == nil && r.code == 200 {
							ok = true
							break
						}
						time.Sleep(20 * time.Millisecond)
					}
					cancel()
					ret := int64(math.MaxInt64) // unknown: may take effect at any later time
					if ok {
						ret = h.now()
					}
					h.add(porcupine.Operation{ClientId: client, Input: kvInput{put: true, key: key, value: value}, Call: call, Output: kvOutput{}, Return: ret})
					if !ok {
						return // a client with an unknown write must not issue more (it would not be sequential)
					}
				} else {
					a := apis()
					call := h.now()
					v, code, err := getValue(&proc{api: a[rng.IntN(len(a))]}, key, "linearizable")
					if err != nil || (code != 200 && code != 404) {
						continue // a failed read has no effect
					}
					h.add(porcupine.Operation{ClientId: client, Input: kvInput{key: key}, Call: call, Output: kvOutput{value: v}, Return: h.now()})
				}
			}
		}()
	}
	time.Sleep(1200 * time.Millisecond)
	lead := c.leader()
	liveMu.Lock()
	c.kill(lead.id)
	liveMu.Unlock()
	time.Sleep(1000 * time.Millisecond)
	liveMu.Lock()
	c.start(lead.id)
	liveMu.Unlock()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	ackWG.Wait()
	// Final reads on every node, the restarted one included.
	c.leader()
	for _, p := range c.live() {
		for _, key := range keys {
			deadline := time.Now().Add(10 * time.Second)
			for {
				call := h.now()
				v, code, err := getValue(p, key, "linearizable")
				if err == nil && (code == 200 || code == 404) {
					h.add(porcupine.Operation{ClientId: 99, Input: kvInput{key: key}, Call: call, Output: kvOutput{value: v}, Return: h.now()})
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("final read of %s on node %d: %d %v", key, p.id, code, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	reads := 0
	for _, op := range h.ops {
		if !op.Input.(kvInput).put {
			reads++
		}
	}
	res := porcupine.CheckOperationsTimeout(kvModel, h.ops, 30*time.Second)
	t.Logf("%d operations (%d reads), linearizability check: %s", len(h.ops), reads, res)
	if reads < 50 {
		t.Fatalf("only %d reads succeeded", reads)
	}
	if res != porcupine.Ok {
		t.Fatalf("history is not linearizable (%s)", res)
	}
	checkAcked(t, lead, acks, "linearizable")
}
