package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// Scenario 4: tag lists and the catalog agree across crane, regctl,
// skopeo and the raw API, also when read page by page.
func TestTagsAndCatalogAgree(t *testing.T) {
	for _, tool := range []string{"crane", "regctl", "skopeo"} {
		testproc.Need(t, tool)
	}
	reg := startRegistry(t)
	c := newClients(t, reg)

	want := map[string][]string{
		"list/a":        {"1.0", "1.1", "2.0", "latest", "v1_rc-2"},
		"list/b":        {"only"},
		"list/c/deep/x": {"x"},
		"list/numbers":  {"10", "9", "a", "B"},
	}
	digest := pushCraneImage(t, c, c.ref("list/a", "latest"), 10<<10)
	for repo, tags := range want {
		for _, tag := range tags {
			if repo == "list/a" && tag == "latest" {
				continue
			}
			if repo == "list/a" {
				c.crane("tag", c.ref("list/a", "latest"), tag)
			} else {
				c.crane("copy", c.ref("list/a", digest), c.ref(repo, tag))
			}
		}
	}
	var wantRepos []string
	for repo := range want {
		wantRepos = append(wantRepos, repo)
	}
	wantRepos = sortedCopy(wantRepos)

	for repo, tags := range want {
		t.Run("tags/"+strings.ReplaceAll(repo, "/", "_"), func(t *testing.T) {
			c := c.forT(t)
			wantTags := sortedCopy(tags)
			got := map[string][]string{
				"raw":    reg.tags(t, repo),
				"crane":  lines(c.crane("ls", reg.Host+"/"+repo)),
				"regctl": lines(c.regctl("tag", "ls", reg.Host+"/"+repo)),
				"skopeo": skopeoTags(t, c, repo),
			}
			for who, tags := range got {
				if !slices.Equal(sortedCopy(tags), wantTags) {
					t.Errorf("%s lists tags %s, want %s", who, fmtList(tags), fmtList(wantTags))
				}
			}
			t.Run("pages", func(t *testing.T) {
				if target == "distribution" {
					t.Skip("Distribution 2.8 ignores n on tags/list and does not sort tags")
				}
				// Two at a time, in lexical order, each tag once.
				p := reg.paginate(t, "/v2/"+repo+"/tags/list", "tags", 2)
				if !slices.Equal(p, wantTags) {
					t.Errorf("tags/list?n=2 pages give %s, want %s in this order", fmtList(p), fmtList(wantTags))
				}
			})
		})
	}

	t.Run("catalog", func(t *testing.T) {
		c := c.forT(t)
		got := map[string][]string{
			"raw":    reg.paginate(t, "/v2/_catalog", "repositories", 1000),
			"crane":  lines(c.crane("catalog", reg.Host)),
			"regctl": lines(c.regctl("repo", "ls", reg.Host)),
			"pages":  reg.paginate(t, "/v2/_catalog", "repositories", 1),
		}
		for who, repos := range got {
			if !slices.Equal(sortedCopy(repos), wantRepos) {
				t.Errorf("%s lists repositories %s, want %s", who, fmtList(repos), fmtList(wantRepos))
			}
		}
		if p := got["pages"]; !slices.Equal(p, wantRepos) {
			t.Errorf("_catalog?n=1 pages give %s, want %s in this order", fmtList(p), fmtList(wantRepos))
		}
	})
}

func skopeoTags(t testing.TB, c *clients, repo string) []string {
	t.Helper()
	out := c.skopeo("list-tags", "--tls-verify=false", "docker://"+c.reg.Host+"/"+repo)
	var res struct {
		Repository string
		Tags       []string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("skopeo list-tags: %v\n%s", err, out)
	}
	return res.Tags
}

// lines splits command output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
