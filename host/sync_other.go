//go:build !linux

package host

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

func preallocate(*os.File, int64) {}
