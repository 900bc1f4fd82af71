package meta

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Event types the stores record themselves, in the transaction of the
// change (internal/events names them for everyone else).
const (
	EventManifestPushed    = "manifest.pushed"
	EventTagDeleted        = "tag.deleted"
	EventManifestDeleted   = "manifest.deleted"
	EventRepositoryDeleted = "repository.deleted"
)

// OutboxEvent is one row of the event outbox. Seq orders all events;
// RepoSeq numbers one repository's events from 1 (events without a
// repository share the "" sequence).
type OutboxEvent struct {
	Seq        int64
	ID         string
	Type       string
	Repository string
	RepoSeq    int64
	Project    string
	Digest     digest.Digest
	MediaType  string
	Tags       []string
	Actor      string
	Origin     string
	Data       string // JSON object with type-specific details, or ""
	CreatedAt  time.Time
}

// Subscription is a webhook target or a built-in consumer (Kind
// "consumer": delivered to a function registered in the process).
type Subscription struct {
	ID             int64
	Kind           string // "webhook" or "consumer"
	Project        string // "" for system-wide
	Name           string
	URL            string
	Types          []string // empty: every type
	RepositoryGlob string
	TagPattern     string
	MediaType      string
	Format         string
	Secrets        []string
	Headers        map[string]string
	Enabled        bool
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Subscription kinds.
const (
	SubscriptionWebhook  = "webhook"
	SubscriptionConsumer = "consumer"
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

// Delivery is one event due to one subscription.
type Delivery struct {
	ID             int64
	SubscriptionID int64
	Event          OutboxEvent
	Status         string
	Attempts       int
	NextAt         time.Time
	LastStatus     int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Attempt is one try at a delivery.
type Attempt struct {
	ID         int64
	DeliveryID int64
	At         time.Time
	Duration   time.Duration
	StatusCode int
	Error      string
	Response   string // at most 1 KiB of the response body
}

// DeliveryOutcome is what a worker reports for a leased delivery.
type DeliveryOutcome struct {
	Attempt Attempt
	// Status is the delivery's new status: DeliveryDelivered,
	// DeliveryDead, or DeliveryPending to try again at NextAt.
	Status string
	NextAt time.Time
}

// ClaimOptions say which deliveries a worker takes.
type ClaimOptions struct {
	Owner string
	TTL   time.Duration
	Limit int
	// Consumers are the built-in consumers this process runs; deliveries
	// to other consumers are left to the processes that run them.
	Consumers []string
}

// EventStats sum up the outbox for metrics.
type EventStats struct {
	Undispatched    int64
	Pending         int64
	Dead            int64
	OldestPendingAt time.Time // zero when none is pending
}

// EventStore is the event outbox and its deliveries. The change methods
// of Store (PutManifest, DeleteManifest, DeleteTag, DeleteRepository and
// their guarded forms) record their event themselves, in their own
// transaction, with the actor and origin carried by ctx
// (WithEventSource).
type EventStore interface {
	// RecordEvent records an event in a transaction of its own (for
	// events that are not a metadata change: pulls, quota, run reports).
	// It fills e's Seq, RepoSeq, ID (when empty) and CreatedAt.
	RecordEvent(ctx context.Context, e *OutboxEvent) error
	// OutboxEvents lists recorded events after seq, oldest first, at most n.
	OutboxEvents(ctx context.Context, after int64, n int) ([]OutboxEvent, error)

	// CreateSubscription stores s and sets its ID; ErrConflict when the
	// (kind, project, name) is taken.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// UpdateSubscription replaces a subscription's settings (by ID).
	UpdateSubscription(ctx context.Context, s *Subscription) error
	// DeleteSubscription removes a subscription and its deliveries.
	DeleteSubscription(ctx context.Context, id int64) error
	// GetSubscription returns a subscription by ID.
	GetSubscription(ctx context.Context, id int64) (Subscription, error)
	// Subscriptions lists the subscriptions of kind (every kind when
	// ""), of project when project is not "*" ("" is system-wide).
	Subscriptions(ctx context.Context, kind, project string) ([]Subscription, error)

	// DispatchEvents turns up to n undispatched events, oldest first, into
	// deliveries for the enabled subscriptions that match wants, and marks
	// them dispatched, in one transaction that no other dispatcher runs
	// beside. It returns how many events it dispatched.
	DispatchEvents(ctx context.Context, n int, wants func(*Subscription, *OutboxEvent) bool) (int, error)
	// ClaimDeliveries leases due deliveries, each the oldest pending one
	// of its (subscription, repository), for o.Owner until now+o.TTL.
	ClaimDeliveries(ctx context.Context, o ClaimOptions) ([]Delivery, error)
	// FinishDelivery records an attempt at a delivery owner leased and
	// its new status, releasing the lease. ErrConflict when owner no
	// longer holds the lease.
	FinishDelivery(ctx context.Context, id int64, owner string, o DeliveryOutcome) error
	// Deliveries lists a subscription's deliveries, newest first, with
	// status when not "", at most n, before id before (0: from the newest).
	Deliveries(ctx context.Context, subscription int64, status string, before int64, n int) ([]Delivery, error)
	// Attempts lists a delivery's attempts, oldest first.
	Attempts(ctx context.Context, delivery int64) ([]Attempt, error)
	// Redeliver puts dead deliveries of a subscription back in the queue,
	// due now: one (id) or all (id 0). It returns how many.
	Redeliver(ctx context.Context, subscription, id int64) (int, error)
	// PurgeEvents deletes finished deliveries updated before t and
	// dispatched events created before t that no pending delivery needs.
	PurgeEvents(ctx context.Context, before time.Time) (int64, error)
	// EventStats sums up the outbox.
	EventStats(ctx context.Context) (EventStats, error)
}

type eventSourceKey struct{}

type eventSource struct{ actor, origin string }

// WithEventSource returns ctx carrying who causes the changes made with it
// (actor: a user or robot name) and, for writes made on another system's
// behalf, their origin (replication sets "replication:<rule>" to avoid
// loops). An empty value keeps what ctx had.
func WithEventSource(ctx context.Context, actor, origin string) context.Context {
	cur, _ := ctx.Value(eventSourceKey{}).(eventSource)
	if actor != "" {
		cur.actor = actor
	}
	if origin != "" {
		cur.origin = origin
	}
	return context.WithValue(ctx, eventSourceKey{}, cur)
}

// EventSource returns the actor and origin ctx carries.
func EventSource(ctx context.Context) (actor, origin string) {
	cur, _ := ctx.Value(eventSourceKey{}).(eventSource)
	return cur.actor, cur.origin
}

// NewEvent returns an outbox event of type typ on repo, with a new ID and
// the actor and origin ctx carries.
func NewEvent(ctx context.Context, typ, repo string) *OutboxEvent {
	actor, origin := EventSource(ctx)
	return &OutboxEvent{ID: NewEventID(), Type: typ, Repository: repo, Project: projectOf(repo),
		Actor: actor, Origin: origin, CreatedAt: time.Now().UTC()}
}

// projectOf is the project of a repository: its first path component.
func projectOf(repo string) string {
	p, _, _ := strings.Cut(repo, "/")
	return p
}

// NewEventID returns a UUID version 7 (time-ordered, RFC 9562).
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := uint64(time.Now().UnixMilli())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(b[:6], ts[2:])
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// EncodeTags and DecodeTags store a tag list in one text column.
func EncodeTags(tags []string) string { return strings.Join(tags, "\n") }

// DecodeTags is the inverse of EncodeTags.
func DecodeTags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
