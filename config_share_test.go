package raft

import (
	"reflect"
	"testing"
)

// TestNodeConfigMirrorsConfig: nodeConfig carries every Config field but
// ID and Seed, with the same type, and resolve copies each of them with its
// default applied. A field added to Config and forgotten here fails.
func TestNodeConfigMirrorsConfig(t *testing.T) {
	ct, nt := reflect.TypeFor[Config](), reflect.TypeFor[nodeConfig]()
	var c Config
	cv := reflect.ValueOf(&c).Elem()
	for i := range ct.NumField() {
		f := ct.Field(i)
		if f.Name == "ID" || f.Name == "Seed" {
			continue
		}
		nf, ok := nt.FieldByName(f.Name)
		if !ok || nf.Type != f.Type {
			t.Errorf("nodeConfig lacks Config.%s (%s)", f.Name, f.Type)
		}
		// A distinct non-zero value per field (booleans true).
		switch fv := cv.Field(i); fv.Kind() {
		case reflect.Bool:
			fv.SetBool(true)
		case reflect.Int:
			fv.SetInt(int64(1000 + i))
		case reflect.Uint64:
			fv.SetUint(uint64(1000 + i))
		case reflect.Pointer:
			fv.Set(reflect.New(fv.Type().Elem()))
		default:
			t.Fatalf("Config.%s has kind %s: extend this test", f.Name, fv.Kind())
		}
	}
	if nt.NumField() != ct.NumField()-2 {
		t.Errorf("nodeConfig has %d fields, Config %d (with ID and Seed)", nt.NumField(), ct.NumField())
	}
	c.ID = 1
	d, r := c.withDefaults(), c.resolve()
	dv, rv := reflect.ValueOf(d), reflect.ValueOf(r).Elem()
	for i := range nt.NumField() {
		name := nt.Field(i).Name
		if got, want := rv.Field(i).Interface(), dv.FieldByName(name).Interface(); got != want {
			t.Errorf("resolve: %s = %v, want %v", name, got, want)
		}
	}
}

// TestNodesShareTheirConfig: nodes with the same settings share one
// nodeConfig whatever their IDs and seeds; different settings do not.
func TestNodesShareTheirConfig(t *testing.T) {
	mk := func(cfg Config) *Node {
		n, err := NewNode(cfg, PersistentState{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := mk(Config{ID: 1, Seed: 7, ElectionTicks: 17})
	b := mk(Config{ID: 2, Seed: 8, ElectionTicks: 17})
	c := mk(Config{ID: 1, Seed: 7, ElectionTicks: 18})
	if a.cfg != b.cfg {
		t.Error("nodes with the same settings hold separate configs")
	}
	if a.cfg == c.cfg || c.cfg.ElectionTicks != 18 || a.cfg.ElectionTicks != 17 {
		t.Errorf("different settings share a config: %+v, %+v", *a.cfg, *c.cfg)
	}
}

// TestConfigCacheBounded: past maxSharedConfigs distinct settings, nodes
// get their own copies and the cache stops growing.
func TestConfigCacheBounded(t *testing.T) {
	var cc configCache
	for i := range 2 * maxSharedConfigs {
		p := cc.get(nodeConfig{ElectionTicks: i})
		if p.ElectionTicks != i {
			t.Fatalf("got %+v for ElectionTicks %d", *p, i)
		}
		if again := cc.get(nodeConfig{ElectionTicks: i}); (again == p) != (i < maxSharedConfigs) {
			t.Fatalf("config %d shared: %v", i, again == p)
		}
	}
	if len(cc.m) != maxSharedConfigs {
		t.Fatalf("cache holds %d configs, want %d", len(cc.m), maxSharedConfigs)
	}
}
