package app

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// requestBody is the one wrapper of every request body: it counts the
// bytes (for the access log and metrics) and keeps a read deadline on
// the connection that each read making progress pushes forward. A body
// that delivers nothing for http.body_idle_timeout fails; a slow one that
// keeps moving never does, however long it takes. The clock starts with
// the request, so it also bounds the server's reading of a rest the
// handler left unread (a handler that waits longer than the timeout
// before it reads fails its read). At the end of the body the deadline is
// cleared: the server then watches the idle connection
// for the client going away, and a handler may take its time to answer.
type requestBody struct {
	r    io.ReadCloser
	n    int64
	rc   *http.ResponseController
	idle time.Duration // 0: no deadline
	set  time.Time     // when the deadline was last pushed forward
	eof  bool
}

func newRequestBody(w http.ResponseWriter, r io.ReadCloser, idle time.Duration) *requestBody {
	b := &requestBody{r: r}
	if idle > 0 {
		b.rc = http.NewResponseController(w)
		b.set = time.Now()
		if err := b.rc.SetReadDeadline(b.set.Add(idle)); err == nil {
			b.idle = idle
		}
	}
	return b
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.idle > 0 {
		switch now := time.Now(); {
		case errors.Is(err, io.EOF):
			b.idle = 0
			b.rc.SetReadDeadline(time.Time{})
		case n > 0 && now.Sub(b.set) >= b.idle/8:
			// Pushing the deadline forward at most 8 times per period
			// keeps the cost off fast uploads.
			b.set = now
			b.rc.SetReadDeadline(now.Add(b.idle))
		}
	}
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

func (b *requestBody) Close() error { return b.r.Close() }

// refuse ends a body the handler will not read (a 401 before it): the
// connection closes after the response instead of waiting for the rest,
// which an unauthenticated client could send as slowly as it likes.
func (b *requestBody) refuse(w http.ResponseWriter, r *http.Request) {
	if b.eof {
		return
	}
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	if b.rc == nil {
		b.rc = http.NewResponseController(w)
	}
	b.idle = 0
	b.rc.SetReadDeadline(time.Now()) // the server's drain of the rest fails at once
}
