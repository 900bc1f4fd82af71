package audit

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

func TestParseFilter(t *testing.T) {
	since := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		query    string
		limit    int
		before   int64
		since    time.Time
		badParam string
		wantUser string
	}{
		{query: "", limit: DefaultLimit},
		{query: "user=a&action=push&repository=x/y&n=5&before=9&since=2026-01-02T15:04:05Z", limit: 5, before: 9, since: since, wantUser: "a"},
		{query: "n=5000", limit: MaxLimit},
		{query: "n=0", badParam: "n"},
		{query: "before=x", badParam: "before"},
		{query: "since=yesterday", badParam: "since"},
		{query: "until=2026-01-02", badParam: "until"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			f, err := ParseFilter(q)
			var fe *FilterError
			if tc.badParam != "" {
				if !errors.As(err, &fe) || fe.Param != tc.badParam {
					t.Fatalf("error %v, want one about %s", err, tc.badParam)
				}
				return
			}
			if err != nil || f.Limit != tc.limit || f.Before != tc.before || !f.Since.Equal(tc.since) || f.User != tc.wantUser {
				t.Fatalf("%+v, %v", f, err)
			}
		})
	}
}
