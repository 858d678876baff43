package host

// Snapshot files are verified at start-up, not only when they are needed:
// a corrupt or deleted file would otherwise go unnoticed until a follower
// needs it, or until the machine must be rebuilt from it.

import (
	"context"
	"os"
	"time"
)

// verifySnapshots checks every snapshot file's checksum and puts corrupt
// ones aside (renamed *.corrupt, kept for inspection). It reports whether
// the file of the WAL's snapshot (at index; 0: none) is there and sound.
func (g *Group) verifySnapshots(index uint64) bool {
	ok, putAside := index == 0, false
	for _, i := range g.snaps.list() {
		path := g.snaps.path(i)
		got, err := verifySnapshotFile(path)
		if err == nil && got == i {
			ok = ok || i == index
			continue
		}
		g.metrics.badSnaps.Inc()
		putAside = putAside || i == index
		g.log.Error("snapshot file is corrupt: put aside", "file", path, "err", err, "index_in_file", got)
		if rerr := os.Rename(path, path+".corrupt"); rerr != nil {
			g.log.Error("cannot put the corrupt snapshot file aside", "err", rerr)
		}
	}
	if !ok && !putAside {
		g.metrics.badSnaps.Inc()
		g.log.Error("snapshot file is missing", "index", index)
	}
	return ok
}

// replaceSnapshot takes a snapshot of the machine once the host runs, to
// replace a corrupt or missing file.
func (g *Group) replaceSnapshot() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	idx, err := g.TakeSnapshot(ctx)
	if err != nil {
		g.log.Error("cannot replace the corrupt or missing snapshot file", "err", err)
		return
	}
	g.log.Warn("replaced the corrupt or missing snapshot file with a new snapshot", "index", idx)
}
