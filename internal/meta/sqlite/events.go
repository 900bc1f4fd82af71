package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// The event outbox (docs/events.md). recordEvent is the one INSERT a
// change adds to its transaction; the single writer makes the
// per-repository sequence (MAX+1) atomic. PurgeEvents keeps each
// repository's newest event so the sequence never restarts.

// recordEvent inserts e into the outbox within tx.
func recordEvent(ctx context.Context, tx wtx, e *meta.OutboxEvent) error {
	if e.ID == "" {
		e.ID = meta.NewEventID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	return tx.QueryRowContext(ctx, `INSERT INTO events
		(id, type, repository, repo_seq, project, digest, media_type, tags, actor, origin, data, created_at)
		VALUES (?, ?, ?, (SELECT COALESCE(MAX(repo_seq), 0) + 1 FROM events WHERE repository = ?), ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING seq, repo_seq`,
		e.ID, e.Type, e.Repository, e.Repository, e.Project, e.Digest.String(), e.MediaType, meta.EncodeTags(e.Tags),
		e.Actor, e.Origin, e.Data, e.CreatedAt.UnixNano()).Scan(&e.Seq, &e.RepoSeq)
}

// RecordEvent implements meta.EventStore.
func (s *Store) RecordEvent(ctx context.Context, e *meta.OutboxEvent) error {
	return s.tx(ctx, func(tx wtx) error { return recordEvent(ctx, tx, e) })
}

const eventColumns = `e.seq, e.id, e.type, e.repository, e.repo_seq, e.project, e.digest, e.media_type, e.tags, e.actor, e.origin, e.data, e.created_at`

type scanner interface{ Scan(...any) error }

// scanEvent reads eventColumns (then extra) from a row.
func scanEvent(row scanner, e *meta.OutboxEvent, extra ...any) error {
	var d, tags string
	var created int64
	dest := append([]any{&e.Seq, &e.ID, &e.Type, &e.Repository, &e.RepoSeq, &e.Project, &d, &e.MediaType, &tags,
		&e.Actor, &e.Origin, &e.Data, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	e.Digest, e.Tags, e.CreatedAt = digest.Digest(d), meta.DecodeTags(tags), fromNanos(created)
	return nil
}

// OutboxEvents implements meta.EventStore.
func (s *Store) OutboxEvents(ctx context.Context, after int64, n int) ([]meta.OutboxEvent, error) {
	rows, err := s.readRows(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.seq > ? ORDER BY e.seq LIMIT ?`, after, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.OutboxEvent{}
	for rows.Next() {
		var e meta.OutboxEvent
		if err := scanEvent(rows, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// subscriptionFields encodes a subscription's list and map columns.
func subscriptionFields(sub *meta.Subscription) (types, secrets, headers string, err error) {
	b, err := json.Marshal(sub.Secrets)
	if err != nil {
		return "", "", "", err
	}
	h, err := json.Marshal(sub.Headers)
	if err != nil {
		return "", "", "", err
	}
	return strings.Join(sub.Types, ","), string(b), string(h), nil
}

// CreateSubscription implements meta.EventStore.
func (s *Store) CreateSubscription(ctx context.Context, sub *meta.Subscription) error {
	types, secrets, headers, err := subscriptionFields(sub)
	if err != nil {
		return err
	}
	t := time.Now().UTC()
	return s.tx(ctx, func(tx wtx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM event_subscriptions WHERE kind = ? AND project = ? AND name = ?`,
			sub.Kind, sub.Project, sub.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: subscription %s exists", meta.ErrConflict, sub.Name)
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO event_subscriptions
			(kind, project, name, url, types, repository_glob, tag_pattern, media_type, format, secrets, headers, enabled, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			sub.Kind, sub.Project, sub.Name, sub.URL, types, sub.RepositoryGlob, sub.TagPattern, sub.MediaType, sub.Format,
			secrets, headers, sub.Enabled, sub.CreatedBy, t.UnixNano(), t.UnixNano()).Scan(&sub.ID)
		sub.CreatedAt, sub.UpdatedAt = t, t
		return err
	})
}

// UpdateSubscription implements meta.EventStore.
func (s *Store) UpdateSubscription(ctx context.Context, sub *meta.Subscription) error {
	types, secrets, headers, err := subscriptionFields(sub)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE event_subscriptions SET name = ?, url = ?, types = ?, repository_glob = ?,
			tag_pattern = ?, media_type = ?, format = ?, secrets = ?, headers = ?, enabled = ?, updated_at = ? WHERE id = ?`,
			sub.Name, sub.URL, types, sub.RepositoryGlob, sub.TagPattern, sub.MediaType, sub.Format, secrets, headers,
			sub.Enabled, now(), sub.ID)
		return changedOne(res, err, "subscription")
	})
}

// DeleteSubscription implements meta.EventStore.
func (s *Store) DeleteSubscription(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM event_subscriptions WHERE id = ?`, id)
		return changedOne(res, err, "subscription")
	})
}

const subscriptionColumns = `id, kind, project, name, url, types, repository_glob, tag_pattern, media_type, format,
	secrets, headers, enabled, created_by, created_at, updated_at`

func scanSubscription(row scanner) (meta.Subscription, error) {
	var sub meta.Subscription
	var types, secrets, headers string
	var created, updated int64
	err := row.Scan(&sub.ID, &sub.Kind, &sub.Project, &sub.Name, &sub.URL, &types, &sub.RepositoryGlob, &sub.TagPattern,
		&sub.MediaType, &sub.Format, &secrets, &headers, &sub.Enabled, &sub.CreatedBy, &created, &updated)
	if err != nil {
		return sub, err
	}
	if types != "" {
		sub.Types = strings.Split(types, ",")
	}
	if err := json.Unmarshal([]byte(secrets), &sub.Secrets); err != nil {
		return sub, err
	}
	if err := json.Unmarshal([]byte(headers), &sub.Headers); err != nil {
		return sub, err
	}
	sub.CreatedAt, sub.UpdatedAt = fromNanos(created), fromNanos(updated)
	return sub, nil
}

// GetSubscription implements meta.EventStore.
func (s *Store) GetSubscription(ctx context.Context, id int64) (meta.Subscription, error) {
	sub, err := scanSubscription(s.readRow(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions WHERE id = ?`, id))
	return sub, notFound(err, "subscription")
}

// Subscriptions implements meta.EventStore.
func (s *Store) Subscriptions(ctx context.Context, kind, project string) ([]meta.Subscription, error) {
	return collectSubscriptions(s.readRows(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions
		WHERE (? = '' OR kind = ?) AND (? = '*' OR project = ?) ORDER BY project, name`, kind, kind, project, project))
}

func collectSubscriptions(rows *sql.Rows, err error) ([]meta.Subscription, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// DispatchEvents implements meta.EventStore (the single writer runs one
// dispatcher at a time).
func (s *Store) DispatchEvents(ctx context.Context, n int, wants func(*meta.Subscription, *meta.OutboxEvent) bool) (int, error) {
	// An idle registry polls without taking the writer.
	var one int
	if err := s.readRow(ctx, `SELECT 1 FROM events WHERE dispatched = 0 LIMIT 1`).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	var count int
	// Lazily committed: the events themselves were committed durably with
	// the changes they record; a crash that loses a dispatch undoes it
	// together with the deliveries it made (one transaction), and the next
	// dispatch makes them again (UNIQUE (subscription_id, event_seq)). Any
	// later synchronous commit, such as a delivery's claim, makes it
	// durable first. This keeps one WAL fsync per push off the device.
	err := s.lazyTx(ctx, func(tx wtx) error {
		count = 0
		subs, err := collectSubscriptions(tx.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions WHERE enabled`))
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.dispatched = 0 ORDER BY e.seq LIMIT ?`, n)
		if err != nil {
			return err
		}
		var evs []meta.OutboxEvent
		for rows.Next() {
			var e meta.OutboxEvent
			if err := scanEvent(rows, &e); err != nil {
				rows.Close()
				return err
			}
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		t := now()
		for i := range evs {
			e := &evs[i]
			for j := range subs {
				if !wants(&subs[j], e) {
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO event_deliveries
					(subscription_id, event_seq, repository, repo_seq, next_at, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, subs[j].ID, e.Seq, e.Repository, e.RepoSeq, t, t, t); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE events SET dispatched = 1 WHERE seq = ?`, e.Seq); err != nil {
				return err
			}
		}
		count = len(evs)
		return nil
	})
	return count, err
}

const deliveryColumns = `d.id, d.subscription_id, d.status, d.attempts, d.next_at, d.last_status, d.last_error, d.created_at, d.updated_at`

func scanDelivery(row scanner) (meta.Delivery, error) {
	var d meta.Delivery
	var next, created, updated int64
	err := scanEvent(row, &d.Event, &d.ID, &d.SubscriptionID, &d.Status, &d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &updated)
	d.NextAt, d.CreatedAt, d.UpdatedAt = fromNanos(next), fromNanos(created), fromNanos(updated)
	return d, err
}

func collectDeliveries(rows *sql.Rows, err error) ([]meta.Delivery, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements meta.EventStore.
func (s *Store) ClaimDeliveries(ctx context.Context, o meta.ClaimOptions) ([]meta.Delivery, error) {
	var one int
	t0 := now()
	if err := s.readRow(ctx, `SELECT 1 FROM event_deliveries WHERE status = 'pending' AND next_at <= ? AND lease_until <= ? LIMIT 1`,
		t0, t0).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	var out []meta.Delivery
	consumers := strings.Join(o.Consumers, "\n")
	// Claims and outcomes are committed lazily (see DispatchEvents): a
	// crash may lose the latest of them, and then the delivery is claimed
	// and sent again (delivery is at least once), but no push waits behind
	// their fsyncs for the single writer.
	err := s.lazyTx(ctx, func(tx wtx) error {
		t := now()
		ids, err := scanInts(tx.QueryContext(ctx, `SELECT d.id FROM event_deliveries d
			JOIN event_subscriptions s ON s.id = d.subscription_id
			WHERE d.status = 'pending' AND d.next_at <= ? AND d.lease_until <= ? AND s.enabled
			AND (s.kind = 'webhook' OR instr(char(10) || ? || char(10), char(10) || s.name || char(10)) > 0)
			AND NOT EXISTS (SELECT 1 FROM event_deliveries p WHERE p.subscription_id = d.subscription_id
				AND p.repository = d.repository AND p.status = 'pending' AND p.repo_seq < d.repo_seq)
			ORDER BY d.next_at, d.id LIMIT ?`, t, t, consumers, o.Limit))
		if err != nil {
			return err
		}
		out = out[:0]
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE event_deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?`,
				o.Owner, t+o.TTL.Nanoseconds(), id); err != nil {
				return err
			}
			ds, err := collectDeliveries(tx.QueryContext(ctx, `SELECT `+eventColumns+`, `+deliveryColumns+`
				FROM event_deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ?`, id))
			if err != nil {
				return err
			}
			out = append(out, ds...)
		}
		return nil
	})
	return out, err
}

func scanInts(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FinishDelivery implements meta.EventStore.
func (s *Store) FinishDelivery(ctx context.Context, id int64, owner string, o meta.DeliveryOutcome) error {
	a := o.Attempt
	return s.lazyTx(ctx, func(tx wtx) error { // lazily: see ClaimDeliveries
		res, err := tx.ExecContext(ctx, `UPDATE event_deliveries SET status = ?, attempts = attempts + 1, next_at = ?,
			lease_owner = '', lease_until = 0, last_status = ?, last_error = ?, updated_at = ?
			WHERE id = ? AND lease_owner = ? AND status = 'pending'`,
			o.Status, o.NextAt.UnixNano(), a.StatusCode, a.Error, now(), id, owner)
		if err := changedOne(res, err, "delivery"); err != nil {
			if errors.Is(err, meta.ErrNotFound) {
				return fmt.Errorf("%w: delivery %d is not leased by %s", meta.ErrConflict, id, owner)
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO event_attempts (delivery_id, at, duration_ns, status_code, error, response)
			VALUES (?, ?, ?, ?, ?, ?)`, id, a.At.UnixNano(), a.Duration.Nanoseconds(), a.StatusCode, a.Error, a.Response)
		return err
	})
}

// Deliveries implements meta.EventStore.
func (s *Store) Deliveries(ctx context.Context, subscription int64, status string, before int64, n int) ([]meta.Delivery, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return collectDeliveries(s.readRows(ctx, `SELECT `+eventColumns+`, `+deliveryColumns+`
		FROM event_deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.subscription_id = ? AND (? = '' OR d.status = ?) AND d.id < ? ORDER BY d.id DESC LIMIT ?`,
		subscription, status, status, before, n))
}

// Attempts implements meta.EventStore.
func (s *Store) Attempts(ctx context.Context, delivery int64) ([]meta.Attempt, error) {
	rows, err := s.readRows(ctx, `SELECT id, delivery_id, at, duration_ns, status_code, error, response
		FROM event_attempts WHERE delivery_id = ? ORDER BY id`, delivery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.Attempt{}
	for rows.Next() {
		var a meta.Attempt
		var at, dur int64
		if err := rows.Scan(&a.ID, &a.DeliveryID, &at, &dur, &a.StatusCode, &a.Error, &a.Response); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromNanos(at), time.Duration(dur)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Redeliver implements meta.EventStore.
func (s *Store) Redeliver(ctx context.Context, subscription, id int64) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx wtx) error {
		t := now()
		res, err := tx.ExecContext(ctx, `UPDATE event_deliveries SET status = 'pending', next_at = ?, updated_at = ?
			WHERE subscription_id = ? AND status = 'dead' AND (? = 0 OR id = ?)`, t, t, subscription, id, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// PurgeEvents implements meta.EventStore.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx wtx) error {
		b := before.UnixNano()
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_deliveries WHERE status <> 'pending' AND updated_at < ?`, b); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE dispatched = 1 AND created_at < ?
			AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_seq = events.seq)
			AND repo_seq < (SELECT MAX(repo_seq) FROM events l WHERE l.repository = events.repository)`, b)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// EventStats implements meta.EventStore.
func (s *Store) EventStats(ctx context.Context) (meta.EventStats, error) {
	var st meta.EventStats
	var oldest sql.NullInt64
	err := s.readRow(ctx, `SELECT
		(SELECT COUNT(*) FROM events WHERE dispatched = 0),
		(SELECT COUNT(*) FROM event_deliveries WHERE status = 'pending'),
		(SELECT COUNT(*) FROM event_deliveries WHERE status = 'dead'),
		(SELECT MIN(created_at) FROM event_deliveries WHERE status = 'pending')`).Scan(&st.Undispatched, &st.Pending, &st.Dead, &oldest)
	if oldest.Valid {
		st.OldestPendingAt = fromNanos(oldest.Int64)
	}
	return st, err
}
