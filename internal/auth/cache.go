package auth

import (
	"slices"
	"sync"
	"time"
)

// credCache remembers successful Basic logins briefly (credCacheTTL, and
// never past the credential's own expiry), so a client that
// sends Basic credentials with every request does not pay bcrypt each time.
// Keys are SHA-256 of user and password: the password is not kept.
type credCache struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[[32]byte]cacheEntry
}

type cacheEntry struct {
	subj    *Subject
	expires time.Time
}

const (
	credCacheTTL = 30 * time.Second
	credCacheMax = 10000
)

func (c *credCache) init(now func() time.Time) {
	c.now, c.entries = now, map[[32]byte]cacheEntry{}
}

func credKey(user, pw string) [32]byte {
	return sha256Sum(user + "\x00" + pw)
}

func (c *credCache) get(user, pw string) *Subject {
	k := credKey(user, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || !c.now().Before(e.expires) {
		return nil
	}
	cp := *e.subj
	cp.Groups = slices.Clone(e.subj.Groups)
	return &cp
}

func (c *credCache) put(user, pw string, subj *Subject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= credCacheMax {
		clear(c.entries)
	}
	cp := *subj
	expires := c.now().Add(credCacheTTL)
	if !subj.expires.IsZero() && subj.expires.Before(expires) {
		expires = subj.expires // an expired robot or access token must not log in from here
	}
	c.entries[credKey(user, pw)] = cacheEntry{subj: &cp, expires: expires}
}

func (c *credCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}
