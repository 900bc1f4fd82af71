// Package audit is Berth's audit log: who pulled, pushed or deleted which
// artifact, who logged in (or failed to), and who changed users, projects
// and settings. Events are recorded without blocking the request that
// caused them, then written in batches to the metadata database (where the
// management API queries them) and, if configured, as JSON lines to a file
// or stdout. Nothing secret is ever part of an event.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Config tunes the log.
type Config struct {
	Output    string        // "" (database only), "stdout", "stderr", or a file path (appended to)
	Retention time.Duration // events older than this are purged from the database; 0 keeps them
	Buffer    int           // events waiting to be written; when full, new events are dropped and counted
	// BufferBytes bounds the size of the events waiting to be written (the
	// sum of Size); over it, new events are dropped and counted. 0: 32 MiB.
	BufferBytes int64
	// Pulls is how successful pulls are recorded: PullsFull (also ""),
	// PullsAggregate or PullsOff.
	Pulls string
	// PullWindow is the period of one aggregate (DefaultPullWindow if 0).
	PullWindow time.Duration
}

// DefaultBufferBytes is the queue's byte bound when Config.BufferBytes is 0.
const DefaultBufferBytes = 32 << 20

// Log records audit events.
type Log struct {
	store   meta.AuditStore
	cfg     Config
	log     *slog.Logger
	out     io.Writer
	closeFn func() error
	events  chan *meta.AuditEvent // pointers: a buffer of values (65,536 × 184 bytes) was 12 MiB of heap from start
	dropped atomic.Int64
	written atomic.Int64
	queued  atomic.Int64 // bytes of the events in the queue (Size)
	done    chan struct{}
	once    sync.Once
	pulls   pullAggregator
	flush   chan struct{} // the aggregates should be written now
}

// batch bounds one database write; gatherDelay is how long the writer
// waits for more events after the first before writing a batch;
// the aggregates of windows gone by are written every quarter window, at
// most every maxPullsTick.
const (
	batch        = 1024
	gatherDelay  = 100 * time.Millisecond
	maxPullsTick = 5 * time.Second
)

// New opens the log's output; Run writes the events.
func New(store meta.AuditStore, cfg Config, log *slog.Logger) (*Log, error) {
	if cfg.BufferBytes <= 0 {
		cfg.BufferBytes = DefaultBufferBytes
	}
	if err := CheckPulls(cfg.Pulls); err != nil {
		return nil, fmt.Errorf("audit.pulls: %w", err)
	}
	l := &Log{store: store, cfg: cfg, log: log, events: make(chan *meta.AuditEvent, max(1, cfg.Buffer)),
		done: make(chan struct{}), closeFn: func() error { return nil }, flush: make(chan struct{}, 1)}
	if cfg.PullWindow <= 0 {
		cfg.PullWindow = DefaultPullWindow
	}
	l.cfg.PullWindow, l.pulls.window = cfg.PullWindow, cfg.PullWindow
	switch cfg.Output {
	case "":
	case "stdout":
		l.out = os.Stdout
	case "stderr":
		l.out = os.Stderr
	default:
		f, err := os.OpenFile(cfg.Output, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("audit.output: %w", err)
		}
		l.out, l.closeFn = f, f.Close
	}
	return l, nil
}

// Record queues an event without waiting. Its fields are cut to their
// bounds first (Bound). When the queue is full, by count or by bytes (the
// database cannot keep up), the event is dropped and counted (Dropped, and
// a warning in the log) rather than slowing down pulls and pushes. A
// successful pull is counted in its minute's aggregate instead with
// Config.Pulls aggregate, and not recorded with off.
func (l *Log) Record(e meta.AuditEvent) {
	if l == nil {
		return
	}
	e = Bound(e)
	if l.cfg.Pulls != PullsFull && l.cfg.Pulls != "" && pullEvent(e) {
		if l.cfg.Pulls == PullsAggregate && l.pulls.add(e) {
			select {
			case l.flush <- struct{}{}:
			default:
			}
		}
		return
	}
	l.enqueue(e)
}

// enqueue puts e in the writer's queue, or drops it when the queue is full.
func (l *Log) enqueue(e meta.AuditEvent) {
	size := Size(e)
	if l.queued.Add(size) > l.cfg.BufferBytes {
		l.queued.Add(-size)
		l.drop()
		return
	}
	select {
	case l.events <- &e:
	default:
		l.queued.Add(-size)
		l.drop()
	}
}

func (l *Log) drop() {
	if n := l.dropped.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th... drop
		l.log.Warn("audit log queue full: events dropped", "dropped", n)
	}
}

// take is the receiving end of the queue: it gives back the event's bytes.
func (l *Log) take(e *meta.AuditEvent) meta.AuditEvent {
	l.queued.Add(-Size(*e))
	return *e
}

// QueuedBytes is the size of the events waiting to be written.
func (l *Log) QueuedBytes() int64 { return l.queued.Load() }

// Dropped is the number of events dropped because the queue was full.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Written is the number of events stored.
func (l *Log) Written() int64 { return l.written.Load() }

// Run writes queued events until ctx is done, then writes what is still
// queued and returns. It purges events past the retention period hourly.
func (l *Log) Run(ctx context.Context) {
	defer close(l.done)
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	pulls := time.NewTicker(min(maxPullsTick, l.cfg.PullWindow/4))
	defer pulls.Stop()
	l.purge(ctx)
	var buf []meta.AuditEvent // grows to the largest batch seen, up to batch
	for {
		select {
		case e := <-l.events:
			// Gather what arrives in the next moment into one batch: one
			// transaction per event would cost more than the requests.
			buf = append(buf[:0], l.take(e))
			gather := time.NewTimer(gatherDelay)
		gathering:
			for len(buf) < batch {
				select {
				case e := <-l.events:
					buf = append(buf, l.take(e))
				case <-gather.C:
					break gathering
				case <-ctx.Done():
					break gathering
				}
			}
			gather.Stop()
			l.write(context.WithoutCancel(ctx), buf)
		case <-purge.C:
			l.purge(ctx)
		case <-pulls.C:
			l.takePulls(time.Now(), false)
		case <-l.flush:
			l.takePulls(time.Now(), true)
		case <-ctx.Done():
			l.takePulls(time.Now(), true)
			for {
				buf = l.drain(buf[:0])
				if len(buf) == 0 {
					return
				}
				l.write(context.WithoutCancel(ctx), buf)
			}
		}
	}
}

// takePulls queues the pull aggregates of the minutes before now's, or
// all of them.
func (l *Log) takePulls(now time.Time, all bool) {
	for _, e := range l.pulls.take(now, all) {
		l.enqueue(e)
	}
}

// drain adds what is queued to buf, up to a batch.
func (l *Log) drain(buf []meta.AuditEvent) []meta.AuditEvent {
	for len(buf) < batch {
		select {
		case e := <-l.events:
			buf = append(buf, l.take(e))
		default:
			return buf
		}
	}
	return buf
}

// Close waits for Run to finish (after its context ended) and closes the
// output file.
func (l *Log) Close() error {
	<-l.done
	var err error
	l.once.Do(func() { err = l.closeFn() })
	return err
}

func (l *Log) write(ctx context.Context, events []meta.AuditEvent) {
	if l.out != nil {
		var b []byte
		for _, e := range events {
			b = append(AppendJSON(b, e), '\n')
		}
		if _, err := l.out.Write(b); err != nil {
			l.log.Error("audit: writing the output", "error", err)
		}
	}
	for attempt := 1; ; attempt++ {
		err := l.store.AppendAudit(ctx, events)
		if err == nil {
			l.written.Add(int64(len(events)))
			return
		}
		if attempt == 3 {
			l.dropped.Add(int64(len(events)))
			l.log.Error("audit: storing events failed; dropped", "events", len(events), "error", err)
			return
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

func (l *Log) purge(ctx context.Context) {
	if l.cfg.Retention <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	n, err := l.store.PurgeAudit(ctx, time.Now().Add(-l.cfg.Retention))
	if err != nil {
		l.log.Warn("audit: purging old events", "error", err)
		return
	}
	if n > 0 {
		l.log.Info("audit: purged events past retention", "events", n, "retention", l.cfg.Retention)
	}
}

// Line is the JSON form of an event, in the log file and the API.
type Line struct {
	ID         int64  `json:"id,omitempty"`
	Timestamp  string `json:"timestamp"`
	Action     string `json:"action"`
	User       string `json:"user"`
	Image      string `json:"image,omitempty"`
	Repository string `json:"repository,omitempty"`
	Reference  string `json:"reference,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Status     string `json:"status"`
	HTTPStatus int    `json:"http_status,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	ClientIP   string `json:"client_ip,omitempty"`
	RequestID  string `json:"request_id,omitempty"`
	// Requests is set on an aggregate of successful pulls: how many, in
	// the minute from Timestamp (audit.pulls: aggregate).
	Requests int64 `json:"requests,omitempty"`
}

// ToLine converts an event to its JSON form. Image is repository:tag or
// repository@digest, as a user would type it.
func ToLine(e meta.AuditEvent) Line {
	image := e.Repository
	if e.Reference != "" && e.Repository != "" {
		sep := ":"
		if strings.Contains(e.Reference, ":") { // a digest; tags have no colon
			sep = "@"
		}
		image += sep + e.Reference
	}
	return Line{ID: e.ID, Timestamp: e.Time.UTC().Format(time.RFC3339Nano), Action: e.Action, User: e.User,
		Image: image, Repository: e.Repository, Reference: e.Reference, Digest: e.Digest, Status: e.Status,
		HTTPStatus: e.HTTPStatus, DurationMS: e.Duration.Milliseconds(), ClientIP: e.ClientIP, RequestID: e.RequestID,
		Requests: e.Requests}
}

// AppendJSON appends the event as one JSON object.
func AppendJSON(b []byte, e meta.AuditEvent) []byte {
	j, _ := json.Marshal(ToLine(e)) // a struct of strings and numbers always marshals
	return append(b, j...)
}
