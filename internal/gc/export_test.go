package gc

import (
	"io"

	"github.com/berth-registry/berth/internal/jobs"
)

// ParseRequest reads a POST /api/v1/gc body as the API does.
func ParseRequest(body io.Reader) (Request, error) {
	var req Request
	err := jobs.DecodeRequest(body, &req)
	return req, err
}
