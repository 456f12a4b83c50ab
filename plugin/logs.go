package plugin

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// hclogToSlog returns an hclog.Logger for go-plugin whose lines, including
// those go-plugin relays from the plugin's stderr, end up in log with
// their level and attributes.
func hclogToSlog(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Output:     &slogWriter{log: log},
		JSONFormat: true,
		Level:      hclog.Debug,
	})
}

// slogWriter parses hclog's JSON lines and logs them with slog.
type slogWriter struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (w *slogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *slogWriter) line(b []byte) {
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		w.log.Info(strings.TrimSpace(string(b)))
		return
	}
	level := slog.LevelInfo
	switch fields["@level"] {
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	msg, _ := fields["@message"].(string)
	attrs := make([]any, 0, len(fields))
	for k, v := range fields {
		if strings.HasPrefix(k, "@") || k == "timestamp" || k == "plugin" {
			continue
		}
		attrs = append(attrs, slog.Any(k, v))
	}
	w.log.Log(nil, level, msg, attrs...)
}
