package v2

import (
	"context"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/registry"
)

// pullContext carries the source host a client named with ?ns= (the
// distribution spec's "Registry Proxying": containerd sends it to a
// mirror) into the service, where it selects an upstream; a namespace
// that does select one is echoed in OCI-Namespace. The returned
// collector gathers the warnings the pull produced (a stale tag served
// while the upstream is down).
func (h *Handlers) pullContext(w http.ResponseWriter, r *http.Request) (context.Context, *registry.Warnings) {
	ctx := r.Context()
	if ns := r.URL.Query().Get("ns"); ns != "" {
		ctx = registry.WithNamespace(ctx, ns)
		if h.svc.ProxiesNamespace(ns) {
			w.Header().Set("OCI-Namespace", ns)
		}
	}
	return registry.WithWarnings(ctx)
}

// maxWarningBytes is the spec's bound on all Warning headers together.
const maxWarningBytes = 4096

// setWarnings writes the collected warnings as Warning headers, in the
// form the spec requires (code 299, agent "-", no date).
func setWarnings(w http.ResponseWriter, ws *registry.Warnings) {
	total := 0
	for _, msg := range ws.List() {
		v := "299 - " + strconv.Quote(msg)
		if total += len(v); total > maxWarningBytes {
			return
		}
		w.Header().Add("Warning", v)
	}
}
