//go:build js && wasm

// Command wasm is raftsim built for the browser: the playground
// (go run ./cmd/raftsim -playground) loads it and drives a live simulation
// of the real core through the functions it registers on
// globalThis.raftsimLive:
//
//	start(scenario, seed, nodes)  begin a session; returns an error string or ""
//	advance(ticks, window)        run ticks more; returns the timeline JSON,
//	                              keeping the last window ticks of messages
//	act(kind, node, duration)     crash, restart, isolate, heal, campaign or
//	                              propose at the next tick (node 0: the leader)
//	replay()                      the command line that replays the session
package main

import (
	"syscall/js"

	"github.com/pureraft/raft"
	"github.com/pureraft/raft/raftsim"
)

var live *raftsim.Live

func main() {
	api := js.Global().Get("Object").New()
	api.Set("start", js.FuncOf(start))
	api.Set("advance", js.FuncOf(advance))
	api.Set("act", js.FuncOf(act))
	api.Set("replay", js.FuncOf(func(js.Value, []js.Value) any {
		if live == nil {
			return ""
		}
		return live.ReplayCommand()
	}))
	js.Global().Set("raftsimLive", api)
	select {} // serve calls until the page goes away
}

func start(_ js.Value, args []js.Value) any {
	sc, ok := raftsim.ScenarioNamed(args[0].String())
	if !ok {
		return "unknown scenario " + args[0].String()
	}
	sc.Nodes = args[2].Int()
	l, err := raftsim.NewLive(sc, uint64(args[1].Int()))
	if err != nil {
		return err.Error()
	}
	live = l
	return ""
}

func advance(_ js.Value, args []js.Value) any {
	if live == nil {
		return ""
	}
	live.Advance(args[0].Float())
	b, err := live.TimelineJSON(args[1].Int())
	if err != nil {
		return ""
	}
	return string(b)
}

func act(_ js.Value, args []js.Value) any {
	if live == nil {
		return "no session"
	}
	kinds := map[string]raftsim.FaultKind{
		"crash": raftsim.FaultCrash, "restart": raftsim.FaultRestart, "isolate": raftsim.FaultIsolate,
		"heal": raftsim.FaultHeal, "campaign": raftsim.FaultCampaign, "propose": raftsim.FaultPropose,
	}
	k, ok := kinds[args[0].String()]
	if !ok {
		return "unknown action " + args[0].String()
	}
	if err := live.Do(k, raft.NodeID(args[1].Int()), args[2].Int()); err != nil {
		return err.Error()
	}
	return ""
}
