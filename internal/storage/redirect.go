package storage

import (
	"context"
	"time"
)

// Redirector is an optional Driver capability: a URL from which a client can
// fetch a file directly, without the registry in the data path. Drivers for
// object stores implement it with presigned URLs; the filesystem driver does
// not. Callers find it with a type assertion:
//
//	if r, ok := d.(storage.Redirector); ok { url, err := r.RedirectURL(ctx, p, 20*time.Minute) }
//
// The URL is a bearer credential for that one file until it expires: hand it
// only to a client already authorized to read the file. RedirectURL does not
// check that the file exists (callers know it from their metadata), so a URL
// for a missing file fails only when fetched. Whether to redirect at all is
// the caller's (configured) choice; on any error it serves the bytes itself.
type Redirector interface {
	// RedirectURL returns an absolute URL for a GET of the file at path,
	// valid for about expires. It returns ErrInvalidPath for a bad path.
	RedirectURL(ctx context.Context, path string, expires time.Duration) (string, error)
}
