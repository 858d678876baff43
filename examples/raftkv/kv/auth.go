package kv

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/pureraft/raft/host/pki"
)

// Authorization of the client API.
//
// A request is made by whoever its credentials name: a bearer token
// (Authorization: Bearer <token>) if it carries one, otherwise the common
// name of its verified client certificate. An auth file maps both to
// roles:
//
//	# role     kind   value
//	admin      cn     admin
//	readwrite  cn     app
//	readonly   token  3f9a...
//
// readonly may read keys and /metrics; readwrite may also write; admin may
// also use /cluster/* (status, membership, transfer, snapshot) and
// /debug/pprof. A certificate that names a member (raftkv://node/<id>)
// is admin: a member can already do anything to the cluster over Raft,
// and members use their certificates to forward cluster changes and to
// join. /healthz needs nothing. No credentials: 401; too small a role: 403.

// Role is what a client may do; each role includes the ones before it.
type Role int

// Roles, weakest first.
const (
	RoleNone Role = iota
	RoleReadOnly
	RoleReadWrite
	RoleAdmin
)

var roleNames = map[string]Role{"readonly": RoleReadOnly, "readwrite": RoleReadWrite, "admin": RoleAdmin}

func (r Role) String() string {
	for n, v := range roleNames {
		if v == r {
			return n
		}
	}
	return "none"
}

// Policy maps credentials to roles. The zero value grants nothing.
type Policy struct {
	tokens map[[sha256.Size]byte]Role // by the token's hash: no secret in memory dumps of the map keys
	names  map[string]Role            // by certificate common name
}

// ParsePolicy reads an auth file: lines of role, kind (token or cn) and
// value; # starts a comment.
func ParsePolicy(r io.Reader) (*Policy, error) {
	p := &Policy{tokens: map[[sha256.Size]byte]Role{}, names: map[string]Role{}}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want: role kind value", line)
		}
		role, ok := roleNames[f[0]]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown role %q (readonly, readwrite or admin)", line, f[0])
		}
		switch f[1] {
		case "token":
			p.tokens[sha256.Sum256([]byte(f[2]))] = role
		case "cn":
			p.names[f[2]] = role
		default:
			return nil, fmt.Errorf("line %d: unknown kind %q (token or cn)", line, f[1])
		}
	}
	return p, sc.Err()
}

// LoadPolicy reads the auth file at path.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ParsePolicy(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// role returns what r's credentials allow, and whether it had any.
func (p *Policy) role(r *http.Request) (Role, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return RoleNone, true
		}
		return p.tokens[sha256.Sum256([]byte(tok))], true
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return RoleNone, false
	}
	// The chain was verified during the handshake (pki.Files.ServerConfig).
	cert := r.TLS.PeerCertificates[0]
	if _, err := pki.NodeID(cert); err == nil {
		return RoleAdmin, true
	}
	return p.names[cert.Subject.CommonName], true
}

// Needed is the role a request needs.
func Needed(r *http.Request) Role {
	path := r.URL.Path
	switch {
	case path == "/healthz":
		return RoleNone
	case path == "/kv" || strings.HasPrefix(path, "/kv/"):
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return RoleReadOnly
		}
		return RoleReadWrite
	case path == "/metrics":
		return RoleReadOnly
	default:
		return RoleAdmin
	}
}

// Authorizer enforces a Policy that can be replaced at run time (SIGHUP).
type Authorizer struct {
	p atomic.Pointer[Policy]
}

// NewAuthorizer enforces p.
func NewAuthorizer(p *Policy) *Authorizer {
	a := &Authorizer{}
	a.p.Store(p)
	return a
}

// Set replaces the policy; requests that start afterwards use it.
func (a *Authorizer) Set(p *Policy) { a.p.Store(p) }

// Wrap lets through only the requests whose credentials' role is enough.
func (a *Authorizer) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need := Needed(r)
		if need == RoleNone {
			next.ServeHTTP(w, r)
			return
		}
		have, creds := a.p.Load().role(r)
		switch {
		case !creds:
			w.Header().Set("WWW-Authenticate", `Bearer realm="raftkv"`)
			fail(w, http.StatusUnauthorized, "authentication required: a bearer token or a client certificate")
		case have == RoleNone:
			fail(w, http.StatusUnauthorized, "unknown credentials")
		case have < need:
			fail(w, http.StatusForbidden, fmt.Sprintf("role %s may not do this (needs %s)", have, need))
		default:
			next.ServeHTTP(w, r)
		}
	})
}
