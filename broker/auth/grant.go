package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Action is what a grant allows.
type Action string

// Actions on stations (scoped by a station name pattern) and cluster-wide.
const (
	// Produce appends messages to matching stations.
	Produce Action = "produce"
	// Consume reads matching stations in groups matching the grant's
	// group pattern: pull, consume, ack, nack, create a group.
	Consume Action = "consume"
	// Manage changes and deletes matching stations and their groups.
	Manage Action = "manage"
	// ManageStations creates, changes and deletes any station and group.
	ManageStations Action = "manage-stations"
	// ManageConnectors applies, pauses, resumes and deletes connectors.
	// Applying one also needs the station permissions its data flow uses.
	ManageConnectors Action = "manage-connectors"
	// ManageUsers creates and deletes users, sets grants, and manages
	// every user's tokens.
	ManageUsers Action = "manage-users"
)

// ErrBadGrant is matched by every grant parse error.
var ErrBadGrant = errors.New("bad grant")

// Grant is one permission: an action, and for station actions the station
// pattern and (for consume) the group pattern.
type Grant struct {
	Action  Action
	Station Pattern
	Group   Pattern
}

var anyName = Pattern{s: "*"}

// ParseGrant parses a grant's text form: "produce:STATIONS",
// "consume:STATIONS[:GROUPS]", "manage:STATIONS", "manage-stations",
// "manage-connectors" or "manage-users", where STATIONS and GROUPS are
// name patterns.
func ParseGrant(s string) (Grant, error) {
	parts := strings.Split(s, ":")
	bad := func(format string, args ...any) (Grant, error) {
		return Grant{}, fmt.Errorf("%w %q: %s", ErrBadGrant, s, fmt.Sprintf(format, args...))
	}
	g := Grant{Action: Action(parts[0])}
	switch g.Action {
	case ManageStations, ManageConnectors, ManageUsers:
		if len(parts) != 1 {
			return bad("%s is cluster-wide and takes no station pattern", g.Action)
		}
		return g, nil
	case Produce, Manage, Consume:
		max := 2
		if g.Action == Consume {
			max = 3
		}
		if len(parts) < 2 || len(parts) > max {
			if g.Action == Consume {
				return bad("want consume:STATIONS or consume:STATIONS:GROUPS")
			}
			return bad("want %s:STATIONS", g.Action)
		}
		p, err := ParsePattern(parts[1])
		if err != nil {
			return bad("stations: %v", err)
		}
		g.Station = p
		if g.Action == Consume {
			g.Group = anyName
			if len(parts) == 3 {
				if g.Group, err = ParsePattern(parts[2]); err != nil {
					return bad("groups: %v", err)
				}
			}
		}
		return g, nil
	}
	return bad("unknown action %q; want produce, consume, manage, manage-stations, manage-connectors or manage-users", parts[0])
}

// String returns the grant's text form.
func (g Grant) String() string {
	switch g.Action {
	case Produce, Manage:
		return string(g.Action) + ":" + g.Station.s
	case Consume:
		return "consume:" + g.Station.s + ":" + g.Group.s
	}
	return string(g.Action)
}

// Roles bundle grants under a name.
var roles = map[string][]string{
	"admin":    {"produce:*", "consume:*:*", "manage-stations", "manage-connectors", "manage-users"},
	"operator": {"produce:*", "consume:*:*", "manage-stations", "manage-connectors"},
	"producer": {"produce:*"},
	"consumer": {"consume:*:*"},
}

// RoleNames lists the built-in roles.
func RoleNames() []string {
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// roleGrants returns a role's grants; "" is the empty role.
func roleGrants(role string) ([]Grant, error) {
	if role == "" {
		return nil, nil
	}
	texts, ok := roles[role]
	if !ok {
		return nil, fmt.Errorf("%w: unknown role %q; want one of %s", ErrBadGrant, role, strings.Join(RoleNames(), ", "))
	}
	return parseGrants(texts)
}

func parseGrants(texts []string) ([]Grant, error) {
	out := make([]Grant, 0, len(texts))
	for _, t := range texts {
		g, err := ParseGrant(t)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func grantStrings(gs []Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

// allows reports whether gs allow action on station (and group).
func allows(gs []Grant, action Action, station, group string) bool {
	for _, g := range gs {
		switch {
		case g.Action == action && (action == ManageStations || action == ManageConnectors || action == ManageUsers):
			return true
		case g.Action == ManageStations && action == Manage:
			return true
		case g.Action == action && g.Station.Match(station) && (action != Consume || g.Group.Match(group)):
			return true
		}
	}
	return false
}

// touches reports whether gs allow anything on station.
func touches(gs []Grant, station string) bool {
	for _, g := range gs {
		if g.Action == ManageStations || (g.Station.s != "" && g.Station.Match(station)) {
			return true
		}
	}
	return false
}
