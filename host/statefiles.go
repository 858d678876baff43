package host

// The host's small state files: the address book and the boot record.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

func loadPeers(dir string) Peers {
	p := Peers{}
	b, err := os.ReadFile(filepath.Join(dir, "peers.json"))
	if err == nil {
		json.Unmarshal(b, &p)
	}
	return p
}

func savePeers(dir string, p Peers) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "peers.json"), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// The boot file records the kernel boot ID at start-up and whether the
// host shut down cleanly. A machine that syncs lazily (bbolt with NoSync)
// is only suspect after an unclean shutdown *and* a reboot: a crashed
// process loses nothing the kernel already had, a crashed kernel may.
type bootState struct {
	BootID string `json:"boot_id"`
	Clean  bool   `json:"clean"`
}

func currentBootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "unknown"
	}
	return string(b)
}

// checkBoot reports whether the machine's files may have lost writes. If
// they may not, it records this start (unclean until Close) at once. If
// they may, the caller records it with recordStart only once the machine
// has been rebuilt: until then a crash, a failed start or another reboot
// must leave the machine suspect, or the next start would trust it.
func checkBoot(dir string) (suspect bool, err error) {
	path := filepath.Join(dir, "boot.json")
	var prev bootState
	if b, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(b, &prev) == nil {
			suspect = !prev.Clean && prev.BootID != currentBootID()
		}
	}
	if suspect {
		return true, nil
	}
	return false, recordStart(dir)
}

// recordStart records a start in this boot, unclean until Close.
func recordStart(dir string) error {
	b, _ := json.Marshal(bootState{BootID: currentBootID()})
	return writeFileAtomic(filepath.Join(dir, "boot.json"), b)
}

func markClean(dir string) error {
	b, _ := json.Marshal(bootState{BootID: currentBootID(), Clean: true})
	return writeFileAtomic(filepath.Join(dir, "boot.json"), b)
}

// listGroups returns the groups that have a directory under Dir/groups.
// A directory that is not a group ID (a removal under way, see
// RemoveGroup) is skipped.
func listGroups(dir string) ([]GroupID, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "groups"))
	if err != nil {
		return nil, err
	}
	var out []GroupID
	for _, e := range ents {
		id, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || !e.IsDir() || id == 0 {
			continue
		}
		out = append(out, GroupID(id))
	}
	slices.Sort(out)
	return out, nil
}

// oldLayout reports whether dir holds the one-group layout of before
// issue 17: a WAL at the top and no groups directory.
func oldLayout(dir string) bool {
	_, werr := os.Stat(filepath.Join(dir, "wal"))
	_, gerr := os.Stat(filepath.Join(dir, "groups"))
	return werr == nil && os.IsNotExist(gerr)
}
