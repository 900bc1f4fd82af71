package meta

import "strings"

// The SQL both stores run for BrowseStore; placeholder(i) writes the
// dialect's i-th parameter ("?" or "$i").

// LikeContains is a LIKE pattern (ESCAPE '\') matching strings that
// contain s.
func LikeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// LikePrefix is a LIKE pattern (ESCAPE '\') matching strings that start
// with s.
func LikePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// RepositoryListQuery returns the count and page queries of q, with their
// arguments. The page's tag counts are computed for its rows only.
func RepositoryListQuery(q RepositoryQuery, placeholder func(int) string) (count string, countArgs []any, page string, pageArgs []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", placeholder(len(args))))
	}
	if q.Project != "" {
		lo, hi := ProjectBounds(q.Project)
		args = append(args, q.Project, lo, hi)
		n := len(args)
		where = append(where, "(name = "+placeholder(n-2)+" OR (name >= "+placeholder(n-1)+" AND name < "+placeholder(n)+"))")
	}
	if q.Filter != "" {
		add(`name LIKE ? ESCAPE '\'`, LikeContains(q.Filter)) // names are lower-case (OCI grammar)
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	order := "name"
	switch q.Sort {
	case SortPushed:
		order = "pushed_at DESC, name"
	case SortPulls:
		order = "pull_count DESC, name"
	}
	count = "SELECT COUNT(*) FROM repositories" + w
	countArgs = append([]any(nil), args...)
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	args = append(args, limit, max(q.Offset, 0))
	page = `SELECT r.name, r.pushed_at, r.pull_count, r.pulled_at,
		(SELECT COUNT(*) FROM tags t WHERE t.repository_id = r.id)
		FROM (SELECT id, name, pushed_at, pull_count, pulled_at FROM repositories` + w +
		" ORDER BY " + order + " LIMIT " + placeholder(len(args)-1) + " OFFSET " + placeholder(len(args)) + ") r ORDER BY " + order
	return count, countArgs, page, args
}

// RepositoryManifestsQuery is the query of RepositoryManifests (the
// repository id, then the limit, are its parameters).
func RepositoryManifestsQuery(kind string, placeholder func(int) string) string {
	cond := `m.subject <> ''`
	if kind == ManifestsUntagged {
		cond = `m.subject = '' AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
			AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
				WHERE c.child_digest = m.digest AND p.repository_id = m.repository_id)`
	}
	return `SELECT m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.created_at, m.pulled_at
		FROM manifests m WHERE m.repository_id = ` + placeholder(1) + ` AND ` + cond +
		` ORDER BY m.created_at DESC, m.digest LIMIT ` + placeholder(2)
}

// TagSummaryCols are the columns of a TagSummary, from tags t joined with
// manifests m.
const TagSummaryCols = `SELECT t.name, m.digest, m.media_type, m.artifact_type, m.size, t.updated_at, m.pulled_at
	FROM tags t JOIN manifests m ON m.id = t.manifest_id`

// TagPageQuery returns the count and page queries of a repository's tags
// (the repository id is the first parameter of both), with their
// arguments.
func TagPageQuery(repoID int64, q TagQuery, placeholder func(int) string) (count string, countArgs []any, page string, pageArgs []any) {
	args := []any{repoID}
	w := " WHERE t.repository_id = " + placeholder(1)
	if q.Filter != "" {
		args = append(args, LikeContains(q.Filter))
		w += ` AND lower(t.name) LIKE ` + placeholder(2) + ` ESCAPE '\'`
	}
	count = "SELECT COUNT(*) FROM tags t" + w
	countArgs = append([]any(nil), args...)
	order := "t.name"
	if q.Sort == TagsByPushed {
		order = "t.updated_at DESC, t.name"
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	args = append(args, limit, max(q.Offset, 0))
	// The page is cut from tags alone, then joined: the rows skipped by
	// OFFSET never read their manifest (whose content comes before
	// pulled_at in the row).
	page = `SELECT t.name, m.digest, m.media_type, m.artifact_type, m.size, t.updated_at, m.pulled_at
		FROM (SELECT t.name, t.manifest_id, t.updated_at FROM tags t` + w + " ORDER BY " + order +
		" LIMIT " + placeholder(len(args)-1) + " OFFSET " + placeholder(len(args)) + `) t
		JOIN manifests m ON m.id = t.manifest_id ORDER BY ` + order
	return count, countArgs, page, args
}
