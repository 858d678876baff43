package kv

import "net/http"

// ForwardOver makes cluster changes that reach a follower go to the
// leader with scheme ("http" or "https") over rt (nil: the default
// transport). A TLS cluster forwards over https with the member's own
// certificate, which the leader's authorization treats as admin.
func (s *Server) ForwardOver(scheme string, rt http.RoundTripper) {
	s.fwdScheme, s.fwdTransport = scheme, rt
}
