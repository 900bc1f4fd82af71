package audit

import (
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/meta"
)

// Bounds of the text fields of an event, in bytes. An event comes from a
// request, and a request can carry a megabyte of header: without bounds an
// anonymous client could fill the queue, the database and the log file
// with its own text. Each bound is the longest value a legitimate request
// produces, or a generous cut where the value is free text.
const (
	// MaxUser is the longest valid user name: a robot name,
	// robot$<project, 255>+<name, 64> (auth.MaxUserName; a test keeps them
	// equal).
	MaxUser       = 326
	MaxAction     = 64
	MaxRepository = 255 // oci.MaxNameLength
	MaxReference  = 512 // a tag (128), a digest (sha512: 135) or the rest of a management API path
	MaxDigest     = 160
	MaxStatus     = 16
	MaxClientIP   = 64 // an IPv6 address with a zone
	MaxRequestID  = 128
)

// Bound cuts every text field of e to its bound (on a UTF-8 boundary).
func Bound(e meta.AuditEvent) meta.AuditEvent {
	e.Action = cut(e.Action, MaxAction)
	e.User = cut(e.User, MaxUser)
	e.Repository = cut(e.Repository, MaxRepository)
	e.Reference = cut(e.Reference, MaxReference)
	e.Digest = cut(e.Digest, MaxDigest)
	e.Status = cut(e.Status, MaxStatus)
	e.ClientIP = cut(e.ClientIP, MaxClientIP)
	e.RequestID = cut(e.RequestID, MaxRequestID)
	return e
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// eventOverhead approximates what an event costs in the queue besides its
// text: the struct and the strings' headers.
const eventOverhead = 160

// Size is what an event counts against the queue's byte bound.
func Size(e meta.AuditEvent) int64 {
	return int64(eventOverhead + len(e.Action) + len(e.User) + len(e.Repository) + len(e.Reference) +
		len(e.Digest) + len(e.Status) + len(e.ClientIP) + len(e.RequestID))
}
