package kv

// Listing by prefix across groups.
//
// Keys are spread over the groups by hash, so a prefix's keys live in
// every group. A list asks each group for up to limit keys (each group's
// answer at the requested consistency, as a single-group list is), merges
// them in key order and keeps the first limit.
//
// What it guarantees: each group's part is linearizable (or lease, or
// stale) on its own. What it does not: the parts are read one after
// another, not at one instant, so a list is not a snapshot of the whole
// store. A write to group A that completed before a write to group B may
// show in the list without the first, or the second without the first,
// depending on when each group was read. Making it one would need a
// common read point across groups (a transaction layer); raftkv has none.
// With one group a list is linearizable as before.

import (
	"context"
	"slices"
	"strings"

	"github.com/pureraft/raft/host"
)

// list returns up to limit items with the prefix, in key order, from every
// group, and whether there are more.
func (s *Server) list(ctx context.Context, c host.Consistency, prefix string, limit int) ([]Item, bool, error) {
	var all []Item
	more := false
	for _, id := range s.h.Groups() {
		g, ok := s.h.Group(id)
		if !ok {
			continue
		}
		out, err := g.Read(ctx, c, EncodeQuery(Query{Type: QueryList, Key: []byte(prefix), Limit: limit}))
		if err != nil {
			return nil, false, err
		}
		items, m, err := DecodeList(out)
		if err != nil {
			return nil, false, err
		}
		all = append(all, items...)
		more = more || m
	}
	slices.SortFunc(all, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	if len(all) > limit {
		all, more = all[:limit], true
	}
	return all, more, nil
}
