package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateTarget: a webhook's address resolves to loopback, link-local,
// private or otherwise internal addresses, and events.allow_private_targets
// is off.
var ErrPrivateTarget = errors.New("target address is private, loopback or link-local (events.allow_private_targets is off)")

// responseExcerpt bounds what an attempt keeps of a response body;
// responseDrain bounds what is read at all.
const (
	responseExcerpt = 1024
	responseDrain   = 64 << 10
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether ip may be reached by a webhook when private
// targets are not allowed.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() &&
		!ip.IsLinkLocalMulticast() && !ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() &&
		!ip.IsUnspecified() && !cgnat.Contains(ip)
}

// checkDial is the dialer's Control hook: it runs after name resolution,
// on the address actually dialled, so a name that resolves to a private
// address (or is re-pointed there after the subscription was saved) is
// refused at delivery time.
func checkDial(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !publicAddr(ip) {
		return fmt.Errorf("%w: %s", ErrPrivateTarget, ip)
	}
	return nil
}

// newClient returns the HTTP client of webhook deliveries: no proxy from
// the environment (it would dial on the target's behalf, around the
// check), no redirects followed (a 3xx is a failed attempt), timeout
// bounding the whole attempt.
func newClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = checkDial
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// post sends one request and returns the status and an excerpt of the
// response body.
func post(ctx context.Context, c *http.Client, url string, h http.Header, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	buf := make([]byte, responseExcerpt)
	n, _ := io.ReadFull(resp.Body, buf)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseDrain))
	return resp.StatusCode, string(buf[:n]), nil
}
