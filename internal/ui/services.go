package ui

import (
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/trust"
)

// Services are the service-layer objects the pages call: the same the
// management API's handlers call, so the UI adds no rule of its own.
type Services struct {
	Registry *registry.Service
	Manager  *auth.Manager
	Policy   *policy.Engine
	Events   *events.Service // webhooks (webhooks.go)
	Trust    *trust.Service  // signature policies and verification status
	Scan     *scan.Service   // nil when scanning is off
	Admin    AdminServices   // the management pages' (services_admin.go)
}
