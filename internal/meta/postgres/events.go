package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// The event outbox (docs/events.md). recordEvent is the one statement a
// change adds to its transaction: it bumps the repository's counter row
// in event_repo_seq, whose lock makes one repository's events commit in
// sequence order, and inserts the event.

// recordEvent inserts e into the outbox within tx.
func recordEvent(ctx context.Context, tx pgx.Tx, e *meta.OutboxEvent) error {
	if e.ID == "" {
		e.ID = meta.NewEventID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	return tx.QueryRow(ctx, `WITH s AS (INSERT INTO event_repo_seq (repository, seq) VALUES ($1, 1)
			ON CONFLICT (repository) DO UPDATE SET seq = event_repo_seq.seq + 1 RETURNING seq)
		INSERT INTO events (id, type, repository, repo_seq, project, digest, media_type, tags, actor, origin, data, created_at)
		SELECT $2, $3, $1, s.seq, $4, $5, $6, $7, $8, $9, $10, $11 FROM s
		RETURNING seq, repo_seq`,
		e.Repository, e.ID, e.Type, e.Project, e.Digest.String(), e.MediaType, meta.EncodeTags(e.Tags),
		e.Actor, e.Origin, e.Data, e.CreatedAt.UnixNano()).Scan(&e.Seq, &e.RepoSeq)
}

// RecordEvent implements meta.EventStore.
func (s *Store) RecordEvent(ctx context.Context, e *meta.OutboxEvent) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return recordEvent(ctx, tx, e) })
}

const eventColumns = `e.seq, e.id, e.type, e.repository, e.repo_seq, e.project, e.digest, e.media_type, e.tags, e.actor, e.origin, e.data, e.created_at`

// scanEvent reads eventColumns (then extra) from a row.
func scanEvent(row pgx.Row, e *meta.OutboxEvent, extra ...any) error {
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

func collectEvents(rows pgx.Rows, err error) ([]meta.OutboxEvent, error) {
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.OutboxEvent{}, rows, func(row pgx.CollectableRow) (meta.OutboxEvent, error) {
		var e meta.OutboxEvent
		return e, scanEvent(row, &e)
	})
}

// OutboxEvents implements meta.EventStore.
func (s *Store) OutboxEvents(ctx context.Context, after int64, n int) ([]meta.OutboxEvent, error) {
	return collectEvents(s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`, after, n))
}

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
	err = s.pool.QueryRow(ctx, `INSERT INTO event_subscriptions
		(kind, project, name, url, types, repository_glob, tag_pattern, media_type, format, secrets, headers, enabled, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
		ON CONFLICT (kind, project, name) DO NOTHING RETURNING id`,
		sub.Kind, sub.Project, sub.Name, sub.URL, types, sub.RepositoryGlob, sub.TagPattern, sub.MediaType, sub.Format,
		secrets, headers, sub.Enabled, sub.CreatedBy, t.UnixNano()).Scan(&sub.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: subscription %s exists", meta.ErrConflict, sub.Name)
	}
	sub.CreatedAt, sub.UpdatedAt = t, t
	return err
}

// UpdateSubscription implements meta.EventStore.
func (s *Store) UpdateSubscription(ctx context.Context, sub *meta.Subscription) error {
	types, secrets, headers, err := subscriptionFields(sub)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE event_subscriptions SET name = $1, url = $2, types = $3, repository_glob = $4,
		tag_pattern = $5, media_type = $6, format = $7, secrets = $8, headers = $9, enabled = $10, updated_at = $11 WHERE id = $12`,
		sub.Name, sub.URL, types, sub.RepositoryGlob, sub.TagPattern, sub.MediaType, sub.Format, secrets, headers,
		sub.Enabled, now(), sub.ID)
	return changedOne(tag, err, "subscription")
}

// DeleteSubscription implements meta.EventStore.
func (s *Store) DeleteSubscription(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM event_subscriptions WHERE id = $1`, id)
	return changedOne(tag, err, "subscription")
}

const subscriptionColumns = `id, kind, project, name, url, types, repository_glob, tag_pattern, media_type, format,
	secrets, headers, enabled, created_by, created_at, updated_at`

func scanSubscription(row pgx.Row) (meta.Subscription, error) {
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

func collectSubscriptions(rows pgx.Rows, err error) ([]meta.Subscription, error) {
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.Subscription{}, rows, func(row pgx.CollectableRow) (meta.Subscription, error) {
		return scanSubscription(row)
	})
}

// GetSubscription implements meta.EventStore.
func (s *Store) GetSubscription(ctx context.Context, id int64) (meta.Subscription, error) {
	sub, err := scanSubscription(s.pool.QueryRow(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions WHERE id = $1`, id))
	return sub, notFound(err, "subscription")
}

// Subscriptions implements meta.EventStore.
func (s *Store) Subscriptions(ctx context.Context, kind, project string) ([]meta.Subscription, error) {
	return collectSubscriptions(s.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions
		WHERE ($1 = '' OR kind = $1) AND ($2 = '*' OR project = $2) ORDER BY project, name`, kind, project))
}

// DispatchEvents implements meta.EventStore. The lock row makes
// dispatchers on several instances take turns, so one repository's
// deliveries are created in its sequence order.
func (s *Store) DispatchEvents(ctx context.Context, n int, wants func(*meta.Subscription, *meta.OutboxEvent) bool) (int, error) {
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM events WHERE NOT dispatched LIMIT 1`).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	var count int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		count = 0
		if _, err := tx.Exec(ctx, `SELECT id FROM event_dispatch_lock WHERE id = 1 FOR UPDATE`); err != nil {
			return err
		}
		subs, err := collectSubscriptions(tx.Query(ctx, `SELECT `+subscriptionColumns+` FROM event_subscriptions WHERE enabled`))
		if err != nil {
			return err
		}
		evs, err := collectEvents(tx.Query(ctx, `SELECT `+eventColumns+` FROM events e WHERE NOT e.dispatched ORDER BY e.seq LIMIT $1`, n))
		if err != nil {
			return err
		}
		t := now()
		var seqs []int64
		for i := range evs {
			e := &evs[i]
			for j := range subs {
				if !wants(&subs[j], e) {
					continue
				}
				if _, err := tx.Exec(ctx, `INSERT INTO event_deliveries
					(subscription_id, event_seq, repository, repo_seq, next_at, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $5, $5) ON CONFLICT DO NOTHING`, subs[j].ID, e.Seq, e.Repository, e.RepoSeq, t); err != nil {
					return err
				}
			}
			seqs = append(seqs, e.Seq)
		}
		if _, err := tx.Exec(ctx, `UPDATE events SET dispatched = TRUE WHERE seq = ANY($1)`, seqs); err != nil {
			return err
		}
		count = len(evs)
		return nil
	})
	return count, err
}

const deliveryColumns = `d.id, d.subscription_id, d.status, d.attempts, d.next_at, d.last_status, d.last_error, d.created_at, d.updated_at`

func collectDeliveries(rows pgx.Rows, err error) ([]meta.Delivery, error) {
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.Delivery{}, rows, func(row pgx.CollectableRow) (meta.Delivery, error) {
		var d meta.Delivery
		var next, created, updated int64
		err := scanEvent(row, &d.Event, &d.ID, &d.SubscriptionID, &d.Status, &d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &updated)
		d.NextAt, d.CreatedAt, d.UpdatedAt = fromNanos(next), fromNanos(created), fromNanos(updated)
		return d, err
	})
}

// ClaimDeliveries implements meta.EventStore.
func (s *Store) ClaimDeliveries(ctx context.Context, o meta.ClaimOptions) ([]meta.Delivery, error) {
	var one int
	t0 := now()
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM event_deliveries WHERE status = 'pending' AND next_at <= $1 AND lease_until <= $1 LIMIT 1`,
		t0).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	var out []meta.Delivery
	consumers := o.Consumers
	if consumers == nil {
		consumers = []string{}
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		t := now()
		rows, err := tx.Query(ctx, `UPDATE event_deliveries SET lease_owner = $1, lease_until = $2
			WHERE id IN (SELECT d.id FROM event_deliveries d
				JOIN event_subscriptions s ON s.id = d.subscription_id
				WHERE d.status = 'pending' AND d.next_at <= $3 AND d.lease_until <= $3 AND s.enabled
				AND (s.kind = 'webhook' OR s.name = ANY($4))
				AND NOT EXISTS (SELECT 1 FROM event_deliveries p WHERE p.subscription_id = d.subscription_id
					AND p.repository = d.repository AND p.status = 'pending' AND p.repo_seq < d.repo_seq)
				ORDER BY d.next_at, d.id LIMIT $5 FOR UPDATE OF d SKIP LOCKED)
			AND lease_until <= $3 RETURNING id`, o.Owner, t+o.TTL.Nanoseconds(), t, consumers, o.Limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		out, err = collectDeliveries(tx.Query(ctx, `SELECT `+eventColumns+`, `+deliveryColumns+`
			FROM event_deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ANY($1) ORDER BY d.next_at, d.id`, ids))
		return err
	})
	return out, err
}

// FinishDelivery implements meta.EventStore.
func (s *Store) FinishDelivery(ctx context.Context, id int64, owner string, o meta.DeliveryOutcome) error {
	a := o.Attempt
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE event_deliveries SET status = $1, attempts = attempts + 1, next_at = $2,
			lease_owner = '', lease_until = 0, last_status = $3, last_error = $4, updated_at = $5
			WHERE id = $6 AND lease_owner = $7 AND status = 'pending'`,
			o.Status, o.NextAt.UnixNano(), a.StatusCode, a.Error, now(), id, owner)
		if err := changedOne(tag, err, "delivery"); err != nil {
			if errors.Is(err, meta.ErrNotFound) {
				return fmt.Errorf("%w: delivery %d is not leased by %s", meta.ErrConflict, id, owner)
			}
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO event_attempts (delivery_id, at, duration_ns, status_code, error, response)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, a.At.UnixNano(), a.Duration.Nanoseconds(), a.StatusCode, a.Error, a.Response)
		return err
	})
}

// Deliveries implements meta.EventStore.
func (s *Store) Deliveries(ctx context.Context, subscription int64, status string, before int64, n int) ([]meta.Delivery, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return collectDeliveries(s.pool.Query(ctx, `SELECT `+eventColumns+`, `+deliveryColumns+`
		FROM event_deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE d.subscription_id = $1 AND ($2 = '' OR d.status = $2) AND d.id < $3 ORDER BY d.id DESC LIMIT $4`,
		subscription, status, before, n))
}

// Attempts implements meta.EventStore.
func (s *Store) Attempts(ctx context.Context, delivery int64) ([]meta.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, delivery_id, at, duration_ns, status_code, error, response
		FROM event_attempts WHERE delivery_id = $1 ORDER BY id`, delivery)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.Attempt{}, rows, func(row pgx.CollectableRow) (meta.Attempt, error) {
		var a meta.Attempt
		var at, dur int64
		err := row.Scan(&a.ID, &a.DeliveryID, &at, &dur, &a.StatusCode, &a.Error, &a.Response)
		a.At, a.Duration = fromNanos(at), time.Duration(dur)
		return a, err
	})
}

// Redeliver implements meta.EventStore.
func (s *Store) Redeliver(ctx context.Context, subscription, id int64) (int, error) {
	t := now()
	tag, err := s.pool.Exec(ctx, `UPDATE event_deliveries SET status = 'pending', next_at = $1, updated_at = $1
		WHERE subscription_id = $2 AND status = 'dead' AND ($3 = 0 OR id = $3)`, t, subscription, id)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// PurgeEvents implements meta.EventStore.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := before.UnixNano()
		if _, err := tx.Exec(ctx, `DELETE FROM event_deliveries WHERE status <> 'pending' AND updated_at < $1`, b); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM events e WHERE e.dispatched AND e.created_at < $1
			AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_seq = e.seq)`, b)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// EventStats implements meta.EventStore.
func (s *Store) EventStats(ctx context.Context) (meta.EventStats, error) {
	var st meta.EventStats
	var oldest *int64
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM events WHERE NOT dispatched),
		(SELECT COUNT(*) FROM event_deliveries WHERE status = 'pending'),
		(SELECT COUNT(*) FROM event_deliveries WHERE status = 'dead'),
		(SELECT MIN(created_at) FROM event_deliveries WHERE status = 'pending')`).Scan(&st.Undispatched, &st.Pending, &st.Dead, &oldest)
	if oldest != nil {
		st.OldestPendingAt = fromNanos(*oldest)
	}
	return st, err
}
