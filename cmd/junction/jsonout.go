package main

import (
	"math"
	"time"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/sdk/client"
)

// Every -o json output uses one style: the API's proto field names
// (snake_case), the same style for what only the CLI prints, zero times
// left out, zero counts and offsets kept.

// unlimitedDeliveries is the max_deliveries of a group that never
// dead-letters (a connector's sink group).
const unlimitedDeliveries = math.MaxUint32

// maxDeliveriesJSON is max_deliveries as -o json shows it: the number, or
// "unlimited"; nil (left out) for the broker's default.
func maxDeliveriesJSON(n int) any {
	switch {
	case n == 0:
		return nil
	case n >= unlimitedDeliveries:
		return "unlimited"
	}
	return n
}

// maxDeliveriesText is max deliveries as describe prints it.
func maxDeliveriesText(n int) string {
	if n >= unlimitedDeliveries {
		return "unlimited"
	}
	return intOrDefault(n)
}

// timeJSON is t for a field tagged omitempty: nil when t is zero.
func timeJSON(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// connectorJSON is the -o json form of a connector's status.
type connectorJSON struct {
	Name            string         `json:"name"`
	Connector       string         `json:"connector"`
	PluginVersion   string         `json:"plugin_version"`
	Kind            string         `json:"kind"`
	Station         string         `json:"station"`
	DLQ             string         `json:"dlq,omitempty"`
	State           string         `json:"state"`
	Restarts        int            `json:"restarts"`
	LastError       string         `json:"last_error,omitempty"`
	LastErrorAt     *time.Time     `json:"last_error_at,omitempty"`
	RecordsIn       uint64         `json:"records_in"`
	RecordsOut      uint64         `json:"records_out"`
	RecordsRejected uint64         `json:"records_rejected"`
	Lag             uint64         `json:"lag"`
	Checkpoint      string         `json:"checkpoint,omitempty"`
	Config          map[string]any `json:"config,omitempty"`
	StartedAt       *time.Time     `json:"started_at,omitempty"`
	Run             countersJSON   `json:"run"`
	Total           countersJSON   `json:"total"`
}

// countersJSON is a connector's counters in -o json.
type countersJSON struct {
	RecordsIn       uint64 `json:"records_in"`
	RecordsOut      uint64 `json:"records_out"`
	RecordsRejected uint64 `json:"records_rejected"`
	BytesIn         uint64 `json:"bytes_in"`
	BytesOut        uint64 `json:"bytes_out"`
	Errors          uint64 `json:"errors"`
}

func toConnectorJSON(s *client.ConnectorStatus) connectorJSON {
	return connectorJSON{
		Name: s.Name, Connector: s.Connector, PluginVersion: s.PluginVersion, Kind: s.Kind, Station: s.Station, DLQ: s.DLQ,
		State: string(s.State), Restarts: s.Restarts, LastError: s.LastError, LastErrorAt: timeJSON(s.LastErrorAt),
		RecordsIn: s.RecordsIn, RecordsOut: s.RecordsOut, RecordsRejected: s.RecordsRejected, Lag: s.Lag,
		Checkpoint: s.Checkpoint, Config: s.Config, StartedAt: timeJSON(s.StartedAt),
		Run: countersJSON(s.Run), Total: countersJSON(s.Total),
	}
}

func toConnectorsJSON(cs []*client.ConnectorStatus) any {
	out := make([]connectorJSON, 0, len(cs))
	for _, s := range cs {
		out = append(out, toConnectorJSON(s))
	}
	return out
}

// pluginJSON is the -o json form of a plugin the broker has.
type pluginJSON struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Kinds       []string `json:"kinds"`
	Description string   `json:"description,omitempty"`
	Path        string   `json:"path"`
}

func toPluginsJSON(ps []client.Plugin) any {
	out := make([]pluginJSON, 0, len(ps))
	for _, p := range ps {
		kinds := p.Kinds
		if kinds == nil {
			kinds = []string{}
		}
		out = append(out, pluginJSON{Name: p.Name, Version: p.Version, Kinds: kinds, Description: p.Description, Path: p.Path})
	}
	return out
}

// hubSearchRow is a row of hub search.
type hubSearchRow struct {
	Name        string   `json:"name"`
	Latest      string   `json:"latest,omitempty"`
	Description string   `json:"description,omitempty"`
	Catalog     string   `json:"catalog"`
	Publisher   string   `json:"publisher"`
	Kinds       []string `json:"kinds"`
}

// hubListRow is a row of hub list.
type hubListRow struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Path    string   `json:"path"`
	Update  string   `json:"update,omitempty"`
	Catalog string   `json:"catalog,omitempty"`
	Kinds   []string `json:"kinds"`
}

// hubInfoJSON is hub info's -o json form.
type hubInfoJSON struct {
	Catalog   string             `json:"catalog"`
	Connector *catalog.Connector `json:"connector"`
}

// trustedKeyJSON is a row of hub trust list.
type trustedKeyJSON struct {
	Publisher  string   `json:"publisher"`
	KeyID      string   `json:"key_id,omitempty"`
	Key        string   `json:"key"`
	Connectors []string `json:"connectors"`
}

func toTrustedKeysJSON(keys []catalog.TrustedKey) any {
	out := make([]trustedKeyJSON, 0, len(keys))
	for _, k := range keys {
		j := trustedKeyJSON{Publisher: k.Publisher, Key: k.Key, Connectors: k.Connectors}
		if pk, err := catalog.ParsePublicKey(k.Key); err == nil {
			j.KeyID = pk.KeyID()
		}
		if j.Connectors == nil {
			j.Connectors = []string{}
		}
		out = append(out, j)
	}
	return out
}
