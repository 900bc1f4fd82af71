package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddrAndPortCanBeListenedOn(t *testing.T) {
	addr, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
	port, err := Port()
	if err != nil || port <= 0 {
		t.Fatalf("Port() = %d, %v", port, err)
	}
	l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen on port %d: %v", port, err)
	}
	l.Close()
}
