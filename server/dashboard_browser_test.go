package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/sdk/client"
	"github.com/junctionhq/junction/sdk/units"
)

// The dashboard's end-to-end tests drive Debian's chromium (headless)
// against a broker on 127.0.0.1. Without chromium they are skipped, unless
// JUNCTION_REQUIRE_BROWSER is set (CI sets it and installs chromium).

// browser is one headless chromium tab that records console errors,
// exceptions and failed requests.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("JUNCTION_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium on PATH and JUNCTION_REQUIRE_BROWSER is set")
	}
	t.Skip("no chromium on PATH: skipping the dashboard's browser tests")
	return ""
}

// newBrowser starts chromium at 1280x800. On failure the test saves a
// screenshot in a temporary directory and logs its path.
func newBrowser(t *testing.T, base string) *browser {
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.record))
	b.ctx = ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot()
		}
		cancel()
		cancelAlloc()
	})
	return b
}

func (b *browser) record(ev any) {
	var p string
	switch e := ev.(type) {
	case *cdpruntime.EventConsoleAPICalled:
		if e.Type == cdpruntime.ConsoleAPICalledTypeError || e.Type == cdpruntime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p = "console error: " + strings.Join(args, " ")
		}
	case *cdpruntime.EventExceptionThrown:
		p = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			p += " " + e.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			p = fmt.Sprintf("browser log: %s %s", e.Entry.Text, e.Entry.URL)
		}
	case *network.EventLoadingFailed:
		if !e.Canceled {
			p = "request failed: " + e.ErrorText
		}
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 {
			p = fmt.Sprintf("request failed: %d %s", e.Response.Status, e.Response.URL)
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// clean fails the test if the page logged an error or a request failed.
func (b *browser) clean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Errorf("the browser saw %d problems:\n%s", len(b.problems), strings.Join(b.problems, "\n"))
	}
}

// forget drops the problems seen so far (requests a test expects to fail).
func (b *browser) forget() {
	b.mu.Lock()
	b.problems = nil
	b.mu.Unlock()
}

func (b *browser) screenshot() {
	dir, err := os.MkdirTemp("", "junction-dashboard-")
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())+".png")
	if err := os.WriteFile(path, img, 0o644); err == nil {
		b.t.Logf("screenshot of the failure: %s", path)
	}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func (b *browser) open(hash string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + "/#" + hash))
}

// wait polls a JavaScript condition until it is truthy, for up to 15s.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main")?.innerText ?? ""`))
		b.t.Fatalf("waiting for %s: %v\npage text:\n%.2000s", what, err, text)
	}
}

// click clicks the element sel names once it is visible. The query and the
// click run in one step in the page: the dashboard re-renders tables as
// data arrives, and a click on a node found a moment before may name a
// node the page has since replaced.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.wait("something to click at "+sel, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e || !e.checkVisibility()) return false;
		e.click();
		return true;
	})()`, sel))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ""`, sel)))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// countingListener counts the bytes every accepted connection reads, to
// tell whether anything still talks to the broker.
type countingListener struct {
	net.Listener
	read atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.read}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// startDashboardBroker starts a broker whose connectors may use the
// temporary directory (where the tests' own directories are).
func startDashboardBroker(t *testing.T, edit ...func(*Options)) (*Server, *countingListener, *client.Client) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	opts := Options{DataDir: t.TempDir(), PluginDirs: []string{testPlugins}, Logger: slog.New(slog.DiscardHandler),
		ConnectorRestart: plugin.RestartPolicy{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond, MaxFailures: 2, Window: time.Minute},
		Security:         SecurityOptions{FileRoots: []string{os.TempDir()}}}
	for _, e := range edit {
		e(&opts)
	}
	s, err := Start(context.Background(), opts, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := client.Connect(context.Background(), s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, ln, c
}

// A station made in the UI fills with messages produced by the Go client;
// the browser shows the counts, the messages and a group's lag falling,
// and closing the page leaves nothing running.
func TestDashboardStationsMessagesAndGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s, ln, c := startDashboardBroker(t)
	ctx := context.Background()
	if _, err := c.Stations(ctx); err != nil { // the client's own connection
		t.Fatal(err)
	}
	connsBefore := serving()
	b := newBrowser(t, "http://"+s.Addr())

	b.open("/stations")
	b.wait("the stations table", `document.querySelector("td.empty") !== null`)
	b.click("#create-station")
	b.do(chromedp.SendKeys(chromedp.CSS("#f-name"), "bad name"))
	b.click(`dialog button[type="submit"]`)
	b.wait("the name error", `document.querySelector("#e-name").textContent.includes("not a valid name")`)
	b.do(chromedp.SetValue(chromedp.CSS("#f-name"), "orders"), chromedp.SetValue(chromedp.CSS("#f-retentionAge"), "7d"))
	b.click(`dialog button[type="submit"]`)
	b.wait("the new station's row", `document.querySelector('tr[data-station="orders"]') !== null`)
	st, err := c.Station(ctx, "orders")
	if err != nil || st.Retention.MaxAge != 7*24*time.Hour {
		t.Fatalf("station made in the UI: %+v, %v", st, err)
	}
	b.click(`tr[data-station="orders"] button.ghost`)
	b.wait("the edit form with the station's retention", `document.querySelector("#f-retentionAge")?.value === "1w"`)
	b.do(chromedp.SetValue(chromedp.CSS("#f-retentionAge"), "30d"), chromedp.SetValue(chromedp.CSS("#f-dedupWindow"), "2m"))
	b.click(`dialog button[type="submit"]`)
	b.wait("the new retention in the list", `document.querySelector('tr[data-station="orders"]')?.textContent.includes("30d")`)
	if st, err = c.Station(ctx, "orders"); err != nil || st.Retention.MaxAge != 30*24*time.Hour || st.DedupWindow != 2*time.Minute {
		t.Fatalf("station edited in the UI: %+v, %v", st, err)
	}

	var msgs []client.Message
	for i := range 5 {
		msgs = append(msgs, client.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf(`{"order":%d}`, i)),
			Headers: []client.Header{{Key: "source", Value: []byte("test")}}})
	}
	if _, err := c.Produce(ctx, "orders", msgs...); err != nil {
		t.Fatal(err)
	}
	b.wait("5 messages in the list", `document.querySelector('tr[data-station="orders"] [data-col="messages"]')?.textContent === "5"`)

	if _, err := c.CreateGroup(ctx, "orders", "billing", client.Earliest, client.GroupConfig{}); err != nil {
		t.Fatal(err)
	}
	b.open("/stations/orders")
	b.wait("the station's message count", `document.querySelector('[data-metric="messages"]')?.textContent === "5"`)
	b.wait("the first message in the browser", `[...document.querySelectorAll("section[aria-labelledby=msgs-title] .kind-json")].some(e => e.textContent.includes('{"order":3}'))`)
	if txt := b.text(`section[aria-labelledby=msgs-title] tbody`); !strings.Contains(txt, "source: test") || !strings.Contains(txt, "k0") {
		t.Errorf("message browser shows %q; want keys and headers", txt)
	}
	b.wait("the group's lag of 5", `document.querySelector('tr[data-group="billing"] [data-col="lag"]')?.textContent === "5"`)

	cons := c.NewConsumer("orders", "billing", client.ConsumerOptions{MaxWait: time.Second})
	got := 0
	for got < 5 {
		ds, err := cons.Pull(ctx, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			d.Ack()
		}
		got += len(ds)
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b.wait("the group's lag falling to 0", `document.querySelector('tr[data-group="billing"] [data-col="lag"]')?.textContent === "0"`)
	b.wait("messages out counted", `document.querySelector('[data-metric="out"]')?.textContent !== "0/s"`)

	b.open("/")
	b.wait("the overview", `document.querySelector('[data-metric="stations"]')?.textContent === "1"`)

	// On a phone the page reflows instead of scrolling sideways (wide
	// tables scroll inside their own box).
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, page := range []string{"/", "/stations", "/stations/orders"} {
		b.open(page)
		b.wait("the page on a phone", `document.querySelector("main h1") !== null && document.querySelector("main .card, main table") !== null`)
		b.wait("no sideways scrolling on "+page, `document.documentElement.scrollWidth <= window.innerWidth`)
	}
	b.do(chromedp.EmulateViewport(1280, 800))
	b.open("/")
	b.wait("the overview", `document.querySelector('[data-metric="stations"]')?.textContent === "1"`)
	// Keyboard: from the top of the page the skip link comes first.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](`document.activeElement?.blur(), window.focus(), 1`)); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.KeyEvent("\t"))
	b.wait("the skip link focused", `document.activeElement?.classList.contains("skip")`)
	b.clean()

	// Closing the page stops the polling: nothing reaches the broker over
	// three poll intervals.
	b.do(chromedp.Navigate("about:blank"))
	quiet := ln.read.Load()
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if n := ln.read.Load(); n != quiet {
			t.Fatalf("%d bytes reached the broker after the page was closed", n-quiet)
		}
	}
	// And once the browser has gone, the broker serves only the client's
	// connection again: the dashboard leaves no goroutine behind.
	if serving() <= connsBefore {
		t.Fatalf("the browser's connections were not seen: %d serving before and now", connsBefore)
	}
	chromedp.Cancel(b.ctx)
	waitFor(t, func() bool { return serving() <= connsBefore })
	if stacks := goroutines(); strings.Contains(stacks, "junction/web.") || strings.Contains(stacks, "broker/api.(*rates)") {
		t.Fatalf("dashboard code still running:\n%s", stacks)
	}
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// serving counts the HTTP connections the server has open.
func serving() int {
	return strings.Count(goroutines(), "net/http.(*conn).serve(")
}

// Connectors: pause and resume a file sink, see a failing one's error,
// and see a bad definition's error at its line.
func TestDashboardConnectors(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s, _, c := startDashboardBroker(t)
	b := newBrowser(t, "http://"+s.Addr())
	ctx := context.Background()
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf("name: files\nconnector: file\nkind: sink\nstation: orders\nconfig:\n  dir: %s\n", t.TempDir())
	if _, _, _, err := c.ApplyConnector(ctx, "files.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	// broken's directory turns into a file once it runs: its next write
	// and every restart fail.
	blocker := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := fmt.Sprintf("name: broken\nconnector: file\nkind: sink\nstation: orders\nconfig:\n  dir: %s\n", blocker)
	if _, _, _, err := c.ApplyConnector(ctx, "broken.yaml", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st, err := c.Connector(ctx, "broken"); return err == nil && st.State == "running" })
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Produce(ctx, "orders", client.Message{Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	b.open("/connectors")
	state := func(name string) string {
		return fmt.Sprintf(`document.querySelector('section[data-connector=%q] [data-field="state"]')?.textContent`, name)
	}
	b.wait("files running", state("files")+` === "running"`)
	b.click(`section[data-connector="files"] .actions button:first-child`)
	b.wait("files paused", state("files")+` === "paused"`)
	if st, err := c.Connector(ctx, "files"); err != nil || st.State != "paused" {
		t.Fatalf("after Pause in the UI: %+v, %v", st, err)
	}
	b.click(`section[data-connector="files"] .actions button:first-child`)
	b.wait("files running again", state("files")+` === "running"`)
	b.wait("broken's error", `document.querySelector('section[data-connector="broken"] [data-field="last-error"]')?.textContent.includes("not a directory")`)
	b.wait("broken failed", state("broken")+` === "failed"`)

	b.click(`section[data-connector="broken"] .actions button.danger`)
	b.click("#confirm-yes")
	b.wait("broken deleted", `document.querySelector('section[data-connector="broken"]') === null`)
	if _, err := c.Connector(ctx, "broken"); err == nil {
		t.Fatal("broken still exists after Delete in the UI")
	}

	b.click("#apply-connector")
	b.do(chromedp.SetValue(chromedp.CSS("#yaml"), "name: x\nconnector: file\nkind: sink\nstation: orders\nconfig:\n  nosuch: 1\n"))
	b.click("#apply-go")
	b.wait("the problem at its line", `document.querySelector('#apply-problems li[data-line="6"]') !== null`)
	b.clean()
}

// Hub: search the catalog, install a plugin and upgrade it from the page.
func TestDashboardHub(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	cat := newHubCatalog(t)
	cat.publish(t, "test-echo", "1.0.0")
	plugins := filepath.Join(t.TempDir(), "plugins")
	s, _, c := startDashboardBroker(t, func(o *Options) { o.PluginDirs, o.Hub = []string{plugins}, cat.loader(t) })
	b := newBrowser(t, "http://"+s.Addr())

	b.open("/hub")
	b.wait("the catalog's connector", `document.querySelector('tr[data-plugin="test-echo"]') !== null`)
	b.click(`tr[data-plugin="test-echo"] .actions button`)
	b.wait("the install's verification", `[...document.querySelectorAll("#status .toast")].some(e => e.textContent.includes("Installed test-echo@1.0.0") && e.textContent.includes("sha256"))`)
	b.wait("the installed plugin", `document.querySelector("main").textContent.includes("test-echo@1.0.0 (sink)")`)
	ps, err := c.Plugins(context.Background())
	if err != nil || len(ps) != 1 || ps[0].Version != "1.0.0" {
		t.Fatalf("broker's plugins after installing in the UI: %+v, %v", ps, err)
	}

	cat.publish(t, "test-echo", "1.1.0")
	b.open("/")
	b.open("/hub")
	b.wait("the upgrade offer", `document.querySelector('tr[data-plugin="test-echo"] .actions button')?.textContent === "Upgrade to 1.1.0"`)
	b.click(`tr[data-plugin="test-echo"] .actions button`)
	b.wait("the upgraded plugin", `document.querySelector("main").textContent.includes("test-echo@1.1.0 (sink)")`)
	b.click(`tr[data-plugin="test-echo"] th button`)
	b.wait("the versions table", `document.querySelector('table[aria-label="Versions of test-echo"] tbody')?.children.length === 2`)
	b.click(`table[aria-label="Versions of test-echo"] tbody tr:last-child button.danger`)
	b.click("#confirm-yes")
	b.wait("1.0.0 removed", `[...document.querySelectorAll("#status .toast")].some(e => e.textContent.includes("Removed test-echo@1.0.0"))`)
	if vs, err := catalog.InstalledVersions(plugins, "test-echo"); err != nil || len(vs) != 1 || vs[0] != "1.1.0" {
		t.Fatalf("installed after removing 1.0.0 in the UI: %v, %v", vs, err)
	}
	b.clean()
}

// Dead letters: a message that exhausted its deliveries shows with its
// reason and origin, and Replay in the page produces it again; the
// station page shows its attached schema.
func TestDashboardDeadLettersAndSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s, _, c := startDashboardBroker(t)
	b := newBrowser(t, "http://"+s.Addr())
	ctx := context.Background()
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "orders", DeadLetterStation: "orders-dlq", MaxDeliveries: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateSchema(ctx, "order", client.SchemaDefinition{Type: client.SchemaJSON,
		Files: []client.SchemaFile{{Name: "order.json", Content: []byte(`{"type":"object","required":["order"]}`)}}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachSchema(ctx, "orders", client.StationSchema{Name: "order"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Produce(ctx, "orders", client.Message{Value: []byte(`{"order":42}`)}); err != nil {
		t.Fatal(err)
	}
	cons := c.NewConsumer("orders", "billing", client.ConsumerOptions{MaxWait: time.Second})
	for {
		ds, err := cons.Pull(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 {
			ds[0].Nack(0)
			break
		}
	}
	// The next pull finds the message out of deliveries and moves it.
	waitFor(t, func() bool {
		if _, err := cons.PullWait(ctx, 1, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		st, err := c.Station(ctx, "orders-dlq")
		return err == nil && st.Stats.Messages == 1
	})

	b.open("/stations/orders")
	b.wait("the attached schema", `document.querySelector("main").textContent.includes("order version 1")`)
	b.open("/deadletters")
	b.wait("the dead letter", `document.querySelector('tr[data-dead-letter="0/0"][data-replayed="false"]')?.textContent.includes("max_deliveries")`)
	if txt := b.text(`tr[data-dead-letter="0/0"]`); !strings.Contains(txt, "orders 0/0") || !strings.Contains(txt, "billing") {
		t.Errorf("dead letter row %q; want its origin and group", txt)
	}
	b.click(`tr[data-dead-letter="0/0"] button`)
	b.wait("the dead letter replayed", `document.querySelector('tr[data-dead-letter="0/0"]')?.dataset.replayed === "true"`)
	st, err := c.Station(ctx, "orders")
	if err != nil || st.Stats.Messages != 2 {
		t.Fatalf("orders after the replay: %+v, %v; want the message produced again", st, err)
	}
	b.click("#purge")
	b.click("#confirm-yes")
	b.wait("the dead-letter station purged", `document.querySelector("main").textContent.includes("No dead letters here.")`)
	b.clean()
}

// The station form parses sizes and durations exactly as the CLI does.
func TestDashboardParsersMatchCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s, _, _ := startDashboardBroker(t)
	b := newBrowser(t, "http://"+s.Addr())
	b.open("/stations")
	b.wait("the page", `document.querySelector("main h1") !== null`)
	sizes := []string{"0", "512", "64KiB", "8MiB", "1GB", "1.5KiB", "1.5", "10 GiB", "1kb", "2TiB", "", "x", "-1", "1XB", "0.1B"}
	durations := []string{"0", "500ms", "30s", "5m", "24h", "7d", "1d12h", "1h30m", "1.5h", "", "7", "d", "-1s", "1w", "1d-1h",
		"2w", "1w3d", "1w3d4h", "30d", "1.s", ".5s", "+5s", " 5s", "5s ", "1d0", "w", "3d2w"}
	type result struct {
		Ok bool
		V  float64
	}
	js, err := chromedp.Run(b.ctx, chromedp.Evaluate[map[string][]result](fmt.Sprintf(`(async () => {
		const f = await import("/ui/js/fmt.js");
		const run = (fn, xs) => xs.map((x) => { try { return { Ok: true, V: fn(x) }; } catch { return { Ok: false, V: 0 }; } });
		return { sizes: run(f.parseSize, %s), durations: run(f.parseDuration, %s) };
	})()`, jsonList(sizes), jsonList(durations)), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range sizes {
		v, err := units.ParseSize(in)
		if got := js["sizes"][i]; got.Ok != (err == nil) || (err == nil && got.V != float64(v)) {
			t.Errorf("size %q: dashboard %+v, CLI %d, %v", in, got, v, err)
		}
	}
	for i, in := range durations {
		v, err := units.ParseDuration(in)
		if got := js["durations"][i]; got.Ok != (err == nil) || (err == nil && got.V != v.Seconds()) {
			t.Errorf("duration %q: dashboard %+v, CLI %v, %v", in, got, v, err)
		}
	}
	b.clean()
}

func jsonList(xs []string) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

// With authentication on, the dashboard asks for a login, keeps the
// session in an HttpOnly cookie, and every call must carry the CSRF token.
func TestDashboardLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	s, _, _ := securedServer(t)
	b := newBrowser(t, "http://"+s.Addr())
	b.open("/stations")
	b.wait("the login form", `document.querySelector("dialog[open] input[name=username]") !== null`)
	b.do(chromedp.SetValue(chromedp.CSS("dialog[open] input[name=username]"), "admin"),
		chromedp.SetValue(chromedp.CSS("dialog[open] input[name=password]"), "wrong"))
	b.click(`dialog[open] button[type="submit"]`)
	b.wait("the login error", `document.querySelector("dialog[open] .field-error")?.textContent.includes("wrong user name or password")`)
	b.do(chromedp.SetValue(chromedp.CSS("dialog[open] input[name=password]"), adminPassword))
	b.click(`dialog[open] button[type="submit"]`)
	b.wait("the stations page after login", `document.querySelector("dialog[open]") === null && document.querySelector("td.empty") !== null`)
	b.forget() // the calls refused before the login

	cookies, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cookies, "junction-session") || !strings.Contains(cookies, "junction-csrf=") {
		t.Fatalf("document.cookie = %q; want the CSRF cookie only (the session is HttpOnly)", cookies)
	}
	b.click("#create-station")
	b.do(chromedp.SetValue(chromedp.CSS("#f-name"), "orders"))
	b.click(`dialog button[type="submit"]`)
	b.wait("the new station", `document.querySelector('tr[data-station="orders"]') !== null`)

	// A call with the session cookie but without the CSRF header is refused.
	status, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`fetch("/junction.v1.StationService/DeleteStation", {method: "POST",
		headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: "orders"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Fatalf("delete without the CSRF header: status %v, %v; want 403", status, err)
	}
	b.wait("the station still listed", `document.querySelector('tr[data-station="orders"]') !== null`)
	b.forget() // the refused call above

	// Signing out revokes the session's token: the login form is back.
	sessions := func() int {
		ts, err := s.auth.Tokens(&auth.Identity{User: "admin", Open: true}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tok := range ts {
			if tok.Description == "dashboard" {
				n++
			}
		}
		return n
	}
	if n := sessions(); n != 1 {
		t.Fatalf("%d dashboard sessions before signing out; want 1", n)
	}
	b.click("#logout")
	b.wait("the login form again", `document.querySelector("dialog[open] input[name=username]") !== null`)
	if n := sessions(); n != 0 {
		t.Fatalf("%d dashboard sessions after signing out; want the token revoked", n)
	}
	b.forget() // the calls refused after signing out
	b.clean()
}
