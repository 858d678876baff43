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
	g        *host.Group
	m        *Machine
	log      *slog.Logger
	mux      *http.ServeMux
	gatherer prometheus.Gatherer
	client   *http.Client
	// fwdScheme and fwdTransport: see ForwardOver.
	fwdScheme    string
	fwdTransport http.RoundTripper
}

// NewServer builds the API for group g running machine m.
func NewServer(g *host.Group, m *Machine, gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{g: g, m: m, log: log, mux: http.NewServeMux(), gatherer: gatherer, client: &http.Client{Timeout: 30 * time.Second}}
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
	switch {
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
		out, err := s.g.Read(ctx, c, EncodeQuery(Query{Type: QueryList, Key: []byte(prefix), Limit: limit}))
		if err != nil {
			writeErr(w, err)
			return
		}
		items, more, err := DecodeList(out)
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
	out, err := s.g.Read(ctx, c, EncodeQuery(Query{Type: QueryGet, Key: []byte(key)}))
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
	res, err := s.g.Propose(ctx, EncodeOp(op))
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
	st := s.g.Status()
	mem, err := s.g.Membership(ctx)
	if err != nil {
		writeErr(w, err)
		return
	}
	resp := statusResponse{
		ID: uint64(st.ID), Role: st.Role.String(), Term: uint64(st.Term), Leader: uint64(st.Leader),
		Commit: uint64(st.Commit), Applied: s.g.Applied(), FirstIndex: uint64(st.FirstIndex), LastIndex: uint64(st.LastIndex),
		SnapshotIndex: s.g.SnapshotIndex(), LeaseHeld: st.LeaseHeld,
		Voters: ids(mem.Voters), Learners: ids(mem.Learners), Peers: s.g.Host().Peers(), Alarm: s.g.Alarm(),
	}
	if st.Role == raft.RoleLeader {
		resp.Progress = map[string]map[string]uint64{}
		for id, p := range s.g.Progress(ctx) {
			resp.Progress[strconv.FormatUint(uint64(id), 10)] = map[string]uint64{"match": uint64(p.Match), "next": uint64(p.Next)}
		}
	}
	writeJSON(w, 200, resp)
}

type adminRequest struct {
	ID   uint64 `json:"id"`
	To   uint64 `json:"to"`
	Raft string `json:"raft"`
	HTTP string `json:"http"`
}

// admin wraps a cluster change: it decodes the request, runs it, and on a
// follower forwards the request to the leader.
func (s *Server) admin(f func(context.Context, adminRequest) (any, error)) http.HandlerFunc {
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
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		out, err := f(ctx, req)
		var nl *host.NotLeaderError
		if errors.As(err, &nl) && nl.Addr.HTTP != "" && r.Header.Get("X-Forwarded-By") == "" {
			s.forward(w, r, nl.Addr.HTTP, body)
			return
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, 200, out)
	}
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
	r.Header.Set("X-Forwarded-By", strconv.FormatUint(uint64(s.g.Host().ID()), 10))
	p.ServeHTTP(w, r)
}

func (s *Server) addLearner(ctx context.Context, req adminRequest) (any, error) {
	if req.ID == 0 || req.Raft == "" {
		return nil, badRequest("need id and raft address")
	}
	err := s.g.AddLearner(ctx, raft.NodeID(req.ID), host.PeerAddr{Raft: req.Raft, HTTP: req.HTTP})
	if errors.Is(err, host.ErrAlreadyVoter) {
		err = fmt.Errorf(`%w (to replace a wiped voter: POST /cluster/remove {"id":%d}, then start the server with a new --id, an empty --data and --join)`, err, req.ID)
	}
	return map[string]any{"added_learner": req.ID}, err
}

func (s *Server) promote(ctx context.Context, req adminRequest) (any, error) {
	if req.ID == 0 {
		return nil, badRequest("need id")
	}
	return map[string]any{"promoted": req.ID}, s.g.Promote(ctx, raft.NodeID(req.ID))
}

func (s *Server) remove(ctx context.Context, req adminRequest) (any, error) {
	if req.ID == 0 {
		return nil, badRequest("need id")
	}
	return map[string]any{"removed": req.ID}, s.g.Remove(ctx, raft.NodeID(req.ID))
}

func (s *Server) transfer(ctx context.Context, req adminRequest) (any, error) {
	to, err := s.g.TransferLeadership(ctx, raft.NodeID(req.To))
	return map[string]any{"leader": uint64(to)}, err
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	idx, err := s.g.TakeSnapshot(ctx)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]uint64{"snapshot_index": idx})
}

// check proposes a state check: every replica hashes its state at the
// entry's index and compares with the others; a member that disagrees
// raises its alarm (see /cluster/status and raftkv_corruption_alarm).
func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	idx, err := s.g.CheckState(ctx)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]uint64{"index": idx})
}
