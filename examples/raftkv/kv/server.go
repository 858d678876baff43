package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/pureraft/raft"
	"github.com/pureraft/raft/host"
)

// Limits of the client API.
const (
	MaxKeyBytes   = 1024
	MaxValueBytes = 1 << 20
	// DefaultTimeout bounds a request that names no ?timeout.
	DefaultTimeout = 5 * time.Second
)

// Server is the HTTP/JSON API of one node.
//
//	PUT    /kv/{key}            body = value; ?prev_value=v or ?prev_exist=false: compare-and-swap
//	GET    /kv/{key}            ?consistency=linearizable (default) | lease | stale; ?raw=1: the bare value
//	DELETE /kv/{key}            ?prev_value=v: compare-and-delete
//	GET    /kv/?prefix=p        list keys with a prefix (?limit=, default 1000)
//	GET    /cluster/status      this node's view of the cluster
//	POST   /cluster/learners    {"id":4,"raft":"127.0.0.1:7004","http":"127.0.0.1:8004"}
//	POST   /cluster/promote     {"id":4}
//	POST   /cluster/remove      {"id":4}
//	POST   /cluster/transfer    {"to":2} (0 or absent: the most up-to-date voter)
//	POST   /cluster/snapshot    snapshot this node's machine and compact its log
//	POST   /cluster/check       compare the replicas' state hashes now
//	GET    /metrics             Prometheus metrics
//
// Writes carry an optional request ID (header Request-Id or ?request_id=):
// a write retried with the same ID applies once and answers as the first
// time. Writes and linearizable reads work on any node (the core forwards
// them to the leader); cluster changes on a follower are forwarded to the
// leader over HTTP.
type Server struct {
	h        *host.Host
	log      *slog.Logger
	mux      *http.ServeMux
	gatherer prometheus.Gatherer
	client   *http.Client
	// fwdScheme and fwdTransport: see ForwardOver.
	fwdScheme    string
	fwdTransport http.RoundTripper
}

// NewServer builds the API for host h, whose groups each run a Machine;
// keys are spread over the groups (GroupOf).
func NewServer(h *host.Host, gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{h: h, log: log, mux: http.NewServeMux(), gatherer: gatherer, client: &http.Client{Timeout: 30 * time.Second}}
	s.mux.HandleFunc("GET /cluster/status", s.status)
	s.mux.HandleFunc("POST /cluster/learners", s.admin(s.addLearner))
	s.mux.HandleFunc("POST /cluster/promote", s.admin(s.promote))
	s.mux.HandleFunc("POST /cluster/remove", s.admin(s.remove))
	s.mux.HandleFunc("POST /cluster/transfer", s.admin(s.transfer))
	s.mux.HandleFunc("POST /cluster/snapshot", s.snapshot)
	s.mux.HandleFunc("POST /cluster/check", s.check)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]bool{"ok": true}) })
	return s
}

// ServeHTTP serves /kv/ itself, from the escaped path (see keyFromPath):
// the mux would clean the path first, turning a//b into a/b.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if path != "/kv" && !strings.HasPrefix(path, "/kv/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	key, err := keyFromPath(path)
	if err != nil {
		fail(w, 400, err.Error())
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, r, key)
	case http.MethodPut, http.MethodPost:
		s.put(w, r, key)
	case http.MethodDelete:
		s.del(w, r, key)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, POST, DELETE")
		fail(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

// keyFromPath takes the key from the escaped request path /kv/{key}: the
// bytes after "/kv/" with percent-escapes decoded and nothing else
// changed — no path cleaning, so a//b, dot/./x and up/../y are keys of
// their own. A key byte that is not allowed in a path (space, ?, #, %, a
// non-ASCII byte) is sent percent-encoded; %2F is a slash.
func keyFromPath(escaped string) (string, error) {
	raw := strings.TrimPrefix(strings.TrimPrefix(escaped, "/kv"), "/")
	key, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("bad key escape in %q: %v", raw, err)
	}
	return key, nil
}

type apiError struct {
	Error  string `json:"error"`
	Leader uint64 `json:"leader,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

// writeErr maps host errors to status codes.
func writeErr(w http.ResponseWriter, err error) {
	var nl *host.NotLeaderError
	var mbe *http.MaxBytesError
	var fe *forwardedError
	switch {
	case errors.As(err, &fe):
		fail(w, fe.code, fe.Error())
	case isBadRequest(err):
		fail(w, http.StatusBadRequest, err.Error())
	case errors.As(err, &mbe), errors.Is(err, host.ErrTooLarge):
		fail(w, http.StatusRequestEntityTooLarge, err.Error())
	case errors.Is(err, os.ErrDeadlineExceeded):
		fail(w, http.StatusRequestTimeout, "the request body did not arrive in time")
	case errors.Is(err, context.DeadlineExceeded):
		fail(w, http.StatusGatewayTimeout, "timed out (the outcome of a write is unknown: retry with the same request ID)")
	case errors.Is(err, context.Canceled):
		fail(w, 499, "canceled")
	case errors.As(err, &nl):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error(), Leader: uint64(nl.Leader)})
	case errors.Is(err, host.ErrStateCorrupt), errors.Is(err, host.ErrNotVerified):
		// Another member can answer: this one cannot vouch for its state.
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, host.ErrNoLeader), errors.Is(err, host.ErrDropped), errors.Is(err, host.ErrStopped):
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, raft.ErrMembershipChangeRefused), errors.Is(err, raft.ErrTransferRefused):
		fail(w, http.StatusConflict, err.Error())
	default:
		fail(w, http.StatusInternalServerError, err.Error())
	}
}

func requestContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	d := DefaultTimeout
	if t := r.URL.Query().Get("timeout"); t != "" {
		v, err := time.ParseDuration(t)
		if err != nil || v <= 0 || v > time.Minute {
			return nil, nil, fmt.Errorf("bad timeout %q: a duration up to 1m such as 500ms", t)
		}
		d = v
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("key of %d bytes exceeds %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return errors.New("key is not valid UTF-8")
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return errors.New("key contains a control character")
		}
	}
	return nil
}

func parseConsistency(v string) (host.Consistency, error) {
	switch v {
	case "", "linearizable":
		return host.Linearizable, nil
	case "lease":
		return host.Lease, nil
	case "stale":
		return host.Stale, nil
	}
	return 0, fmt.Errorf("bad consistency %q: linearizable, lease or stale", v)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, key string) {
	q := r.URL.Query()
	list := key == "" || q.Has("prefix")
	params := getParams
	if list {
		params = listParams
	}
	if !checkParams(w, r, params) {
		return
	}
	c, err := parseConsistency(q.Get("consistency"))
	if err != nil {
		failParam(w, err.Error(), params)
		return
	}
	ctx, cancel, err := requestContext(r)
	if err != nil {
		failParam(w, err.Error(), params)
		return
	}
	defer cancel()
	if list {
		prefix := q.Get("prefix")
		if key != "" {
			prefix = key
		}
		limit := 1000
		if l := q.Get("limit"); l != "" {
			if limit, err = strconv.Atoi(l); err != nil || limit <= 0 || limit > 100000 {
				failParam(w, fmt.Sprintf("bad limit %q: 1 to 100000", l), params)
				return
			}
		}
		items, more, err := s.list(ctx, c, prefix, limit)
		if err != nil {
			writeErr(w, err)
			return
		}
		if items == nil {
			items = []Item{}
		}
		writeJSON(w, 200, map[string]any{"items": items, "more": more})
		return
	}
	if err := checkKey(key); err != nil {
		fail(w, 400, err.Error())
		return
	}
	out, err := s.groupOf(key).Read(ctx, c, EncodeQuery(Query{Type: QueryGet, Key: []byte(key)}))
	if err != nil {
		writeErr(w, err)
		return
	}
	found, v := DecodeGet(out)
	if !found {
		fail(w, 404, "key not found")
		return
	}
	if q.Has("raw") {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(v)
		return
	}
	writeJSON(w, 200, Item{Key: key, Value: string(v)})
}

func requestID(r *http.Request) []byte {
	if id := r.Header.Get("Request-Id"); id != "" {
		return []byte(id)
	}
	return []byte(r.URL.Query().Get("request_id"))
}

type writeResponse struct {
	Index   uint64  `json:"index"`
	Existed bool    `json:"existed"`
	Current *string `json:"current,omitempty"`
	Error   string  `json:"error,omitempty"`
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, op Op) {
	ctx, cancel, err := requestContext(r)
	if err != nil {
		fail(w, 400, err.Error())
		return
	}
	defer cancel()
	if len(op.RequestID) > 256 {
		fail(w, 400, "request ID longer than 256 bytes")
		return
	}
	res, err := s.groupOf(string(op.Key)).Propose(ctx, EncodeOp(op))
	if err != nil {
		writeErr(w, err)
		return
	}
	out, err := DecodeResult(res.Data)
	if err != nil {
		writeErr(w, err)
		return
	}
	resp := writeResponse{Index: out.Index, Existed: out.Found}
	switch out.Status {
	case StatusOK:
		writeJSON(w, 200, resp)
	case StatusPrecondition:
		resp.Error = "compare failed"
		if out.Found {
			v := string(out.Value)
			resp.Current = &v
		}
		writeJSON(w, http.StatusPreconditionFailed, resp)
	default:
		fail(w, 400, out.Err)
	}
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, key string) {
	if !checkParams(w, r, putParams) {
		return
	}
	if err := checkKey(key); err != nil {
		fail(w, 400, err.Error())
		return
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValueBytes))
	if err != nil {
		writeErr(w, err)
		return
	}
	op := Op{Type: OpPut, RequestID: requestID(r), Key: []byte(key), Value: value}
	q := r.URL.Query()
	if q.Has("prev_value") {
		op.Type, op.HasPrev, op.Prev = OpCAS, true, []byte(q.Get("prev_value"))
	} else if q.Has("prev_exist") {
		op.Type, op.ExpectAbsent = OpCAS, true
	}
	s.write(w, r, op)
}

func (s *Server) del(w http.ResponseWriter, r *http.Request, key string) {
	if !checkParams(w, r, delParams) {
		return
	}
	if err := checkKey(key); err != nil {
		fail(w, 400, err.Error())
		return
	}
	op := Op{Type: OpDelete, RequestID: requestID(r), Key: []byte(key)}
	if q := r.URL.Query(); q.Has("prev_value") {
		op.Type, op.HasPrev, op.Prev, op.Delete = OpCAS, true, []byte(q.Get("prev_value")), true
	}
	s.write(w, r, op)
}

// ---- Cluster API ----

type statusResponse struct {
	ID            uint64                       `json:"id"`
	Group         uint64                       `json:"group"`
	Role          string                       `json:"role"`
	Term          uint64                       `json:"term"`
	Leader        uint64                       `json:"leader"`
	Commit        uint64                       `json:"commit"`
	Applied       uint64                       `json:"applied"`
	FirstIndex    uint64                       `json:"first_index"`
	LastIndex     uint64                       `json:"last_index"`
	SnapshotIndex uint64                       `json:"snapshot_index"`
	LeaseHeld     bool                         `json:"lease_held"`
	Voters        []uint64                     `json:"voters"`
	Learners      []uint64                     `json:"learners"`
	Peers         host.Peers                   `json:"peers"`
	Progress      map[string]map[string]uint64 `json:"progress,omitempty"`
	// Alarm says why this member's state is considered corrupt, if it is.
	Alarm string `json:"alarm,omitempty"`
	// Groups summarises every group, when the host runs more than one.
	Groups []groupStatus `json:"groups,omitempty"`
}

type groupStatus struct {
	Group   uint64 `json:"group"`
	Role    string `json:"role"`
	Leader  uint64 `json:"leader"`
	Term    uint64 `json:"term"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	Alarm   string `json:"alarm,omitempty"`
}

func ids(in []raft.NodeID) []uint64 {
	out := make([]uint64, len(in))
	for i, v := range in {
		out[i] = uint64(v)
	}
	return out
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	gs, err := s.targets(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	g := gs[0] // group 1, or the one ?group= names
	st := g.Status()
	mem, err := g.Membership(ctx)
	if err != nil {
		writeErr(w, err)
		return
	}
	resp := statusResponse{
		ID: uint64(st.ID), Group: uint64(g.ID()), Role: st.Role.String(), Term: uint64(st.Term), Leader: uint64(st.Leader),
		Commit: uint64(st.Commit), Applied: g.Applied(), FirstIndex: uint64(st.FirstIndex), LastIndex: uint64(st.LastIndex),
		SnapshotIndex: g.SnapshotIndex(), LeaseHeld: st.LeaseHeld,
		Voters: ids(mem.Voters), Learners: ids(mem.Learners), Peers: s.h.Peers(), Alarm: g.Alarm(),
	}
	if st.Role == raft.RoleLeader {
		resp.Progress = map[string]map[string]uint64{}
		for id, p := range g.Progress(ctx) {
			resp.Progress[strconv.FormatUint(uint64(id), 10)] = map[string]uint64{"match": uint64(p.Match), "next": uint64(p.Next)}
		}
	}
	if ids := s.h.Groups(); len(ids) > 1 {
		for _, id := range ids {
			if g, ok := s.h.Group(id); ok {
				st := g.Status()
				resp.Groups = append(resp.Groups, groupStatus{Group: uint64(id), Role: st.Role.String(), Leader: uint64(st.Leader),
					Term: uint64(st.Term), Commit: uint64(st.Commit), Applied: g.Applied(), Alarm: g.Alarm()})
			}
		}
	}
	writeJSON(w, 200, resp)
}

type adminRequest struct {
	// Groups, in a join request, is the number of groups the joining
	// server runs (--groups); it must be the cluster's.
	Groups int    `json:"groups,omitempty"`
	ID     uint64 `json:"id"`
	To     uint64 `json:"to"`
	Raft   string `json:"raft"`
	HTTP   string `json:"http"`
}

// admin wraps a cluster change: it decodes the request and runs it on
// every group (or the one ?group= names). A group this member does not
// lead is handed to its leader over HTTP: with one group the request is
// proxied as it is; with several, each group's part is sent to that
// group's leader as its own request with ?group=.
func (s *Server) admin(f func(context.Context, *host.Group, adminRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			writeErr(w, err)
			return
		}
		var req adminRequest
		if len(body) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				fail(w, 400, "bad JSON: "+err.Error())
				return
			}
		}
		gs, err := s.targets(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		forwarded := r.Header.Get("X-Forwarded-By") != ""
		// A request over several groups is retried whole when one part
		// fails: a part already done (the change is in place) counts as
		// done, in this member and in the group leaders it forwards to.
		partOfMany := len(gs) > 1 || (forwarded && r.URL.Query().Has("group"))
		outs := map[string]any{}
		for _, g := range gs {
			out, err := f(ctx, g, req)
			if partOfMany && (errors.Is(err, raft.ErrAlreadyMember) ||
				errors.Is(err, raft.ErrTransferRefused) && req.To != 0 && g.Status().Leader == raft.NodeID(req.To)) {
				// The member is already in that role; the target already
				// leads this group.
				out, err = map[string]any{"already": true}, nil
			}
			var nl *host.NotLeaderError
			if errors.As(err, &nl) && nl.Addr.HTTP != "" && !forwarded {
				if len(gs) == 1 {
					s.forward(w, r, nl.Addr.HTTP, body)
					return
				}
				out, err = s.forwardGroup(ctx, r, nl.Addr.HTTP, body, g.ID())
			}
			if err != nil {
				writeErr(w, err)
				return
			}
			outs[strconv.FormatUint(uint64(g.ID()), 10)] = out
			if len(gs) == 1 {
				writeJSON(w, 200, out)
				return
			}
		}
		writeJSON(w, 200, map[string]any{"groups": outs})
	}
}

// forwardGroup sends group gid's part of an admin request to that group's
// leader and returns its answer.
func (s *Server) forwardGroup(ctx context.Context, r *http.Request, addr string, body []byte, gid host.GroupID) (any, error) {
	u := *r.URL
	u.Scheme, u.Host = "http", addr
	if s.fwdScheme != "" {
		u.Scheme = s.fwdScheme
	}
	q := u.Query()
	q.Set("group", strconv.FormatUint(uint64(gid), 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytesReader(body))
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"Authorization", "Content-Type"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set("X-Forwarded-By", strconv.FormatUint(uint64(s.h.ID()), 10))
	client := s.client
	if s.fwdTransport != nil {
		client = &http.Client{Transport: s.fwdTransport, Timeout: s.client.Timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: forwarding group %d's part to its leader: %v", host.ErrNoLeader, gid, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out any
	json.Unmarshal(b, &out)
	if resp.StatusCode != 200 {
		return nil, &forwardedError{code: resp.StatusCode, group: gid, body: strings.TrimSpace(string(b))}
	}
	return out, nil
}

// forwardedError is a group leader's refusal of its part of a request.
type forwardedError struct {
	code  int
	group host.GroupID
	body  string
}

func (e *forwardedError) Error() string {
	return fmt.Sprintf("group %d's leader answered %d: %s", e.group, e.code, e.body)
}

// targets are the groups a cluster request is about: the one ?group=
// names, or every group (status: group 1 first).
func (s *Server) targets(r *http.Request) ([]*host.Group, error) {
	if v := r.URL.Query().Get("group"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("bad group %q", v))
		}
		g, ok := s.h.Group(host.GroupID(id))
		if !ok {
			return nil, badRequest(fmt.Sprintf("no group %d", id))
		}
		return []*host.Group{g}, nil
	}
	var out []*host.Group
	for _, id := range s.h.Groups() {
		if g, ok := s.h.Group(id); ok {
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		return nil, host.ErrStopped
	}
	return out, nil
}

// groupOf is the group that holds key.
func (s *Server) groupOf(key string) *host.Group {
	g, _ := s.h.Group(GroupOf(key, s.h.Groups()))
	return g
}

func (s *Server) forward(w http.ResponseWriter, r *http.Request, addr string, body []byte) {
	target := &url.URL{Scheme: "http", Host: addr}
	if s.fwdScheme != "" {
		target.Scheme = s.fwdScheme
	}
	p := httputil.NewSingleHostReverseProxy(target)
	p.Transport = s.fwdTransport
	r.Body = io.NopCloser(bytesReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("X-Forwarded-By", strconv.FormatUint(uint64(s.h.ID()), 10))
	p.ServeHTTP(w, r)
}

func (s *Server) addLearner(ctx context.Context, g *host.Group, req adminRequest) (any, error) {
	if req.ID == 0 || req.Raft == "" {
		return nil, badRequest("need id and raft address")
	}
	if n := len(s.h.Groups()); req.Groups != 0 && req.Groups != n {
		// Keys are routed by their hash modulo the number of groups: a
		// member with another number would look for keys in the wrong
		// groups.
		return nil, fmt.Errorf("%w: the cluster runs %d groups and the joining server %d: start it with --groups %d",
			raft.ErrMembershipChangeRefused, n, req.Groups, n)
	}
	err := g.AddLearner(ctx, raft.NodeID(req.ID), host.PeerAddr{Raft: req.Raft, HTTP: req.HTTP})
	if errors.Is(err, host.ErrAlreadyVoter) {
		err = fmt.Errorf(`%w (to replace a wiped voter: POST /cluster/remove {"id":%d}, then start the server with a new --id, an empty --data and --join)`, err, req.ID)
	}
	return map[string]any{"added_learner": req.ID}, err
}

func (s *Server) promote(ctx context.Context, g *host.Group, req adminRequest) (any, error) {
	if req.ID == 0 {
		return nil, badRequest("need id")
	}
	// With several groups a join adds the learner to one group after the
	// other. Promoting it in some groups before it is a learner of all
	// would make the join's retry (AddLearner of what is now a voter)
	// refused as a wiped voter's: promote only a server every group knows.
	if ids := s.h.Groups(); len(ids) > 1 {
		for _, gid := range ids {
			other, ok := s.h.Group(gid)
			if !ok {
				continue
			}
			m, err := other.Membership(ctx)
			if err != nil {
				return nil, err
			}
			if id := raft.NodeID(req.ID); !slices.Contains(m.Learners, id) && !slices.Contains(m.Voters, id) {
				return nil, fmt.Errorf("%w: node %d is not yet a learner of group %d (its join has not reached every group)", raft.ErrPromoteNonLearner, req.ID, gid)
			}
		}
	}
	return map[string]any{"promoted": req.ID}, g.Promote(ctx, raft.NodeID(req.ID))
}

func (s *Server) remove(ctx context.Context, g *host.Group, req adminRequest) (any, error) {
	if req.ID == 0 {
		return nil, badRequest("need id")
	}
	return map[string]any{"removed": req.ID}, g.Remove(ctx, raft.NodeID(req.ID))
}

func (s *Server) transfer(ctx context.Context, g *host.Group, req adminRequest) (any, error) {
	to, err := g.TransferLeadership(ctx, raft.NodeID(req.To))
	return map[string]any{"leader": uint64(to)}, err
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	s.eachGroup(w, r, "snapshot_index", func(g *host.Group) (uint64, error) { return g.TakeSnapshot(ctx) })
}

// check proposes a state check: every replica hashes its state at the
// entry's index and compares with the others; a member that disagrees
// raises its alarm (see /cluster/status and raftkv_corruption_alarm).
func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	s.eachGroup(w, r, "index", func(g *host.Group) (uint64, error) { return g.CheckState(ctx) })
}

// eachGroup runs f on the request's groups and answers {name: index} for
// one group, {"groups": {id: {name: index}}} for several.
func (s *Server) eachGroup(w http.ResponseWriter, r *http.Request, name string, f func(*host.Group) (uint64, error)) {
	gs, err := s.targets(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	outs := map[string]map[string]uint64{}
	for _, g := range gs {
		idx, err := f(g)
		if err != nil {
			writeErr(w, err)
			return
		}
		outs[strconv.FormatUint(uint64(g.ID()), 10)] = map[string]uint64{name: idx}
		if len(gs) == 1 {
			writeJSON(w, 200, outs[strconv.FormatUint(uint64(g.ID()), 10)])
			return
		}
	}
	writeJSON(w, 200, map[string]any{"groups": outs})
}
