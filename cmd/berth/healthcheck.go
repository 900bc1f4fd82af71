package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

// healthcheck asks a running server whether it is alive, for what cannot
// run curl: the container image's HEALTHCHECK (FROM scratch, no shell),
// systemd's ExecStartPost, scripts. The answer is the exit code: 0 when
// the URL answers 200, else 1 with the reason on stderr.
//
// Without --url, the address is the one serve would listen on (the same
// --config, BERTH_CONFIG and BERTH_* variables), asked on loopback when it
// is a wildcard address, over https when http.tls is set.
func healthcheck(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", lookup(env, "BERTH_CONFIG"), "configuration file (YAML) of the server to check")
	url := fs.String("url", "", "URL to GET (default: /healthz on the configured http.addr)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	insecure := fs.Bool("insecure", false, "do not verify the server's TLS certificate (implied without --url)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	u := *url
	if u == "" {
		// The same configuration serve reads: Berth's, or Distribution's
		// file and REGISTRY_* variables (a registry:2 drop-in).
		cfg, _, err := loadConfig(*path, env, config.Overrides{})
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		if u, err = healthURL(cfg.HTTP); err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		// The probe asks the process on this host whether it is alive;
		// the certificate names the registry's public host, not loopback.
		*insecure = true
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:             nil, // a container's HTTP_PROXY must not see the probe
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: *insecure},
		DisableKeepAlives: true,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: %s", u, resp.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", u, resp.Status)
	return nil
}

// healthURL is the /healthz URL of a server listening on h.Addr, on
// loopback when the address is a wildcard (":5000", "0.0.0.0:5000",
// "[::]:5000").
func healthURL(h config.HTTP) (string, error) {
	host, port, err := net.SplitHostPort(h.Addr)
	if err != nil {
		return "", fmt.Errorf("http.addr %q: %w", h.Addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if h.TLS.Enabled() {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz", nil
}
