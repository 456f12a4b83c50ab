package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/junctionhq/junction/sdk/client"
	"github.com/junctionhq/junction/sdk/units"
)

// defaultLineLimit bounds a line when the station does not say its max
// message size; the broker still rejects what is too large for it.
const defaultLineLimit = 64 << 20

func newProduceCmd(a *app) *cobra.Command {
	var (
		file, key, id string
		headers       []string
	)
	cmd := &cobra.Command{
		Use:   "produce STATION [MESSAGE...]",
		Short: "Produce messages to a station",
		Long: `Produce messages to a station. Each MESSAGE argument is one message; without
arguments, each line of --file, or of standard input, is one message (the
newline is not part of it). Messages are sent pipelined and in order; the
command returns once all are acknowledged, printing the count to stderr.

With --id, a single MESSAGE argument gets the id ID; otherwise message n
(from 1) gets ID-n, so a retried command is deduplicated within the
station's dedup window.`,
		Example: `  junction produce orders '{"id":1}' '{"id":2}'
  seq 1 100000 | junction produce orders
  junction produce orders --file events.jsonl --key customer-42 --header source=import`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usagef("produce needs a STATION argument")
			}
			if file != "" && len(args) > 1 {
				return usagef("give messages as arguments or with --file, not both")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			hs, err := parseHeaders(headers)
			if err != nil {
				return err
			}
			station := args[0]
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Station(ctx, station)
			if err != nil {
				return err
			}
			limit := defaultLineLimit
			if st.MaxMessageBytes > 0 {
				limit = st.MaxMessageBytes
			}

			var next func() ([]byte, error)
			var total int64 = -1
			switch {
			case len(args) > 1:
				msgs := args[1:]
				total = int64(len(msgs))
				next = func() ([]byte, error) {
					if len(msgs) == 0 {
						return nil, io.EOF
					}
					m := []byte(msgs[0])
					msgs = msgs[1:]
					return m, nil
				}
			case file != "" && file != "-":
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				next = newLineReader(f, limit).next
			default:
				if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					fmt.Fprintln(a.stderr, "reading messages from the terminal, one per line; end with Ctrl-D")
				}
				next = newLineReader(a.stdin, limit).next
			}
			return a.produce(ctx, c, station, next, total, key, id, hs)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "read messages from `FILE`, one per line (- for stdin)")
	f.StringVarP(&key, "key", "k", "", "message key (selects the partition)")
	f.StringArrayVarP(&headers, "header", "H", nil, "message header `k=v` (repeatable)")
	f.StringVar(&id, "id", "", "producer message id for deduplication")
	return cmd
}

func parseHeaders(hs []string) ([]client.Header, error) {
	var out []client.Header
	for _, h := range hs {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return nil, usagef("--header: want key=value, got %q", h)
		}
		out = append(out, client.Header{Key: k, Value: []byte(v)})
	}
	return out, nil
}

// produceStats collects message outcomes from producer callbacks.
type produceStats struct {
	mu       sync.Mutex
	acked    int64
	dead     int64 // acked, but moved to the dead-letter station by the station's schema
	dups     int64 // dropped as duplicates of an ID in the dedup window
	failed   int64
	firstErr error
	reasons  map[string]int64
}

func (s *produceStats) record(r client.Result, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && r.Duplicate {
		s.dups++
		return
	}
	if err == nil {
		s.acked++
		if r.DeadLettered {
			s.dead++
		}
		return
	}
	s.failed++
	if s.firstErr == nil {
		s.firstErr = err
	}
	if s.reasons == nil {
		s.reasons = make(map[string]int64)
	}
	s.reasons[err.Error()]++
}

func (a *app) produce(ctx context.Context, c *client.Client, station string, next func() ([]byte, error), total int64, key, id string, hs []client.Header) error {
	p := c.NewProducer(station, client.ProducerOptions{})
	var stats produceStats
	var keyb []byte
	if key != "" {
		keyb = []byte(key)
	}
	bar := a.newProgress(total)
	var n int64
	var readErr error
	for {
		if ctx.Err() != nil {
			break
		}
		v, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		n++
		m := client.Message{Key: keyb, Value: v, Headers: hs, ID: id}
		if id != "" && total != 1 {
			m.ID = id + "-" + strconv.FormatInt(n, 10)
		}
		p.SendFunc(ctx, m, stats.record)
		if n%1024 == 0 {
			bar.add(n)
		}
	}
	// Wait for what was sent even when interrupted, but not forever.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	closeErr := p.Close(cctx)
	bar.finish(n)

	stats.mu.Lock()
	defer stats.mu.Unlock()
	fmt.Fprintln(a.stderr, stats.summary())
	if stats.dead > 0 {
		fmt.Fprintf(a.stderr, "  %d of them failed the station's schema and went to its dead-letter station\n", stats.dead)
	}
	switch {
	case stats.failed > 0:
		if len(stats.reasons) > 1 {
			for r, k := range stats.reasons {
				fmt.Fprintf(a.stderr, "  %d failed: %s\n", k, r)
			}
		}
		return fmt.Errorf("%d of %d messages failed: %w", stats.failed, n, stats.firstErr)
	case readErr != nil:
		return fmt.Errorf("reading input after %d messages: %w", n, readErr)
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted after %d messages", n)
	case closeErr != nil:
		return closeErr
	}
	return nil
}

// lineReader splits input into lines without a length limit other than
// max, copying them into large shared chunks instead of one allocation
// per line.
type lineReader struct {
	br    *bufio.Reader
	max   int
	arena []byte
	line  int
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 256<<10), max: max}
}

func (r *lineReader) next() ([]byte, error) {
	r.line++
	line, err := r.br.ReadSlice('\n')
	var own []byte
	if errors.Is(err, bufio.ErrBufferFull) {
		own = append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(own) > r.max+2 {
				return nil, fmt.Errorf("line %d is longer than the station's max message size (%s)", r.line, units.FormatSize(int64(r.max)))
			}
			line, err = r.br.ReadSlice('\n')
			own = append(own, line...)
		}
		line = own
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	if len(line) > r.max {
		return nil, fmt.Errorf("line %d is longer than the station's max message size (%s)", r.line, units.FormatSize(int64(r.max)))
	}
	if own != nil {
		return line, nil
	}
	// Copy into the arena; the producer keeps the bytes until acked.
	if cap(r.arena)-len(r.arena) < len(line) {
		r.arena = make([]byte, 0, max(64<<10, len(line)))
	}
	start := len(r.arena)
	r.arena = append(r.arena, line...)
	return r.arena[start:len(r.arena):len(r.arena)], nil
}

// progress is a progress bar on a terminal stderr, shown once the input
// turns out to be large; a no-op otherwise.
type progress struct {
	enabled bool
	w       io.Writer
	total   int64
	bar     *progressbar.ProgressBar
}

const progressAfter = 20000

func (a *app) newProgress(total int64) *progress {
	f, ok := a.stderr.(*os.File)
	return &progress{enabled: ok && term.IsTerminal(int(f.Fd())), w: a.stderr, total: total}
}

func (p *progress) add(n int64) {
	if !p.enabled || n < progressAfter {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(p.total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("producing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	_ = p.bar.Set64(n)
}

func (p *progress) finish(n int64) {
	if p.bar != nil {
		_ = p.bar.Set64(n)
		_ = p.bar.Finish()
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
