package host

// Leadership balance: no host should lead every group.
//
// Elections pick leaders at random, and a host that restarts last leads
// nothing; left alone, leadership drifts to a few hosts, which then carry
// every group's write and read load. BalanceLeadership moves leadership
// of groups this host leads to the replica whose host leads the fewest,
// as this host sees it (the leaders of the groups it holds), while this
// host leads at least two more than that replica's host. Every host
// running it (Config.BalanceInterval) converges to a spread in which no
// two hosts differ by more than one, for groups replicated on all hosts.

import (
	"context"
	"time"

	"github.com/pureraft/raft"
)

// BalanceLeadership transfers leadership of groups this host leads to
// replicas on hosts that lead fewer groups, and returns how many it moved.
func (h *Host) BalanceLeadership(ctx context.Context) (int, error) {
	groups := h.allGroups()
	led := map[raft.NodeID]int{}
	var mine []*Group
	for _, g := range groups {
		st := g.Status()
		if st.Leader != raft.None {
			led[st.Leader]++
		}
		if st.Role == raft.RoleLeader {
			mine = append(mine, g)
		}
	}
	moved := 0
	for _, g := range mine {
		m, err := g.Membership(ctx)
		if err != nil {
			return moved, err
		}
		to := raft.None
		for _, id := range m.Voters {
			if id == h.id || m.IsWitness(id) || !h.tr.reachable(id) {
				continue
			}
			if to == raft.None || led[id] < led[to] {
				to = id
			}
		}
		if to == raft.None || led[h.id]-led[to] < 2 {
			continue
		}
		if _, err := g.TransferLeadership(ctx, to); err != nil {
			g.log.Debug("leadership balance: transfer failed", "to", to, "err", err)
			continue
		}
		led[h.id]--
		led[to]++
		moved++
	}
	return moved, nil
}

func (h *Host) balanceLoop() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.BalanceInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stopc:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.BalanceInterval)
		if n, err := h.BalanceLeadership(ctx); n > 0 || err != nil {
			h.log.Info("leadership balanced", "moved", n, "err", err)
		}
		cancel()
	}
}
