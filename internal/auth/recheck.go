package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// A bearer token says who its subject was and whether they were an
// administrator when it was issued. For the management API that is not
// enough: a deleted or demoted administrator's token would stay an
// administrator's until it expires. So management calls look the subject
// up again (a user still exists, with their admin flag and groups of now;
// a robot still exists and has not expired), remembered for liveTTL and
// forgotten at once when this instance changes a user or robot.

// liveTTL is how long a re-checked subject is remembered; other
// instances see a change within it (or their own change at once).
const liveTTL = 5 * time.Second

// errGone: the subject of a token no longer exists, or has expired.
var errGone = errors.New("subject of the token no longer exists or has expired")

// liveCache remembers re-checked subjects by kind and name.
type liveCache struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]liveEntry
}

type liveEntry struct {
	subj    *Subject // nil: gone
	expires time.Time
}

func (c *liveCache) init(now func() time.Time) {
	c.now, c.entries = now, map[string]liveEntry{}
}

func (c *liveCache) get(key string) (subj *Subject, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		return nil, false
	}
	if e.subj == nil {
		return nil, true
	}
	cp := *e.subj
	cp.Groups = slices.Clone(e.subj.Groups)
	return &cp, true
}

func (c *liveCache) put(key string, subj *Subject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= credCacheMax {
		clear(c.entries)
	}
	expires := c.now().Add(liveTTL)
	if subj != nil && !subj.expires.IsZero() && subj.expires.Before(expires) {
		expires = subj.expires
	}
	c.entries[key] = liveEntry{subj: subj, expires: expires}
}

func (c *liveCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// current returns subj as it is now: errGone when it no longer exists (or
// has expired), an error wrapping ErrUnavailable when a source of users
// cannot be asked.
func (s *Service) current(ctx context.Context, subj *Subject) (*Subject, error) {
	key := string(subj.Kind) + "\x00" + subj.Name
	if cur, ok := s.live.get(key); ok {
		if cur == nil {
			return nil, errGone
		}
		return cur, nil
	}
	var cur *Subject
	switch subj.Kind {
	case KindRobot:
		r, err := s.store.Robot(ctx, subj.Name)
		switch {
		case errors.Is(err, meta.ErrNotFound):
		case err != nil:
			return nil, err
		case !s.expired(r.ExpiresAt):
			cur = robotSubject(r)
		}
	default:
		u, err := s.lookupUser(ctx, subj.Name)
		switch {
		case errors.Is(err, errUnknownUser):
		case err != nil:
			return nil, err
		default:
			cur = u
		}
	}
	s.live.put(key, cur)
	if cur == nil {
		return nil, errGone
	}
	cp := *cur
	cp.Groups = slices.Clone(cur.Groups)
	return &cp, nil
}

// recheck replaces the subject of a request authenticated with one of
// Berth's own tokens by the subject as it is now (see current). Basic
// logins need none: they were checked against the store a moment ago.
func (s *Service) recheck(ctx context.Context, id *identity) error {
	subj := id.subj
	if !id.bearer || subj == nil || subj.Source != "token" || (subj.Kind != KindUser && subj.Kind != KindRobot) {
		return nil
	}
	cur, err := s.current(ctx, subj)
	if errors.Is(err, errGone) {
		s.log.InfoContext(ctx, "token refused: its subject no longer exists or has expired", "subject", subj.Name)
		return s.invalidToken()
	}
	if errors.Is(err, ErrUnavailable) {
		return unavailable(err)
	}
	if err != nil {
		return err
	}
	cur.Source = subj.Source
	id.subj = cur
	return nil
}
