package kv

// Query parameters of the key-value API: each endpoint accepts a fixed
// set, and anything else — an unknown name (?ttl=10), a value the endpoint
// does not understand (prev_exist=maybe), a name given twice — is a 400
// that lists the valid ones, instead of being silently ignored.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// param is one accepted query parameter: values lists the values it may
// take (nil: any).
type param struct {
	name   string
	values []string
}

func (p param) String() string {
	if p.values == nil {
		return p.name
	}
	return p.name + "=" + strings.Join(p.values, "|")
}

var (
	timeoutParam     = param{name: "timeout"}
	consistencyParam = param{name: "consistency", values: []string{"linearizable", "lease", "stale"}}
	requestIDParam   = param{name: "request_id"}
	prevValueParam   = param{name: "prev_value"}

	getParams  = []param{consistencyParam, timeoutParam, {name: "raw", values: []string{"", "1", "true"}}}
	listParams = []param{{name: "prefix"}, {name: "limit"}, consistencyParam, timeoutParam}
	putParams  = []param{prevValueParam, {name: "prev_exist", values: []string{"false"}}, requestIDParam, timeoutParam}
	delParams  = []param{prevValueParam, requestIDParam, timeoutParam}
)

// checkParams answers 400 and returns false if r's query does not fit
// params.
func checkParams(w http.ResponseWriter, r *http.Request, params []param) bool {
	q := r.URL.Query()
	for name, vals := range q {
		i := slices.IndexFunc(params, func(p param) bool { return p.name == name })
		switch {
		case i < 0:
			failParam(w, fmt.Sprintf("unknown query parameter %q", name), params)
			return false
		case len(vals) > 1:
			failParam(w, fmt.Sprintf("query parameter %q given %d times", name, len(vals)), params)
			return false
		case params[i].values != nil && !slices.Contains(params[i].values, vals[0]):
			failParam(w, fmt.Sprintf("bad value %q for query parameter %q", vals[0], name), params)
			return false
		}
	}
	if q.Has("prev_value") && q.Has("prev_exist") {
		failParam(w, "prev_value and prev_exist exclude each other", params)
		return false
	}
	return true
}

// failParam answers 400 with msg and the list of valid parameters.
func failParam(w http.ResponseWriter, msg string, params []param) {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.String()
	}
	fail(w, http.StatusBadRequest, msg+"; valid parameters: "+strings.Join(names, ", "))
}
