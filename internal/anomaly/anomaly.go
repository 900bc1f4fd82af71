// Package anomaly finds abnormal pull patterns in the audit log. A
// background job (leased, so one instance runs it) reads the audit events
// recorded since its last run in batches, in id order, never on the pull
// path. It keeps a rolling baseline per identity (a user, a robot, or the
// address of an anonymous client) and per repository in the metadata
// database, and flags:
//
//   - burst: an hour with far more pulls, or far more distinct
//     repositories, than the identity's usual active hour (above
//     median + k·MAD over the window, and above an absolute floor);
//     repositories get the same check on their pull volume;
//   - new_network: a pull from a network (IPv4 /24, IPv6 /48 by default)
//     the identity has not used in the window;
//   - off_hours: a pull in an hour of the day (UTC) in which, nor in the
//     hours either side of it, the identity was never active in the window;
//   - failed_pulls: many pulls refused with 401, 403 or 404 in an hour
//     (enumeration), above a floor and above the identity's baseline;
//   - robot_networks: a robot pulling from two networks within minutes.
//
// Bursts, new networks and off hours need an established baseline (the
// identity seen for anomaly.min_history); failed pulls and robots on two
// networks do not. Each kind is reported at most once per identity and
// hour. Findings are stored with their reason, and passed to a callback
// (the app records them as audit events and counts them in a metric).
package anomaly

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// The kinds of finding.
const (
	KindBurst         = "burst"
	KindNewNetwork    = "new_network"
	KindOffHours      = "off_hours"
	KindFailedPulls   = "failed_pulls"
	KindRobotNetworks = "robot_networks"
)

// Kinds lists every kind of finding.
var Kinds = []string{KindBurst, KindNewNetwork, KindOffHours, KindFailedPulls, KindRobotNetworks}

// robotPrefix starts the user name of robot accounts (auth.RobotPrefix).
const robotPrefix = "robot$"

// Detector folds audit events into baselines and reports findings.
type Detector struct {
	store     meta.AnomalyStore
	cfg       config.Anomaly
	log       *slog.Logger
	onFinding func(meta.AnomalyFinding)
	now       func() time.Time
}

// New returns a detector over store. onFinding, if set, gets each finding
// once it is stored.
func New(store meta.AnomalyStore, cfg config.Anomaly, log *slog.Logger, onFinding func(meta.AnomalyFinding)) *Detector {
	if onFinding == nil {
		onFinding = func(meta.AnomalyFinding) {}
	}
	return &Detector{store: store, cfg: cfg, log: log, onFinding: onFinding, now: time.Now}
}

// Report is what a run did.
type Report struct {
	Events      int64   `json:"events"` // audit events read (the ids the cursor moved over)
	Pulls       int64   `json:"pulls"`  // pulls folded into baselines
	Findings    int     `json:"findings"`
	Checkpoints int     `json:"checkpoints"` // transactions that saved baselines, findings and cursor
	Cursor      int64   `json:"cursor"`      // the last audit event id read
	DurationMS  float64 `json:"duration_ms"`
}

// page is how many audit events one read returns at most.
const page = 10000

// Run reads the audit events after the stored cursor, a page at a time,
// until it has caught up (or ctx ends). Every anomaly.batch events, and
// when it has caught up, it saves the changed baselines, the findings and
// the cursor in one transaction (a checkpoint); an interrupted run loses
// only the work since the last checkpoint, which the next run redoes.
// Profiles stay in memory for the run: the job's lease means no other
// instance changes them.
func (d *Detector) Run(ctx context.Context) (Report, error) {
	start := d.now()
	var rep Report
	cursor, err := d.store.AnomalyCursor(ctx)
	if err != nil {
		return rep, err
	}
	rep.Cursor = cursor
	saved := cursor
	profiles := map[string]*profile{}
	var pending []meta.AnomalyFinding
	for ctx.Err() == nil {
		events, last, err := d.store.PullEventsAfter(ctx, cursor, min(page, d.cfg.Batch))
		if err != nil {
			return rep, err
		}
		caughtUp := last == cursor
		if !caughtUp {
			if err := d.load(ctx, profiles, events); err != nil {
				return rep, err
			}
			for _, e := range events {
				pending = d.fold(profiles, e, pending)
			}
			rep.Events += last - cursor // ids are dense but for purged events
			rep.Pulls += int64(len(events))
			cursor = last
		}
		if cursor != saved && (caughtUp || cursor-saved >= int64(d.cfg.Batch)) {
			if err := d.checkpoint(ctx, profiles, cursor, pending); err != nil {
				return rep, err
			}
			rep.Findings += len(pending)
			rep.Checkpoints++
			rep.Cursor, saved, pending = cursor, cursor, nil
		}
		if caughtUp {
			break
		}
	}
	rep.DurationMS = float64(d.now().Sub(start).Microseconds()) / 1000
	return rep, ctx.Err()
}

// checkpoint saves the changed profiles, the findings and the cursor, then
// reports the findings.
func (d *Detector) checkpoint(ctx context.Context, profiles map[string]*profile, cursor int64, findings []meta.AnomalyFinding) error {
	var dirty []meta.AnomalyProfile
	for key, p := range profiles {
		if p.dirty {
			b, err := json.Marshal(p)
			if err != nil {
				return err
			}
			dirty = append(dirty, meta.AnomalyProfile{Key: key, Data: b})
		}
	}
	if err := d.store.SaveAnomalyBatch(ctx, meta.AnomalyBatch{Cursor: cursor, Profiles: dirty, Findings: findings}); err != nil {
		return err
	}
	for _, p := range profiles {
		p.dirty = false
	}
	for _, f := range findings {
		d.log.Warn("pull anomaly", "kind", f.Kind, "identity", f.Identity, "repo", f.Repository,
			"client_ip", f.ClientIP, "reason", f.Reason)
		d.onFinding(f)
	}
	return nil
}

// load reads the stored profiles of the batch's identities and
// repositories that are not in memory yet.
func (d *Detector) load(ctx context.Context, profiles map[string]*profile, events []meta.AuditEvent) error {
	var keys []string
	seen := map[string]bool{}
	for _, e := range events {
		for _, k := range []string{identityKey(e), repoKey(e)} {
			if k != "" && profiles[k] == nil && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	stored, err := d.store.AnomalyProfiles(ctx, keys)
	if err != nil {
		return err
	}
	for _, k := range keys {
		p := &profile{}
		if s, ok := stored[k]; ok {
			if err := json.Unmarshal(s.Data, p); err != nil {
				d.log.Warn("anomaly: unreadable profile; starting it again", "identity", k, "error", err)
				p = &profile{}
			}
		}
		profiles[k] = p
	}
	return nil
}

// identityKey is who pulled: "user:NAME", "robot:NAME", or for anonymous
// pulls "addr:IP".
func identityKey(e meta.AuditEvent) string {
	switch {
	case strings.HasPrefix(e.User, robotPrefix):
		return "robot:" + e.User
	case e.User != "":
		return "user:" + e.User
	case e.ClientIP != "":
		return "addr:" + e.ClientIP
	}
	return ""
}

func repoKey(e meta.AuditEvent) string {
	if e.Repository == "" {
		return ""
	}
	return "repo:" + e.Repository
}

// network is the prefix of the configured length holding ip ("" if ip is
// not an address).
func (d *Detector) network(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := d.cfg.IPv6Prefix
	if a.Is4() {
		bits = d.cfg.IPv4Prefix
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// failed reports whether a pull was refused in a way enumeration causes.
func failed(status int) bool { return status == 401 || status == 403 || status == 404 }

// fold adds one pull to its identity's and repository's profiles and
// appends what it reveals to findings.
func (d *Detector) fold(profiles map[string]*profile, e meta.AuditEvent, findings []meta.AnomalyFinding) []meta.AnomalyFinding {
	window := int64(d.cfg.Window / time.Hour)
	h := e.Time.Unix() / 3600
	add := func(kind, identity, reason string) {
		findings = append(findings, meta.AnomalyFinding{Time: e.Time, Kind: kind, Identity: identity,
			Repository: e.Repository, ClientIP: e.ClientIP, Reason: reason, EventID: e.ID})
	}
	if key := identityKey(e); key != "" {
		p := profiles[key]
		p.dirty = true
		if p.First == 0 {
			p.First = e.Time.Unix()
		}
		cur := p.current(h, window)
		b := p.baseline(h)
		established := p.seenFor(e.Time) >= d.cfg.MinHistory && b.active > 0
		if failed(e.HTTPStatus) {
			cur.Failed++
		} else if e.HTTPStatus < 400 {
			cur.Pulls += int(e.Pulls()) // an aggregate counts each of its pulls
		}
		if e.Repository != "" && !slices.Contains(p.Repos, e.Repository) {
			p.Repos = append(p.Repos, e.Repository)
			cur.Repos++
		}

		if cur.Failed >= d.cfg.FailedPulls && float64(cur.Failed) > b.failed.above(d.cfg.K) && p.flag(KindFailedPulls, h) {
			add(KindFailedPulls, key, fmt.Sprintf("%d pulls refused (401/403/404) in the hour, over %d repositories; usual hour: median %.0f failed, MAD %.1f",
				cur.Failed, cur.Repos, b.failed.median, b.failed.mad))
		}
		if established {
			if (cur.Pulls >= d.cfg.MinBurst && float64(cur.Pulls) > b.pulls.above(d.cfg.K) ||
				cur.Repos >= d.cfg.MinBurstRepositories && float64(cur.Repos) > b.repos.above(d.cfg.K)) && p.flag(KindBurst, h) {
				add(KindBurst, key, fmt.Sprintf("%d pulls of %d distinct repositories in the hour; usual active hour: "+
					"median %.0f pulls (MAD %.1f) of %.0f repositories (MAD %.1f), over %d hours",
					cur.Pulls, cur.Repos, b.pulls.median, b.pulls.mad, b.repos.median, b.repos.mad, b.active))
			}
			hod, seen := int(h%24), p.hourOfDay()
			if active := len(p.Hours) - 1; active >= d.cfg.OffHoursMinActive &&
				seen[hod]+seen[(hod+23)%24]+seen[(hod+1)%24] == 0 && p.flag(KindOffHours, h) {
				add(KindOffHours, key, fmt.Sprintf("pull at %02d:00-%02d:59 UTC; no activity between %02d:00 and %02d:59 in %d active hours since %s",
					hod, hod, (hod+23)%24, (hod+1)%24, active, time.Unix(p.Hours[0].H*3600, 0).UTC().Format("2006-01-02")))
			}
		}
		if net := d.network(e.ClientIP); net != "" {
			if _, known := p.Nets[net]; !known && established && len(p.Nets) > 0 {
				add(KindNewNetwork, key, fmt.Sprintf("first pull from network %s; known in the window: %s", net, netList(p.Nets)))
			}
			if p.Nets == nil {
				p.Nets = map[string]int64{}
			}
			p.Nets[net] = e.Time.Unix()
			if strings.HasPrefix(key, "robot:") {
				if p.LastNet != "" && p.LastNet != net && e.Time.Unix()-p.LastNetAt <= int64(d.cfg.RobotOverlap/time.Second) &&
					p.flag(KindRobotNetworks, h) {
					add(KindRobotNetworks, key, fmt.Sprintf("pulls from %s and %s within %s", p.LastNet, net,
						time.Duration(e.Time.Unix()-p.LastNetAt)*time.Second))
				}
				p.LastNet, p.LastNetAt = net, e.Time.Unix()
			}
		}
	}
	if key := repoKey(e); key != "" && e.HTTPStatus < 400 {
		p := profiles[key]
		p.dirty = true
		if p.First == 0 {
			p.First = e.Time.Unix()
		}
		cur := p.current(h, window)
		b := p.baseline(h)
		cur.Pulls += int(e.Pulls())
		if p.seenFor(e.Time) >= d.cfg.MinHistory && b.active > 0 &&
			cur.Pulls >= d.cfg.MinBurst && float64(cur.Pulls) > b.pulls.above(d.cfg.K) && p.flag(KindBurst, h) {
			add(KindBurst, key, fmt.Sprintf("%d pulls of the repository in the hour; usual active hour: median %.0f, MAD %.1f over %d hours",
				cur.Pulls, b.pulls.median, b.pulls.mad, b.active))
		}
	}
	return findings
}

// netList lists known networks for a reason, at most a few.
func netList(nets map[string]int64) string {
	var out []string
	for n := range nets {
		out = append(out, n)
	}
	slices.Sort(out)
	if len(out) > 4 {
		out = append(out[:4], fmt.Sprintf("and %d more", len(out)-4))
	}
	return strings.Join(out, ", ")
}
