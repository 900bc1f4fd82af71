// Command backupbench measures backup and recovery time: it fills a
// registry with generated images (default 10,000 images, 20 GiB of
// blobs) through the HTTP API, backs it up with the backup job, restores
// the snapshot into an empty data directory, and times how long the
// restored registry takes to answer. The recovery time objective is the
// restore plus the start.
//
//	go run ./bench/cmd/backupbench -dir /var/tmp/bb -images 10000 -gib 20
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/backup"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc/gctest"
)

func main() {
	dir := flag.String("dir", "", "working directory on the disk to measure (required; emptied)")
	images := flag.Int("images", 10000, "images to generate")
	gib := flag.Float64("gib", 20, "GiB of blobs in total")
	clients := flag.Int("clients", 4, "concurrent pushers")
	keep := flag.Bool("keep", false, "keep the working directory")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "backupbench: -dir is required")
		os.Exit(2)
	}
	if err := run(*dir, *images, int64(*gib*(1<<30)), *clients); err != nil {
		fmt.Fprintln(os.Stderr, "backupbench:", err)
		os.Exit(1)
	}
	if !*keep {
		os.RemoveAll(*dir)
	}
}

func open(ctx context.Context, data string) (*app.App, *config.Config, error) {
	cfg, err := config.Load("", nil, config.Overrides{Data: data})
	if err != nil {
		return nil, nil, err
	}
	cfg.Log.Access = false
	cfg.Audit.Enabled = false
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return a, cfg, err
}

func run(dir string, images int, total int64, clients int) error {
	ctx := context.Background()
	os.RemoveAll(dir)
	src, dest, restored := filepath.Join(dir, "src"), filepath.Join(dir, "backup"), filepath.Join(dir, "restored")
	a, _, err := open(ctx, src)
	if err != nil {
		return err
	}
	srv := httptest.NewServer(a.Handler())
	c := &gctest.Client{Base: srv.URL, HTTP: &http.Client{Timeout: time.Minute}}
	layer := total / int64(images)
	fmt.Printf("filling: %d images, one %d KiB layer each (%.1f GiB), %d clients\n", images, layer>>10, float64(total)/(1<<30), clients)
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var pushErr error
	var mu sync.Mutex
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, layer)
			for {
				i := next.Add(1) - 1
				if i >= int64(images) {
					return
				}
				rand.Read(buf)
				img := gctest.NewImage(fmt.Sprintf("bench/r%03d", i%1000), fmt.Sprintf("t%d", i), buf)
				if err := c.Push(img, ""); err != nil {
					mu.Lock()
					pushErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if pushErr != nil {
		return pushErr
	}
	fill := time.Since(t0)

	t0 = time.Now()
	out, err := a.Jobs().RunNow(ctx, backup.JobName, backup.CommandRequest(dest, 0))
	if err != nil {
		return err
	}
	backupTime := time.Since(t0)
	var rep backup.Report
	json.Unmarshal([]byte(out), &rep)
	t0 = time.Now()
	again, err := a.Jobs().RunNow(ctx, backup.JobName, backup.CommandRequest(dest, 0))
	if err != nil {
		return err
	}
	incremental := time.Since(t0)
	var rep2 backup.Report
	json.Unmarshal([]byte(again), &rep2)
	srv.Close()
	a.Close()
	os.RemoveAll(src) // room on the disk for the restore

	cfg, err := config.Load("", nil, config.Overrides{Data: restored})
	if err != nil {
		return err
	}
	t0 = time.Now()
	target, err := app.RestoreTarget(ctx, cfg)
	if err != nil {
		return err
	}
	from, err := app.OpenBackupDestination(ctx, cfg, dest)
	if err != nil {
		return err
	}
	rr, err := backup.Restore(ctx, from, "", target, backup.Options{Parallelism: cfg.Backup.Parallelism})
	if err != nil {
		return err
	}
	restoreTime := time.Since(t0)
	t0 = time.Now()
	b, _, err := open(ctx, restored)
	if err != nil {
		return err
	}
	srv = httptest.NewServer(b.Handler())
	resp, err := http.Get(srv.URL + "/v2/bench/r000/tags/list")
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("restored registry: %v %v", err, resp)
	}
	resp.Body.Close()
	startTime := time.Since(t0)
	srv.Close()
	b.Close()
	t0 = time.Now()
	vr, err := backup.Verify(ctx, from, "", 0.1, backup.Options{})
	if err != nil {
		return err
	}
	verifyTime := time.Since(t0)

	gb := float64(rep.Bytes) / (1 << 30)
	fmt.Printf("| step | time | figures |\n| --- | --- | --- |\n")
	fmt.Printf("| fill (push through the API) | %s | %d images, %.2f GiB |\n", fill.Round(time.Second), images, gb)
	fmt.Printf("| backup (first, full) | %s | %d blobs copied, %.0f MiB/s |\n", backupTime.Round(100*time.Millisecond), rep.Copied, float64(rep.CopiedBytes)/(1<<20)/backupTime.Seconds())
	fmt.Printf("| backup (second, nothing new) | %s | %d copied, %d skipped |\n", incremental.Round(100*time.Millisecond), rep2.Copied, rep2.Skipped)
	fmt.Printf("| restore | %s | %d blobs, %.0f MiB/s |\n", restoreTime.Round(100*time.Millisecond), rr.Copied, float64(rr.CopiedBytes)/(1<<20)/restoreTime.Seconds())
	fmt.Printf("| start of the restored registry | %s | first tag list answered |\n", startTime.Round(time.Millisecond))
	fmt.Printf("| **recovery time (restore + start)** | **%s** | |\n", (restoreTime + startTime).Round(100*time.Millisecond))
	fmt.Printf("| verify (10%% sample + references) | %s | %d blobs re-hashed, %d problems |\n", verifyTime.Round(100*time.Millisecond), vr.Checked, len(vr.Problems))
	return nil
}
