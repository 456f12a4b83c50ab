package auth

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// seeStation is the pseudo-action of describing a station: any grant on
// it will do.
const seeStation Action = "see"

// rule says what a method needs. Request fields are named by their proto
// path ("station.name"); a streaming method's rule is checked against
// every message the client sends.
type rule struct {
	// public methods need no credentials (Login only).
	public bool
	// action is what the caller must be allowed; "" is any authenticated
	// caller (the method itself may check more).
	action  Action
	station string
	group   string
	// filter, when set, removes from a response what the caller may not
	// see.
	filter func(id *Identity, resp any)
	// audit logs each successful call as an audit line.
	audit bool
}

// rules maps every procedure of every service the server mounts to what
// it needs. A procedure missing here is refused to everyone, and a test
// fails for every method of a registered service that has no rule.
var rules = map[string]rule{
	"/junction.v1.StationService/CreateStation":   {action: Manage, station: "station.name", audit: true},
	"/junction.v1.StationService/GetStation":      {action: seeStation, station: "name"},
	"/junction.v1.StationService/ListStations":    {filter: filterStations},
	"/junction.v1.StationService/UpdateStation":   {action: Manage, station: "station.name", audit: true},
	"/junction.v1.StationService/DeleteStation":   {action: Manage, station: "name", audit: true},
	"/junction.v1.StationService/RepairPartition": {action: Manage, station: "station", audit: true},
	"/junction.v1.StationService/GetStationRates": {filter: filterRates},

	// Schemas are shared by stations: changing one is cluster-wide;
	// attaching one changes the station.
	"/junction.v1.SchemaService/CreateSchema": {action: ManageStations, audit: true},
	"/junction.v1.SchemaService/UpdateSchema": {action: ManageStations, audit: true},
	"/junction.v1.SchemaService/DeleteSchema": {action: ManageStations, audit: true},
	"/junction.v1.SchemaService/GetSchema":    {},
	"/junction.v1.SchemaService/ListSchemas":  {},
	"/junction.v1.SchemaService/AttachSchema": {action: Manage, station: "station", audit: true},
	"/junction.v1.SchemaService/DetachSchema": {action: Manage, station: "station", audit: true},

	// Dead letters are an operator's to read, replay and drop.
	"/junction.v1.DeadLetterService/ListDeadLetters":   {action: Manage, station: "station"},
	"/junction.v1.DeadLetterService/ReplayDeadLetters": {action: Manage, station: "station", audit: true},
	"/junction.v1.DeadLetterService/PurgeDeadLetters":  {action: Manage, station: "station", audit: true},

	"/junction.v1.MessageService/Produce":       {action: Produce, station: "station"},
	"/junction.v1.MessageService/ProduceStream": {action: Produce, station: "station"},
	"/junction.v1.MessageService/Pull":          {action: Consume, station: "station", group: "group"},
	"/junction.v1.MessageService/Consume":       {action: Consume, station: "station", group: "group"},
	"/junction.v1.MessageService/Ack":           {action: Consume, station: "station", group: "group"},
	"/junction.v1.MessageService/Nack":          {action: Consume, station: "station", group: "group"},
	// Peeking reads any message without a group: an operator's view, as
	// reading dead letters is.
	"/junction.v1.MessageService/PeekMessages": {action: Manage, station: "station"},

	"/junction.v1.GroupService/CreateGroup":      {action: Consume, station: "station", group: "group", audit: true},
	"/junction.v1.GroupService/ListGroups":       {action: seeStation, station: "station"},
	"/junction.v1.GroupService/DescribeGroup":    {action: seeStation, station: "station"},
	"/junction.v1.GroupService/DeleteGroup":      {action: Manage, station: "station", audit: true},
	"/junction.v1.GroupService/ResetGroupOffset": {action: Manage, station: "station", audit: true},

	// Applying also needs the station permissions of the connector's data
	// flow, which the connector host checks once the definition is parsed.
	"/junction.v1.ConnectorService/ApplyConnector":    {action: ManageConnectors, audit: true},
	"/junction.v1.ConnectorService/ValidateConnector": {action: ManageConnectors},
	"/junction.v1.ConnectorService/ListConnectors":    {},
	"/junction.v1.ConnectorService/GetConnector":      {},
	"/junction.v1.ConnectorService/PauseConnector":    {action: ManageConnectors, audit: true},
	"/junction.v1.ConnectorService/ResumeConnector":   {action: ManageConnectors, audit: true},
	"/junction.v1.ConnectorService/DeleteConnector":   {action: ManageConnectors, audit: true},
	"/junction.v1.ConnectorService/RestartConnector":  {action: ManageConnectors, audit: true},
	"/junction.v1.ConnectorService/ListPlugins":       {},

	// Cluster membership changes who holds every station's data: only an
	// administrator (manage-users implies the whole cluster) may change it.
	"/junction.v1.ClusterService/Status":         {},
	"/junction.v1.ClusterService/AddNode":        {action: ManageUsers, audit: true},
	"/junction.v1.ClusterService/RemoveNode":     {action: ManageUsers, audit: true},
	"/junction.v1.ClusterService/TransferLeader": {action: ManageStations, audit: true},
	"/junction.v1.ClusterService/ReadPartition":  {action: Manage, station: "station"},
	// Installing puts code on the broker that it then runs: an
	// administrator's (the admin role is the one with manage-users).
	"/junction.v1.HubService/SearchHub":       {},
	"/junction.v1.HubService/GetHubConnector": {},
	"/junction.v1.HubService/InstallPlugin":   {action: ManageUsers, audit: true},
	"/junction.v1.HubService/UpgradePlugin":   {action: ManageUsers, audit: true},
	"/junction.v1.HubService/RemovePlugin":    {action: ManageUsers, audit: true},

	"/junction.v1.AuthService/Login":  {public: true},
	"/junction.v1.AuthService/WhoAmI": {},

	// CreateUser checks manage-users itself: the first user needs none.
	"/junction.v1.UserService/CreateUser":  {},
	"/junction.v1.UserService/ListUsers":   {action: ManageUsers},
	"/junction.v1.UserService/DeleteUser":  {action: ManageUsers},
	"/junction.v1.UserService/SetGrants":   {action: ManageUsers},
	"/junction.v1.UserService/SetPassword": {},

	// A caller manages its own tokens; the methods check others'.
	"/junction.v1.TokenService/CreateToken": {},
	"/junction.v1.TokenService/ListTokens":  {},
	"/junction.v1.TokenService/RevokeToken": {},

	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {},
}

// HasRule reports whether procedure has a permission rule.
func HasRule(procedure string) bool {
	_, ok := rules[procedure]
	return ok
}

const createUser = "/junction.v1.UserService/CreateUser"

// auditFields are the request fields an audit line names, when present.
var auditFields = []string{"name", "station", "station.name", "group", "file_name"}

// field returns the string at a dotted path of msg, "" when absent.
func field(msg proto.Message, path string) string {
	m := msg.ProtoReflect()
	for {
		name, rest, more := strings.Cut(path, ".")
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return ""
		}
		if !more {
			if fd.Kind() != protoreflect.StringKind || fd.IsList() {
				return ""
			}
			return m.Get(fd).String()
		}
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || !m.Has(fd) {
			return ""
		}
		m, path = m.Get(fd).Message(), rest
	}
}

func filterStations(id *Identity, resp any) {
	r, ok := resp.(*v1.ListStationsResponse)
	if !ok || id.Open {
		return
	}
	var stations []*v1.Station
	var stats []*v1.StationStats
	for i, s := range r.Stations {
		if id.Sees(s.GetName()) {
			stations = append(stations, s)
			if i < len(r.Stats) {
				stats = append(stats, r.Stats[i])
			}
		}
	}
	r.Stations, r.Stats = stations, stats
}

func filterRates(id *Identity, resp any) {
	r, ok := resp.(*v1.GetStationRatesResponse)
	if !ok || id.Open {
		return
	}
	var out []*v1.StationRates
	for _, s := range r.Stations {
		if id.Sees(s.GetStation()) {
			out = append(out, s)
		}
	}
	r.Stations = out
}
