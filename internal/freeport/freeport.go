// Package freeport finds free TCP addresses on 127.0.0.1 for the servers
// that tests and benchmarks start (registries, PostgreSQL, MinIO, nginx).
package freeport

import "net"

// Addr returns a 127.0.0.1:port nothing listens on at the moment of the
// call. Another process may still take the port before the caller binds it.
func Addr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Port is the port of an Addr.
func Port() (int, error) {
	addr, err := Addr()
	if err != nil {
		return 0, err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return net.LookupPort("tcp", port)
}
