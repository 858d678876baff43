package raftsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/pureraft/raft"
)

// This file renders a run as a self-contained HTML page: one lane per
// node along a time axis, coloured by role and labelled with terms,
// messages as arrows between lanes (lost ones crossed out), crashes,
// partitions and link flaps marked, one lane per client with its
// operations, and the text trace of the visible window. Everything is
// inline (SVG drawn by a small script); the page needs no network.

// timeline is the data the page's script draws.
type timeline struct {
	Title     string     `json:"title"`
	Summary   string     `json:"summary"`
	Violation string     `json:"violation"`
	Replay    string     `json:"replay"`
	Nodes     int        `json:"nodes"`
	Members   int        `json:"members"` // nodes 1..Members start in the cluster; the rest are spares
	Clients   int        `json:"clients"`
	End       Time       `json:"end"`
	HealAt    Time       `json:"healAt"`
	ViolAt    Time       `json:"violAt"`
	Partial   bool       `json:"partial"`
	Live      bool       `json:"live"`   // a playground session: the page refreshes D
	Roles     [][]any    `json:"roles"`  // node, start, end, role, term
	Down      [][]Time   `json:"down"`   // node, start, end
	Msgs      [][]any    `json:"msgs"`   // from, to, sent, arrived, type, term, fate(0 ok, 1 lost in flight, 2 lost at send), detail, send step, arrival step, ID
	Faults    [][]any    `json:"faults"` // start, end, text
	Flaps     [][]any    `json:"flaps"`  // from, to, start, end
	Ops       [][]any    `json:"ops"`    // client, call, return (-1: never), text, attempts
	Events    [][]any    `json:"events"` // time, step, kind, node, text: everything but ticks and messages
	Logs      [][]any    `json:"logs"`   // the log view's changes: see logView
	MsgTypes  []string   `json:"msgTypes"`
	RoleNames []string   `json:"roleNames"`
	Legend    [][]string `json:"legend"`
}

func msgDetail(e *TraceEvent) string {
	switch e.Msg {
	case raft.MsgApp:
		return fmt.Sprintf("prev %d/%d, %d entries, commit %d", e.Index, e.LogTerm, e.N, e.Commit)
	case raft.MsgAppResp:
		if e.Reject {
			return fmt.Sprintf("REJECT index %d", e.Index)
		}
		return fmt.Sprintf("index %d", e.Index)
	case raft.MsgHeartbeat:
		return fmt.Sprintf("commit %d", e.Commit)
	case raft.MsgVote, raft.MsgPreVote:
		return fmt.Sprintf("last %d/%d", e.Index, e.LogTerm)
	case raft.MsgVoteResp, raft.MsgPreVoteResp:
		if e.Reject {
			return "rejected"
		}
		return "granted"
	case raft.MsgProp:
		return fmt.Sprintf("%d entries", e.N)
	}
	return ""
}

func buildTimeline(r *Result) *timeline {
	sc := &r.Scenario
	tl := &timeline{
		Title:   fmt.Sprintf("raftsim: scenario %s, seed %d", sc.Name, r.Seed),
		Replay:  sc.ReplayCommand(r.Seed),
		Nodes:   sc.totalNodes(),
		Members: sc.Nodes,
		Clients: sc.Workload.Clients,
		End:     r.End,
		HealAt:  Ticks(sc.Ticks),
		ViolAt:  -1,
		Partial: !r.Trace.full,
		// Empty, not nil: the script iterates over every one.
		Roles: [][]any{}, Down: [][]Time{}, Msgs: [][]any{}, Faults: [][]any{},
		Flaps: [][]any{}, Ops: [][]any{}, Events: [][]any{}, Logs: r.logOps,
	}
	if tl.Logs == nil {
		tl.Logs = [][]any{}
	}
	var sum bytes.Buffer
	r.WriteSummary(&sum)
	tl.Summary = sum.String()
	if r.Violation != nil {
		tl.Violation = r.Violation.Error()
		tl.ViolAt = r.Violation.Time
	}
	for t := raft.MessageType(0); t < 16; t++ {
		tl.MsgTypes = append(tl.MsgTypes, t.String())
	}
	for ro := raft.Role(0); ro < 4; ro++ {
		tl.RoleNames = append(tl.RoleNames, ro.String())
	}
	type roleState struct {
		start Time
		role  raft.Role
		term  raft.Term
		up    bool
	}
	roles := make([]roleState, sc.totalNodes()+1)
	downSince := make([]Time, sc.totalNodes()+1)
	for i := range roles {
		// A spare is drawn from the moment it first hears of a leader
		// (its first role event), not as a follower from the start.
		roles[i].up = i <= sc.Nodes
		downSince[i] = -1
	}
	closeRole := func(n raft.NodeID, at Time) {
		rs := &roles[n]
		if rs.up && at > rs.start {
			tl.Roles = append(tl.Roles, []any{n, rs.start, at, rs.role, rs.term})
		}
		rs.start = at
	}
	type sent struct {
		at Time
		e  *TraceEvent
	}
	sends := map[uint64]sent{}
	delivered := map[uint64]bool{}
	var faultStart Time = -1
	var faultText string
	closeFault := func(at Time) {
		if faultStart >= 0 {
			tl.Faults = append(tl.Faults, []any{faultStart, at, faultText})
			faultStart = -1
		}
	}
	type opKey struct {
		client int
		seq    uint64
	}
	attempts := map[opKey]int{}
	evs := r.Trace.Events()
	for i := range evs {
		e := &evs[i]
		switch e.Kind {
		case TrTick, TrSend, TrDeliver, TrDrop:
		default:
			tl.Events = append(tl.Events, []any{e.Time, e.Step, e.Kind.String(), e.Node, eventText(e)})
		}
		switch e.Kind {
		case TrRole:
			closeRole(e.Node, e.Time)
			roles[e.Node].role, roles[e.Node].term = e.Role, e.Term
			if downSince[e.Node] < 0 {
				roles[e.Node].up = true
			}
		case TrCrash:
			closeRole(e.Node, e.Time)
			roles[e.Node].up = false
			downSince[e.Node] = e.Time
		case TrRestart:
			if downSince[e.Node] >= 0 {
				tl.Down = append(tl.Down, []Time{Time(e.Node), downSince[e.Node], e.Time})
				downSince[e.Node] = -1
			}
			roles[e.Node] = roleState{start: e.Time, role: raft.RoleFollower, term: e.Term, up: true}
		case TrSend:
			sends[e.Aux] = sent{e.Time, e}
		case TrDeliver, TrDrop:
			s, ok := sends[e.Aux]
			switch {
			case e.Kind == TrDrop && !ok: // lost when sent
				tl.Msgs = append(tl.Msgs, []any{e.Node, e.Peer, e.Time, -1, e.Msg, e.Term, 2, msgDetail(e) + " — " + e.Text, e.Step, e.Step, e.Aux})
			case ok:
				fate := 0
				detail := msgDetail(s.e)
				if e.Kind == TrDrop {
					fate = 1
					detail += " — " + e.Text
				}
				if delivered[e.Aux] {
					detail += " (duplicate)"
				}
				delivered[e.Aux] = true
				tl.Msgs = append(tl.Msgs, []any{e.Node, e.Peer, s.at, e.Time, e.Msg, e.Term, fate, detail, s.e.Step, e.Step, e.Aux})
			}
		case TrFault:
			if e.Peer != 0 { // a link flap
				tl.Flaps = append(tl.Flaps, []any{e.Node, e.Peer, e.Time, e.Time + Ticks(int(e.Aux))})
				continue
			}
			closeFault(e.Time)
			faultStart, faultText = e.Time, e.Text
		case TrHeal:
			closeFault(e.Time)
		case TrAttempt:
			attempts[opKey{int(e.Aux), e.Aux2}]++
		}
	}
	for n := 1; n <= sc.totalNodes(); n++ {
		closeRole(raft.NodeID(n), r.End)
		if downSince[n] >= 0 {
			tl.Down = append(tl.Down, []Time{Time(n), downSince[n], r.End})
		}
	}
	closeFault(r.End)
	sort.SliceStable(tl.Msgs, func(i, j int) bool { return tl.Msgs[i][2].(Time) < tl.Msgs[j][2].(Time) })
	for i := range r.History {
		h := &r.History[i]
		text := fmt.Sprintf("client %d op %d", h.Client, h.Seq)
		if r.model.DescribeOperation != nil {
			if h.Done() {
				text += ": " + r.model.DescribeOperation(h.Input, h.Output)
			} else if d := describeInput(r.model, h.Input); d != "" {
				text += ": " + d + " (no answer)"
			}
		}
		tl.Ops = append(tl.Ops, []any{h.Client, h.Call, h.Return, text, attempts[opKey{h.Client, h.Seq}]})
	}
	return tl
}

// eventText is the trace line without its step and time columns.
func eventText(e *TraceEvent) string {
	s := e.String()
	if len(s) > 20 {
		return strings.TrimLeft(s[20:], " ")
	}
	return s
}

// WriteHTML writes the run's timeline as a self-contained HTML page. The
// run should have kept its full trace (Options.FullTrace); otherwise only
// the last events are drawn.
func WriteHTML(w io.Writer, r *Result) error {
	data, err := json.Marshal(buildTimeline(r))
	if err != nil {
		return err
	}
	return htmlPage.Execute(w, pageData{Title: fmt.Sprintf("raftsim %s seed %d", r.Scenario.Name, r.Seed), Data: template.JS(data)})
}

// pageData fills the page template.
type pageData struct {
	Title string
	Data  template.JS
	// Live pages (the playground) load the simulator compiled to
	// WebAssembly and run Scenario from Seed with Nodes, refreshing D.
	Live     bool
	Scenario string
	Seed     uint64
	Nodes    int
}

// WritePlaygroundHTML writes the playground's page: the timeline of a live
// session of sc from seed, run in the browser by the simulator compiled to
// WebAssembly (served beside the page as raftsim.wasm, with Go's
// wasm_exec.js), with buttons to crash, restart, isolate, heal, time out
// and make propose any node.
func WritePlaygroundHTML(w io.Writer, sc Scenario, seed uint64) error {
	l, err := NewLive(sc, seed)
	if err != nil {
		return err
	}
	data, err := l.TimelineJSON(100)
	if err != nil {
		return err
	}
	return htmlPage.Execute(w, pageData{Title: fmt.Sprintf("raftsim playground: %s, seed %d", sc.Name, seed), Data: template.JS(data),
		Live: true, Scenario: sc.Name, Seed: seed, Nodes: sc.Nodes})
}

// htmlPageSource is the timeline page's template.
const htmlPageSource = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:13px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:10px 16px;background:#263238;color:#eceff1}
header h1{font-size:17px;margin:0 0 4px}
header code{background:#37474f;padding:1px 5px;border-radius:3px;color:#fff}
#viol{color:#ffab91;font-weight:600}
#controls{padding:8px 16px;background:#eceff1;border-bottom:1px solid #cfd8dc;display:flex;flex-wrap:wrap;gap:12px;align-items:center;position:sticky;top:0;z-index:2}
#controls label{white-space:nowrap}
#pos{width:320px}
#chart{padding:6px 16px;overflow-x:auto}
svg text{font-size:11px;pointer-events:none}
#legend span{display:inline-block;margin-right:12px}
#legend i{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin-right:4px;border:1px solid #999}
details{margin:6px 16px}
pre{margin:0;font:12px/1.35 ui-monospace,Menlo,Consolas,monospace}
#trace{max-height:340px;overflow:auto;background:#fff;border:1px solid #cfd8dc;padding:6px}
#trace .v{color:#c62828;font-weight:700}
#trace .f{color:#6a1b9a}
#help{color:#455a64;max-width:1100px}
#logview{padding:2px 16px 8px}
#loghead{font-weight:600;color:#37474f;margin:4px 0}
</style></head><body>
<header><h1 id="title"></h1><div id="viol"></div><div>replay: <code id="replay"></code></div></header>
<div id="controls">
 <button id="prev" title="earlier (left arrow)">&#9664;</button>
 <input id="pos" type="range" min="0" max="1000" value="0">
 <button id="next" title="later (right arrow)">&#9654;</button>
 <label>window <select id="win"><option>5</option><option selected>10</option><option>25</option><option>50</option><option>100</option><option>250</option><option>1000</option><option value="0">all</option></select> ticks</label>
 <span id="range"></span>
 <label><input type="checkbox" id="shb" checked> heartbeats</label>
 <label><input type="checkbox" id="sapp" checked> appends</label>
 <label><input type="checkbox" id="svote" checked> votes</label>
 <label><input type="checkbox" id="sprop" checked> proposals</label>
 <label><input type="checkbox" id="sdisk"> disk writes</label>
 <label><input type="checkbox" id="sapply" checked> commits/applies</label>
 <button id="goviol" hidden>jump to violation</button>
 <button id="goheal">jump to healing</button>
</div>
{{if .Live}}<div id="livebar" style="padding:6px 16px;background:#fff8e1;border-bottom:1px solid #ffe082">
 <b>live:</b> <button id="lpause">pause</button>
 <label>speed <select id="lspeed"><option value="0.5">0.5</option><option value="2" selected>2</option><option value="5">5</option><option value="20">20</option></select> ticks/s</label>
 &nbsp; node <select id="lnode"><option value="0">the leader</option></select>
 <button data-act="crash">crash</button> <button data-act="restart">restart</button> <button data-act="isolate">isolate</button>
 <button data-act="heal">heal the network</button> <button data-act="campaign">time out its election</button> <button data-act="propose">propose</button>
 &nbsp; <button id="lexport">export</button> <span id="lmsg"></span> <span id="autotest"></span>
</div>{{end}}
<div id="legend" style="padding:4px 16px"></div>
<div id="chart"></div>
<div id="logview"><div id="loghead"></div><div id="logs"></div></div>
<details open><summary>trace of the visible window</summary><div id="trace"><pre id="tracepre"></pre></div></details>
<details><summary>run summary</summary><pre id="summary"></pre></details>
<details><summary>how to read this page</summary><div id="help">
<p>Time runs left to right in ticks (a node's tick is its clock step; nodes tick at slightly different rates). Each node has a lane, coloured by its role in the current term: grey follower, yellow pre-candidate, orange candidate, green leader; the term is written where it changes ("t3 L" = leader of term 3). A red hatched stretch is a crash: the node is down, and the writes its disk had not completed are lost; it restarts from what was durable.</p>
<p>Arrows are messages, from the sender's lane at the send time to the receiver's lane at the arrival time. Blue: AppendEntries (MsgApp) and answers; grey: heartbeats; orange: votes and their answers; teal: pre-votes and their answers; green: forwarded proposals. A dashed arrow ending in a cross was lost: dropped by the network, cut by a partition while in flight, or sent to a crashed node. Hover over anything for details.</p>
<p>The purple band at the top is a network fault (partition, one-way cut, isolation); thin purple bars on a lane show a flapping link from that node. Small squares on a lane are persist actions handed to the disk (light) and writes that became durable and were acknowledged (dark); green ticks are commits and applies. Below the nodes, one lane per client shows each operation from invocation to response; a grey bar never got an answer.</p>
<p>The log view under the lanes shows every node's log at the end of the visible window, as Raft is about: one box per entry, coloured and labelled by its term; a solid border if the entry is durable on that node's disk, dashed if it is only in memory (a crash loses it); faded if a snapshot covers it. Under each log a green bar reaches the commit index and a darker one the applied index. Under each follower of a leader, "m" marks the leader's match index for it and "n" its next index. When a check fails, the entries the violation names are outlined in red, and the page opens there.</p>
<p>Things to look for: an election (pre-vote and vote arrows, then a green lane); a leader cut off in a minority that keeps its role until check-quorum makes it step down; a follower that acknowledges entries only after its disk made them durable; a restarted node catching up.</p>
</div></details>
{{if .Live}}<script src="wasm_exec.js"></script>{{end}}
<script>
let D = {{.Data}};
const $ = id => document.getElementById(id);
const autotestOn = location.hash.includes("autotest"); // before saveHash rewrites it
function header() {
  $("title").textContent = D.title;
  $("replay").textContent = D.replay;
  $("summary").textContent = D.summary;
  $("viol").textContent = D.violation ? "VIOLATION: " + D.violation : "";
  $("goviol").hidden = !D.violation;
  if (D.partial) { $("viol").textContent += " (only the last events were recorded: rerun with the full trace)"; }
}
header();
const T = 1000, LANE = 38, CLANE = 16, LEFT = 70, TOP = 22;
const roleFill = ["#dfe6ee", "#fff3b0", "#ffcc80", "#a5d6a7"];
const roleShort = ["F", "PC", "C", "L"];
const msgColor = t => ({1:"#1565c0",2:"#64b5f6",3:"#9e9e9e",4:"#c7c7c7",5:"#e65100",6:"#ff8a65",7:"#00897b",8:"#80cbc4",9:"#2e7d32"})[t] || "#555";
const legend = [["Follower", roleFill[0]], ["PreCandidate", roleFill[1]], ["Candidate", roleFill[2]], ["Leader", roleFill[3]], ["down (crashed)", "#ef9a9a"],
  ["MsgApp", msgColor(1)], ["MsgAppResp", msgColor(2)], ["heartbeat", msgColor(3)], ["vote", msgColor(5)], ["vote answer", msgColor(6)], ["pre-vote", msgColor(7)], ["pre-vote answer", msgColor(8)], ["proposal", msgColor(9)], ["network fault", "#ce93d8"], ["flapping link", "#8e24aa"]];
$("legend").innerHTML = legend.map(([n, c]) => '<span><i style="background:' + c + '"></i>' + n + '</span>').join("");
const fmt = t => (t / T).toFixed(3).replace(/\.?0+$/, "");
let t0 = 0, win = 10 * T;
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"})[c]);
function show(type) {
  if (type === 3 || type === 4) return $("shb").checked;
  if (type === 1 || type === 2) return $("sapp").checked;
  if (type >= 5 && type <= 8) return $("svote").checked;
  if (type === 9) return $("sprop").checked;
  return true;
}
function draw() {
  const W = Math.max(600, $("chart").clientWidth - 40);
  const span = win > 0 ? win : D.end + 1;
  const t1 = t0 + span;
  const X = t => LEFT + (t - t0) / span * W;
  const laneY = n => TOP + (n - 1) * LANE;
  const clientY = c => TOP + D.nodes * LANE + 14 + (c - 1) * CLANE;
  const H = clientY(D.clients + 1) + 10;
  const vis = (a, b) => b >= t0 && a <= t1;
  const out = [];
  out.push('<svg xmlns="http://www.w3.org/2000/svg" width="' + (W + LEFT + 10) + '" height="' + H + '">');
  out.push('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffcdd2"/><line x1="0" y1="0" x2="0" y2="6" stroke="#e57373" stroke-width="3"/></pattern>');
  for (let t = 0; t < 16; t++) out.push('<marker id="a' + t + '" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="' + msgColor(t) + '"/></marker>');
  out.push('</defs>');
  // time axis
  const step = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].find(s => span / T / s <= 12) || 1000;
  for (let k = Math.ceil(t0 / T / step) * step; k * T <= t1; k += step) {
    const x = X(k * T);
    out.push('<line x1="' + x + '" y1="' + (TOP - 4) + '" x2="' + x + '" y2="' + (H - 6) + '" stroke="#eceff1"/><text x="' + (x + 2) + '" y="12" fill="#607d8b">' + k + '</text>');
  }
  // lanes
  for (let n = 1; n <= D.nodes; n++) {
    out.push('<rect x="' + LEFT + '" y="' + (laneY(n) + 8) + '" width="' + W + '" height="' + (LANE - 16) + '" fill="#f5f5f5"/>');
    out.push('<text x="4" y="' + (laneY(n) + LANE / 2 + 4) + '" style="font-size:13px;font-weight:600">node ' + n + '</text>');
    if (n > D.members) out.push('<text x="4" y="' + (laneY(n) + LANE / 2 + 15) + '" fill="#78909c" style="font-size:9px">spare</text>');
  }
  for (const [n, a, b, role, term] of D.roles) {
    if (!vis(a, b)) continue;
    const x0 = Math.max(LEFT, X(a)), x1 = Math.min(LEFT + W, X(b));
    out.push('<rect x="' + x0 + '" y="' + (laneY(n) + 8) + '" width="' + Math.max(0.5, x1 - x0) + '" height="' + (LANE - 16) + '" fill="' + roleFill[role] + '"><title>node ' + n + ': ' + D.roleNames[role] + ' in term ' + term + ' from ' + fmt(a) + ' to ' + fmt(b) + '</title></rect>');
    if (x1 - x0 > 22 && a >= t0) out.push('<text x="' + (x0 + 2) + '" y="' + (laneY(n) + LANE - 11) + '" fill="#37474f">t' + term + ' ' + roleShort[role] + '</text>');
  }
  for (const [n, a, b] of D.down) {
    if (!vis(a, b)) continue;
    const x0 = Math.max(LEFT, X(a)), x1 = Math.min(LEFT + W, X(b));
    out.push('<rect x="' + x0 + '" y="' + (laneY(n) + 8) + '" width="' + Math.max(1, x1 - x0) + '" height="' + (LANE - 16) + '" fill="url(#hatch)"><title>node ' + n + ' down from ' + fmt(a) + ' to ' + fmt(b) + '</title></rect>');
  }
  // network faults
  for (const [a, b, text] of D.faults) {
    if (!vis(a, b)) continue;
    const x0 = Math.max(LEFT, X(a)), x1 = Math.min(LEFT + W, X(b));
    out.push('<rect x="' + x0 + '" y="' + (TOP - 6) + '" width="' + Math.max(1, x1 - x0) + '" height="8" fill="#ce93d8" opacity="0.8"><title>' + esc(text) + ' (' + fmt(a) + ' to ' + fmt(b) + ')</title></rect>');
    out.push('<text x="' + (x0 + 2) + '" y="' + (TOP + 1) + '" fill="#4a148c" style="font-size:9px">' + esc(text) + '</text>');
  }
  for (const [f, to, a, b] of D.flaps) {
    if (!vis(a, b)) continue;
    const x0 = Math.max(LEFT, X(a)), x1 = Math.min(LEFT + W, X(b));
    out.push('<rect x="' + x0 + '" y="' + (laneY(f) + LANE - 8) + '" width="' + Math.max(1, x1 - x0) + '" height="3" fill="#8e24aa"><title>link ' + f + '->' + to + ' down from ' + fmt(a) + ' to ' + fmt(b) + '</title></rect>');
  }
  // marks
  for (let i = firstEvent(t0); i < D.events.length; i++) {
    const [t, stepNo, kind, n, text] = D.events[i];
    if (t > t1) break;
    if (kind === "VIOLATION") { out.push('<line x1="' + X(t) + '" y1="' + TOP + '" x2="' + X(t) + '" y2="' + (H - 6) + '" stroke="#c62828" stroke-width="2"><title>' + esc(text) + '</title></line>'); continue; }
    if (!n || n > D.nodes) continue;
    const x = X(t), y = laneY(n);
    switch (kind) {
      case "persist": if ($("sdisk").checked) out.push('<rect x="' + (x - 2) + '" y="' + (y + 2) + '" width="4" height="4" fill="#b0bec5"><title>' + esc(text) + '</title></rect>'); break;
      case "durable": if ($("sdisk").checked) out.push('<rect x="' + (x - 2) + '" y="' + (y + 2) + '" width="4" height="4" fill="#37474f"><title>' + esc(text) + '</title></rect>'); break;
      case "commit": if ($("sapply").checked) out.push('<path d="M' + (x - 3) + ',' + (y + LANE - 2) + 'l3,-5l3,5z" fill="#2e7d32"><title>' + esc(text) + '</title></path>'); break;
      case "apply": if ($("sapply").checked) out.push('<rect x="' + (x - 1) + '" y="' + (y + LANE - 7) + '" width="2" height="6" fill="#66bb6a"><title>' + esc(text) + '</title></rect>'); break;
      case "crash": out.push('<text x="' + (x - 5) + '" y="' + (y + LANE / 2 + 5) + '" style="font-size:16px;font-weight:700" fill="#c62828">✕</text><circle cx="' + x + '" cy="' + (y + LANE / 2) + '" r="8" fill="transparent" style="pointer-events:all"><title>' + esc(text) + '</title></circle>'); break;
      case "restart": out.push('<path d="M' + x + ',' + (y + 10) + 'l8,9l-8,9z" fill="#2e7d32"><title>' + esc(text) + '</title></path>'); break;
      case "step-error": out.push('<text x="' + (x - 2) + '" y="' + (y + 8) + '" fill="#e65100" style="font-weight:700">!</text><circle cx="' + x + '" cy="' + (y + 4) + '" r="5" fill="transparent" style="pointer-events:all"><title>' + esc(text) + '</title></circle>');
    }
  }
  // messages
  let drawn = 0;
  for (let i = firstMsg(t0 - 20 * T); i < D.msgs.length; i++) {
    const [f, to, a, b, type, term, fate, detail] = D.msgs[i];
    if (a > t1) break;
    const end = b < 0 ? a + 0.3 * T : b;
    if (!vis(a, end) || !show(type)) continue;
    if (++drawn > 6000) break;
    const y0 = laneY(f) + LANE / 2, y1 = laneY(to) + LANE / 2;
    let x0 = X(a), x1 = X(end), yy1 = y1;
    if (fate !== 0) { yy1 = y0 + (y1 - y0) * (fate === 2 ? 0.25 : 0.6); x1 = fate === 2 ? x0 + (x1 - x0) * 0.25 : x0 + (x1 - x0) * 0.6; }
    const c = msgColor(type);
    const title = '<title>' + D.msgTypes[type] + ' ' + f + '→' + to + ' term ' + term + ': ' + esc(detail) + '\nsent ' + fmt(a) + (b >= 0 ? (fate ? ', lost at ' : ', arrived ') + fmt(b) : ', lost when sent') + '</title>';
    if (fate === 0) out.push('<line x1="' + x0 + '" y1="' + y0 + '" x2="' + x1 + '" y2="' + y1 + '" stroke="' + c + '" stroke-width="1.2" marker-end="url(#a' + type + ')">' + title + '</line>');
    else out.push('<line x1="' + x0 + '" y1="' + y0 + '" x2="' + x1 + '" y2="' + yy1 + '" stroke="' + c + '" stroke-width="1.2" stroke-dasharray="3,2">' + title + '</line><text x="' + (x1 - 4) + '" y="' + (yy1 + 4) + '" fill="#c62828" style="font-weight:700">×</text>');
  }
  // clients
  for (let c = 1; c <= D.clients; c++) out.push('<text x="4" y="' + (clientY(c) + 11) + '" fill="#455a64">client ' + c + '</text>');
  for (const [c, a, b, text, attempts] of D.ops) {
    const end = b < 0 ? D.end : b;
    if (!vis(a, end)) continue;
    const x0 = Math.max(LEFT, X(a)), x1 = Math.min(LEFT + W, X(end));
    out.push('<rect x="' + x0 + '" y="' + (clientY(c) + 2) + '" width="' + Math.max(1, x1 - x0) + '" height="' + (CLANE - 4) + '" rx="3" fill="' + (b < 0 ? "#bdbdbd" : attempts > 1 ? "#ffb74d" : "#90caf9") + '" stroke="#546e7a" stroke-width="0.5"><title>' + esc(text) + '\n' + fmt(a) + ' → ' + (b < 0 ? "no answer" : fmt(b)) + ', ' + attempts + ' attempt(s)</title></rect>');
    if (x1 - x0 > 60) out.push('<text x="' + (x0 + 3) + '" y="' + (clientY(c) + 11) + '" style="font-size:9px">' + esc(text.replace(/^client \d+ op \d+: /, "").slice(0, Math.floor((x1 - x0) / 5))) + '</text>');
  }
  if (D.healAt >= t0 && D.healAt <= t1) out.push('<line x1="' + X(D.healAt) + '" y1="' + TOP + '" x2="' + X(D.healAt) + '" y2="' + (H - 6) + '" stroke="#2e7d32" stroke-dasharray="6,3"><title>every fault healed</title></line>');
  out.push('</svg>');
  $("chart").innerHTML = out.join("");
  $("range").textContent = "ticks " + fmt(t0) + " – " + fmt(Math.min(t1, D.end)) + " of " + fmt(D.end) + (drawn > 6000 ? " (too many messages: narrow the window)" : "");
  $("pos").value = Math.round(t0 / Math.max(1, D.end) * 1000);
  // text trace of the window: the events, and a line for each message
  // sent and each message delivered or lost
  const rows = [];
  for (let i = firstEvent(t0); i < D.events.length && rows.length < 4000; i++) {
    const [t, stepNo, kind, n, text] = D.events[i];
    if (t > t1) break;
    const cls = kind === "VIOLATION" ? "v" : (/crash|restart|fault|heal/.test(kind) ? "f" : "");
    rows.push([stepNo, t, cls, text]);
  }
  for (let i = firstMsg(t0 - 20 * T); i < D.msgs.length && rows.length < 8000; i++) {
    const [f, to, a, b, type, term, fate, detail, s0, s1, id] = D.msgs[i];
    if (a > t1) break;
    if (!show(type)) continue;
    const what = D.msgTypes[type] + ' #' + id + ' ' + f + '->' + to + ' term=' + term + ' ' + detail;
    if (fate === 2) { if (a >= t0) rows.push([s0, a, "", 'drop    ' + what]); continue; }
    if (a >= t0) rows.push([s0, a, "", 'send    ' + what]);
    if (b >= t0 && b <= t1) rows.push([s1, b, "", (fate ? 'lost    ' : 'deliver ') + what]);
  }
  rows.sort((p, q) => p[0] - q[0]);
  drawLogs(Math.min(t1, D.end));
  saveHash();
  $("tracepre").innerHTML = rows.map(([stepNo, t, cls, text]) => '<span class="' + cls + '">' + String(stepNo).padStart(7) + ' ' + fmt(t).padStart(9) + '  ' + esc(text) + '</span>').join("\n");
}
// The log view: every node's log at time tv, replayed from D.logs (see
// logView in logview.go for the kinds of change).
function logsAt(tv) {
  const st = [];
  for (let n = 0; n <= D.nodes; n++) st.push({mem: [], memBase: 0, disk: [], diskBase: 0, snap: 0, commit: 0, applied: 0, prog: {}});
  const write = (arr, base, first, runs) => {
    let i = first - base - 1;
    for (let r = 0; r < runs.length; r += 2) for (let c = 0; c < runs[r + 1]; c++) arr[i++] = runs[r];
    arr.length = Math.max(0, i);
  };
  for (const [t, n, k, a, b, terms] of D.logs) {
    if (t > tv) break;
    const s = st[n];
    switch (k) {
      case "m": write(s.mem, s.memBase, a, terms); break;
      case "d": write(s.disk, s.diskBase, a, terms); break;
      case "M": s.mem = []; s.memBase = a; s.snap = Math.max(s.snap, a); break;
      case "D": s.disk = []; s.diskBase = a; break;
      case "C": s.snap = Math.max(s.snap, a); break;
      case "c": s.commit = a; break;
      case "a": s.applied = a; break;
      case "x": {
        s.mem = s.disk.slice(); s.memBase = s.diskBase;
        const last = s.diskBase + s.disk.length;
        s.commit = Math.min(s.commit, last); s.applied = Math.min(s.applied, last); s.prog = {};
        break;
      }
      case "p": s.prog[a] = [b, terms[0]]; break;
    }
  }
  return st;
}
const termColor = t => "hsl(" + ((t * 67) % 360) + ",65%," + (t % 2 ? "80%" : "70%") + ")";
// violationEntries returns the node and the entry indexes a violation
// names ("at node 3", "entry 21"), to outline them.
function violationEntries() {
  if (!D.violation) return {node: 0, entries: []};
  const node = +((D.violation.match(/at node (\d+)/) || [])[1] || 0);
  const entries = [...D.violation.matchAll(/entry (\d+)/g)].map(m => +m[1]);
  return {node, entries};
}
function drawLogs(tv) {
  const st = logsAt(tv), viol = violationEntries();
  const leaderAt = n => D.roles.some(([m, a, b, role]) => m === n && role === 3 && a <= tv && (tv < b || b >= D.end));
  let leader = 0;
  for (let n = 1; n <= D.nodes; n++) if (leaderAt(n)) leader = n;
  let last = 1;
  for (let n = 1; n <= D.nodes; n++) last = Math.max(last, st[n].memBase + st[n].mem.length);
  const COLS = 60, CW = 18, RH = 34;
  let lo = Math.max(1, last - COLS + 1);
  if (viol.entries.length && tv >= D.violAt && D.violAt >= 0) lo = Math.max(1, Math.min(lo, Math.min(...viol.entries) - COLS / 2));
  const hi = lo + COLS - 1, X = i => LEFT + (i - lo) * CW;
  const out = ['<svg xmlns="http://www.w3.org/2000/svg" width="' + (LEFT + COLS * CW + 20) + '" height="' + (D.nodes * RH + 24) + '">'];
  for (let i = lo; i <= hi; i++) if (i % 5 === 0) out.push('<text x="' + (X(i) + 2) + '" y="10" fill="#607d8b">' + i + '</text>');
  for (let n = 1; n <= D.nodes; n++) {
    const s = st[n], y = 14 + (n - 1) * RH;
    const down = D.down.some(([m, a, b]) => m === n && a <= tv && tv < b);
    out.push('<text x="4" y="' + (y + 12) + '" style="font-size:12px;font-weight:600"' + (down ? ' fill="#c62828"' : '') + '>node ' + n + (n === leader ? ' (L)' : down ? ' (down)' : '') + '</text>');
    const mlast = s.memBase + s.mem.length;
    for (let i = Math.max(lo, s.memBase + 1); i <= Math.min(hi, mlast); i++) {
      const term = s.mem[i - s.memBase - 1];
      if (term === undefined) continue;
      const durable = i > s.diskBase && s.disk[i - s.diskBase - 1] === term;
      const hit = viol.entries.includes(i) && tv >= D.violAt && D.violAt >= 0;
      out.push('<rect class="logcell" x="' + (X(i) + 1) + '" y="' + y + '" width="' + (CW - 2) + '" height="16" fill="' + termColor(term) + '" opacity="' + (i <= s.snap ? 0.45 : 1) +
        '" stroke="' + (hit ? "#c62828" : durable ? "#37474f" : "#78909c") + '" stroke-width="' + (hit ? 2.5 : 1) + '"' + (durable || hit ? '' : ' stroke-dasharray="2,2"') +
        '><title>node ' + n + ', entry ' + i + ' of term ' + term + (durable ? ', durable' : ', in memory only') + (i <= s.snap ? ', in a snapshot' : '') + '</title></rect>');
      out.push('<text x="' + (X(i) + CW / 2) + '" y="' + (y + 12) + '" text-anchor="middle" style="font-size:9px">' + term + '</text>');
    }
    if (s.memBase >= lo && s.memBase > 0) out.push('<line x1="' + (X(s.memBase) + CW) + '" y1="' + (y - 2) + '" x2="' + (X(s.memBase) + CW) + '" y2="' + (y + 18) + '" stroke="#455a64" stroke-width="2"><title>snapshot up to ' + s.memBase + '</title></line>');
    const bar = (upTo, dy, color, what) => { if (upTo >= lo) out.push('<rect class="logmark" x="' + X(lo) + '" y="' + (y + dy) + '" width="' + (Math.min(upTo, hi) - lo + 1) * CW + '" height="2" fill="' + color + '"><title>' + what + ' ' + upTo + '</title></rect>'); };
    bar(s.commit, 18, "#43a047", "commit index");
    bar(s.applied, 21, "#1b5e20", "applied index");
    const p = leader && n !== leader ? st[leader].prog[n] : null;
    if (p) {
      const [match, next] = p;
      if (match >= lo && match <= hi) out.push('<text x="' + (X(match) + 2) + '" y="' + (y + 31) + '" fill="#1565c0" style="font-size:9px">m<title>leader ' + leader + ': match ' + match + '</title></text>');
      if (next >= lo && next <= hi) out.push('<text x="' + (X(next) + 9) + '" y="' + (y + 31) + '" fill="#6a1b9a" style="font-size:9px">n<title>leader ' + leader + ': next ' + next + '</title></text>');
    }
  }
  out.push('</svg>');
  $("loghead").textContent = "logs at tick " + fmt(tv) + (leader ? ", leader node " + leader : ", no leader") + " (entries " + lo + "–" + hi + ")";
  $("logs").innerHTML = out.join("");
}
// The address keeps the window and every toggle that differs from its
// default, so a link reopens the same view: #start=40&win=25&sdisk=1.
const toggles = ["shb", "sapp", "svote", "sprop", "sdisk", "sapply"];
const toggleDefault = {};
for (const id of toggles) toggleDefault[id] = $(id).checked;
function saveHash() {
  const h = new URLSearchParams();
  h.set("start", fmt(t0)); h.set("win", String(win / T));
  for (const id of toggles) if ($(id).checked !== toggleDefault[id]) h.set(id, $(id).checked ? "1" : "0");
  history.replaceState(null, "", "#" + h.toString());
}
// firstInteresting is when something first happens: the first role change
// (an election starting), so the page does not open on empty ticks.
function firstInteresting() {
  const e = D.events.find(([t, s, kind]) => kind === "role" || kind === "crash" || kind === "fault");
  return e ? e[0] : 0;
}
// firstEvent and firstMsg find, by binary search, the first event or
// message at or after t (both arrays are in time order).
function lowerBound(arr, t, col) { let lo = 0, hi = arr.length; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m][col] < t) lo = m + 1; else hi = m; } return lo; }
const firstEvent = t => lowerBound(D.events, t, 0);
const firstMsg = t => lowerBound(D.msgs, t, 2);
function setStart(t) { t0 = Math.max(0, Math.min(t, Math.max(0, D.end - (win > 0 ? win : D.end)))); draw(); }
$("win").onchange = () => { win = +$("win").value * T; setStart(t0); };
$("pos").oninput = () => setStart(+$("pos").value / 1000 * D.end);
$("prev").onclick = () => setStart(t0 - (win > 0 ? win : D.end) * 0.8);
$("next").onclick = () => setStart(t0 + (win > 0 ? win : D.end) * 0.8);
$("goviol").onclick = () => setStart(D.violAt - win * 0.8);
$("goheal").onclick = () => setStart(D.healAt - win * 0.2);
for (const id of ["shb", "sapp", "svote", "sprop", "sdisk", "sapply"]) $(id).onchange = draw;
document.addEventListener("keydown", e => { if (e.key === "ArrowLeft") $("prev").click(); if (e.key === "ArrowRight") $("next").click(); });
window.addEventListener("resize", draw);
// A fragment like #start=40&win=25&sdisk=1 opens that window (ticks;
// win=0: all) with those toggles.
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.has("win")) { win = +hash.get("win") * T; $("win").value = hash.get("win"); }
for (const id of toggles) if (hash.has(id)) $(id).checked = hash.get(id) === "1";
if (hash.has("start")) setStart(+hash.get("start") * T);
else if (D.violAt >= 0) setStart(D.violAt - win * 0.8); else setStart(firstInteresting() - win * 0.2);
{{if .Live}}
// The playground: the simulator runs in this page (WebAssembly); every
// 200 ms it advances and hands back the timeline, which is drawn again.
let paused = false;
const lnode = $("lnode");
for (let n = 1; n <= D.nodes; n++) lnode.insertAdjacentHTML("beforeend", '<option value="' + n + '">node ' + n + '</option>');
$("lpause").onclick = () => { paused = !paused; $("lpause").textContent = paused ? "run" : "pause"; };
for (const b of document.querySelectorAll("[data-act]")) b.onclick = () => {
  const err = raftsimLive.act(b.dataset.act, +lnode.value, 0);
  $("lmsg").textContent = err || (b.dataset.act + " " + (lnode.value === "0" ? (b.dataset.act === "restart" ? "every down node" : "the leader") : "node " + lnode.value) + " at the next tick");
};
$("lexport").onclick = () => { $("lmsg").textContent = "replay this session: " + raftsimLive.replay(); };
// leaderNow is the node leading at the end of the run so far, 0 if none.
function leaderNow() {
  const r = D.roles.find(([n, a, b, role]) => role === 3 && b >= D.end);
  return r ? r[0] : 0;
}
function refresh() {
  const j = raftsimLive.advance(paused ? 0 : +$("lspeed").value * 0.2, 100);
  if (!j) return;
  const span = win > 0 ? win : D.end;
  const atEdge = t0 + span >= D.end - T; // follow the live edge unless moved back
  D = JSON.parse(j);
  header();
  if (atEdge) t0 = Math.max(0, D.end - span * 0.9);
  draw();
  autotest();
}
// With #autotest in the address, the page tests itself as CI does: once a
// leader is elected it clicks "crash" on it, then waits for another node
// to be elected, and says so in #autotest.
const auto = {phase: 0, old: 0};
function autotest() {
  if (!autotestOn) return;
  const l = leaderNow();
  if (auto.phase === 0 && l) {
    auto.old = l; lnode.value = "0"; auto.phase = 1;
    document.querySelector('[data-act="crash"]').click();
    $("autotest").textContent = "autotest: crashed the leader, node " + l;
  } else if (auto.phase === 1 && l && l !== auto.old) {
    auto.phase = 2;
    $("autotest").textContent = "PLAYGROUND OK: leader node " + auto.old + " crashed, node " + l + " elected leader";
  }
}
const go = new Go();
WebAssembly.instantiateStreaming(fetch("raftsim.wasm"), go.importObject).then(r => {
  go.run(r.instance);
  const err = raftsimLive.start({{.Scenario}}, {{.Seed}}, {{.Nodes}});
  if (err) { $("lmsg").textContent = err; return; }
  setInterval(refresh, 200);
}).catch(e => { $("lmsg").textContent = "could not load the simulator: " + e; });
{{end}}
</script>
</body></html>
`

var htmlPage = template.Must(template.New("page").Parse(htmlPageSource))
