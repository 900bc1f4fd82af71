package testproc

import (
	"fmt"
	"net/http"
	"time"
)

// Direct is an HTTP client that ignores any proxy from the environment,
// for the servers tests start on 127.0.0.1.
var Direct = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}

// HTTPReady is a readiness check for WaitReady: a GET of url answers with
// status want (any status when want is 0).
func HTTPReady(url string, want int) func() error {
	return func() error {
		resp, err := Direct.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if want != 0 && resp.StatusCode != want {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}
