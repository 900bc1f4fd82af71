package testproc

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// fakeRepo makes a repository (go.mod, .tools/bin with the tools given)
// and a PATH directory (with the programs given), changes into a
// directory below the repository and sets PATH to the PATH directory.
func fakeRepo(t *testing.T, tools, onPath []string) (root, pathDir string) {
	t.Helper()
	root, pathDir = t.TempDir(), t.TempDir()
	mkdir(t, filepath.Join(root, ".tools", "bin"))
	mkdir(t, filepath.Join(root, "test", "e2e"))
	write(t, filepath.Join(root, "go.mod"), "module example.com/fake\n", 0o644)
	for _, name := range tools {
		write(t, filepath.Join(root, ".tools", "bin", name), "#!/bin/sh\n", 0o755)
	}
	for _, name := range onPath {
		write(t, filepath.Join(pathDir, name), "#!/bin/sh\n", 0o755)
	}
	t.Chdir(filepath.Join(root, "test", "e2e"))
	t.Setenv("PATH", pathDir)
	return root, pathDir
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("fake tools are shell scripts")
	}
	tests := []struct {
		name           string
		tools, onPath  []string
		tool, pathName string
		want           string // "tools", "path" or "" (ErrNotFound)
	}{
		{name: "tools bin", tools: []string{"minio"}, tool: "minio", want: "tools"},
		{name: "tools bin before PATH", tools: []string{"minio"}, onPath: []string{"minio"}, tool: "minio", want: "tools"},
		{name: "PATH", onPath: []string{"minio"}, tool: "minio", want: "path"},
		{name: "other name on PATH", onPath: []string{"azurite-blob"}, tool: "azurite", pathName: "azurite-blob", want: "path"},
		{name: "only the other name on PATH", onPath: []string{"azurite"}, tool: "azurite", pathName: "azurite-blob"},
		{name: "another tool in tools bin", tools: []string{"crane"}, tool: "minio"},
		{name: "nowhere", tool: "minio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, pathDir := fakeRepo(t, tt.tools, tt.onPath)
			got, err := Find(tt.tool, tt.pathName)
			want := map[string]string{
				"tools": filepath.Join(root, ".tools", "bin", tt.tool),
				"path":  filepath.Join(pathDir, cmp.Or(tt.pathName, tt.tool)),
			}[tt.want]
			if tt.want == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Find = %q, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("Find = %q, %v; want %q", got, err, want)
			}
		})
	}
}

func TestToolsOnPATH(t *testing.T) {
	root, pathDir := fakeRepo(t, []string{"crane"}, nil)
	got, err := ToolsOnPATH()
	if err != nil || got != root {
		t.Fatalf("ToolsOnPATH = %q, %v; want %q", got, err, root)
	}
	want := filepath.Join(root, ".tools", "bin") + string(os.PathListSeparator) + pathDir
	if p := os.Getenv("PATH"); p != want {
		t.Fatalf("PATH = %q, want %q", p, want)
	}
	if p := Need(t, "crane"); p != filepath.Join(root, ".tools", "bin", "crane") {
		t.Fatalf("Need(crane) = %q", p)
	}
}

// recorder is a testing.TB that records how a test ended.
type recorder struct {
	testing.TB
	ended string // "fatal", "skip" or "" (went on)
	msg   string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.end("fatal", format, args) }
func (r *recorder) Skipf(format string, args ...any)  { r.end("skip", format, args) }

func (r *recorder) end(how, format string, args []any) {
	r.ended, r.msg = how, format
	runtime.Goexit()
}

// run calls f with a recorder in a goroutine, as the testing package runs
// a test, and returns the recorder once f ended.
func run(f func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestMissingAndNeed(t *testing.T) {
	tests := []struct {
		name, ci string
		call     func(testing.TB)
		want     string
	}{
		{"missing", "", func(tb testing.TB) { Missing(tb, "no %s", "x") }, "skip"},
		{"missing in CI", "true", func(tb testing.TB) { Missing(tb, "no %s", "x") }, "fatal"},
		{"missing with CI=false", "false", func(tb testing.TB) { Missing(tb, "no %s", "x") }, "skip"},
		{"need absent", "", func(tb testing.TB) { Need(tb, "minio") }, "skip"},
		{"need absent in CI", "true", func(tb testing.TB) { Need(tb, "minio") }, "fatal"},
		{"need present in CI", "true", func(tb testing.TB) { Need(tb, "crane") }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeRepo(t, nil, []string{"crane"})
			t.Setenv("CI", tt.ci)
			if r := run(tt.call); r.ended != tt.want {
				t.Fatalf("ended %q (%s), want %q", r.ended, r.msg, tt.want)
			}
		})
	}
}
