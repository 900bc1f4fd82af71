package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/berth-registry/berth/internal/testproc"
)

// One headless Chromium serves the whole test binary; each tab gets a
// browser context of its own (its own cookies, like a private window).
var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserErr    error
	browserStop   []func()
	browserOutput syncWriter
)

// syncWriter collects the browser's own output for failure reports.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startBrowser starts Chromium once: headless, no sandbox (tests run as
// root), nothing fetched in the background, a temporary profile.
func startBrowser() (context.Context, error) {
	browserOnce.Do(func() {
		profile, err := os.MkdirTemp("", "berth-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		browserStop = append(browserStop, func() { os.RemoveAll(profile) })
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromiumPath),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("lang", "en-US"),
			chromedp.UserDataDir(profile),
			chromedp.WindowSize(1280, 860),
			chromedp.CombinedOutput(&browserOutput),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		browserStop = append(browserStop, cancelAlloc, cancel) // run last to first
		start, stop := context.WithTimeout(context.Background(), 60*time.Second)
		defer stop()
		done := make(chan error, 1)
		go func() { done <- chromedp.Do(ctx) }() // starts the browser
		select {
		case browserErr = <-done:
		case <-start.Done():
			browserErr = fmt.Errorf("chromium did not start in 60 s")
		}
		if browserErr != nil {
			browserErr = fmt.Errorf("start %s: %v\n%s", chromiumPath, browserErr, browserOutput.String())
			return
		}
		browserCtx = ctx
	})
	return browserCtx, browserErr
}

// stopBrowser ends the browser (its process and profile) after the tests.
func stopBrowser() {
	for i := len(browserStop) - 1; i >= 0; i-- {
		browserStop[i]()
	}
}

// tab is one browser tab in a fresh browser context, pointed at a server.
type tab struct {
	t   *testing.T
	srv *server
	ctx context.Context
	// theme is "light" or "dark" (the emulated prefers-color-scheme).
	theme string

	mu     sync.Mutex
	errors []string // console errors and uncaught exceptions so far
}

// consoleErrors returns the console errors and uncaught exceptions of the
// tab so far (a refused inline script, a failed fetch, a script error),
// leaving out lines that contain one of the allowed strings, and forgets
// them.
func (b *tab) consoleErrors(allowed ...string) []string {
	time.Sleep(100 * time.Millisecond) // messages arrive after the page's load
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.errors {
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.Contains(e, a) }) {
			out = append(out, e)
		}
	}
	b.errors = nil
	return out
}

// stepTimeout bounds each browser step; a missing element fails the test
// after it instead of hanging.
const stepTimeout = 20 * time.Second

// newTab opens a tab with its own cookies, a 1280×860 viewport, the
// clipboard allowed for the server's origin and prefers-color-scheme set
// to theme ("light" or "dark").
func newTab(t *testing.T, srv *server, theme string) *tab {
	t.Helper()
	if chromiumPath == "" {
		testproc.Missing(t, "%s", chromiumErr)
	}
	root, err := startBrowser()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, srv: srv, ctx: ctx, theme: theme}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("open a tab: %v", err)
	}
	msgs := chromedp.Console(ctx)
	trace := os.Getenv("BROWSER_TRACE") == "1"
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if trace {
				t.Logf("console: %s", m)
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s)", m, m.URL))
				b.mu.Unlock()
			}
		}
	}()
	bctx := chromedp.FromContext(ctx).BrowserContextID
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: perm, AllowWithoutSanitization: true},
			Setting:          browser.PermissionSettingGranted,
			Origin:           srv.URL(""),
			BrowserContextID: bctx,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 860))
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: theme}},
	}); err != nil {
		t.Fatalf("emulate prefers-color-scheme: %v", err)
	}
	return b
}

// step is a context for one browser step.
func (b *tab) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// do runs actions that return nothing; an error fails the test.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatalf("%v", err)
	}
}

// fatalf fails the test with the page's address and saves what the page
// looked like.
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	where := ""
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		where = " (at " + loc + ")"
	}
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		name := filepath.Join(shotDir, "FAILED-"+strings.ReplaceAll(b.t.Name(), "/", "-")+".png")
		if os.WriteFile(name, png, 0o644) == nil {
			where += "; screenshot " + name
		}
	}
	b.t.Fatalf(format+where, args...)
}

// open navigates to a path of the server and returns the HTTP status of
// the page.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.srv.URL(path)))
	if err != nil {
		b.fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// click clicks the element and waits for the page it leads to; it
// returns that page's HTTP response.
func (b *tab) click(sel string) *network.Response {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.fatalf("click %s: %v", sel, err)
	}
	if resp == nil {
		b.fatalf("click %s: no page loaded", sel)
	}
	return resp
}

// submit submits the form of the element (as Enter in a field does) and
// waits for the page it leads to.
func (b *tab) submit(sel string) *network.Response {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS(sel)))
	if err != nil {
		b.fatalf("submit %s: %v", sel, err)
	}
	if resp == nil {
		b.fatalf("submit %s: no page loaded", sel)
	}
	return resp
}

// chromedpClick clicks a visible element without waiting for a page.
func chromedpClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)
}

// chromedpSetValue sets a field's (or a select's) value.
func chromedpSetValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), value)
}

// answerDialog answers the next JavaScript dialog (a confirmation) with
// OK or Cancel. Call it before the click that opens the dialog; the
// function it returns waits for the dialog and returns its message.
func (b *tab) answerDialog(accept bool) func() string {
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening) // subscribed now
	msg := make(chan string, 1)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				msg <- "(no dialog: " + err.Error() + ")"
				return
			}
			_, err := chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
			if err != nil {
				msg <- "(dialog not answered: " + err.Error() + ")"
				return
			}
			msg <- ev.Message
			return
		}
	}()
	return func() string {
		b.t.Helper()
		select {
		case m := <-msg:
			return m
		case <-time.After(stepTimeout):
			b.fatalf("no confirmation dialog within %v", stepTimeout)
			return ""
		}
	}
}

// fill sets a form field's value.
func (b *tab) fill(sel, value string) {
	b.t.Helper()
	if value == "" {
		b.do(chromedp.Clear(chromedp.CSS(sel)))
		return
	}
	b.do(chromedp.SetValue(chromedp.CSS(sel), value))
}

// text is an element's visible text, trimmed.
func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// attr is an element's attribute ("" when it has none).
func (b *tab) attr(sel, name string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return res.Value
}

// eval evaluates a JavaScript expression into a T.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// count is how many elements match a CSS selector now (no waiting).
func (b *tab) count(sel string) int {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	return eval[int](b, fmt.Sprintf("document.querySelectorAll(%s).length", q))
}

// noConsoleErrors fails the test on console errors so far.
func (b *tab) noConsoleErrors() {
	b.t.Helper()
	if errs := b.consoleErrors(); len(errs) > 0 {
		b.t.Errorf("errors in the browser's console:\n  %s", strings.Join(errs, "\n  "))
	}
}

// settled says whether the page has an element matching done and none
// matching busy; false also while a page is loading (for polling a page
// that reloads itself).
func (b *tab) settled(done, busy string) bool {
	q1, _ := json.Marshal(done)
	q2, _ := json.Marshal(busy)
	ctx, cancel := b.step()
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
		"document.readyState === 'complete' && !!document.querySelector(%s) && !document.querySelector(%s)", q1, q2)))
	return err == nil && ok
}

// has says whether an element matches now (no waiting).
func (b *tab) has(sel string) bool {
	b.t.Helper()
	return b.count(sel) > 0
}

// path is the current page's path and query.
func (b *tab) path() string {
	b.t.Helper()
	return eval[string](b, "location.pathname + location.search")
}

// lang is the page's language (the lang attribute of <html>).
func (b *tab) lang() string {
	b.t.Helper()
	return eval[string](b, "document.documentElement.lang")
}

// shot saves a screenshot of the viewport as NAME-THEME-LANG.png.
func (b *tab) shot(name string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	file := filepath.Join(shotDir, fmt.Sprintf("%s-%s-%s.png", name, b.theme, b.lang()))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return file
}

// login logs in through the log-in form and checks that it worked.
func (b *tab) login(user, password string) {
	b.t.Helper()
	b.open("/ui/login")
	b.fill("#username", user)
	b.fill("#password", password)
	resp := b.click(`form[action="/ui/login"] button[type=submit]`)
	if resp.Status != 200 || b.has("form[action='/ui/login'] .field-error") {
		b.fatalf("log in as %s: status %d", user, resp.Status)
	}
	if !b.has(`form[action="/ui/logout"]`) {
		b.fatalf("log in as %s: no log-out button afterwards", user)
	}
}
