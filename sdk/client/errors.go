package client

import (
	"errors"
	"strings"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// Sentinel errors. Errors returned by the broker are [*Error] values that
// match these with [errors.Is]; the sentinels themselves are never returned
// bare except where a doc comment says so.
var (
	// ErrStationNotFound: the named station does not exist.
	ErrStationNotFound = errors.New("station not found")
	// ErrStationExists: a station of that name already exists.
	ErrStationExists = errors.New("station already exists")
	// ErrStationInUse: the station is another station's dead-letter
	// station; the message names them.
	ErrStationInUse = errors.New("station is in use")
	// ErrGroupNotFound: the named consumer group does not exist.
	ErrGroupNotFound = errors.New("consumer group not found")
	// ErrGroupExists: a consumer group of that name already exists.
	ErrGroupExists = errors.New("consumer group already exists")
	// ErrMessageTooLarge: a message exceeds the station's max message size.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrNotPending: an ack or nack named a message that is not awaiting
	// acknowledgement by the group (already acked, or redelivered after its
	// ack deadline).
	ErrNotPending = errors.New("message not pending")
	// ErrInvalidArgument: a request field is invalid; [Error.Field] names it.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnavailable: the broker cannot be reached or is shutting down. The
	// call may succeed if retried later.
	ErrUnavailable = errors.New("broker unavailable")
	// ErrClosed is returned bare by a [Producer] or [Consumer] used after
	// Close.
	ErrClosed = errors.New("producer or consumer closed")
	// ErrConnectorNotFound means no connector has the name.
	ErrConnectorNotFound = errors.New("connector not found")
	// ErrInvalidDefinition means a connector definition or its config is
	// invalid; the *Error's Problems list every problem.
	ErrInvalidDefinition = errors.New("invalid connector definition")
	// ErrPluginNotFound means no installed plugin matches a connector.
	ErrPluginNotFound = errors.New("connector plugin not found")
	// ErrNotLeader: the broker is a cluster follower and the call changes
	// the cluster; [Error.Leader] is the leader's address when known. It
	// also matches ErrUnavailable.
	ErrNotLeader = errors.New("not the cluster leader")
	// ErrOutcomeUnknown: a cluster node lost the leadership while
	// replicating the call's change, which may or may not have been
	// applied; [Error.Leader] names the leader when known. It also matches
	// ErrUnavailable.
	ErrOutcomeUnknown = errors.New("outcome unknown")
)

// Error is a failed broker call. It matches the sentinel errors of this
// package with [errors.Is] (by Reason, or by Code when the broker gave no
// reason) and unwraps to the underlying transport error, so
// errors.Is(err, context.DeadlineExceeded) works too.
type Error struct {
	// Code is the Connect/gRPC status code.
	Code connect.Code
	// Reason is the broker's stable cause, such as "STATION_NOT_FOUND";
	// empty when the broker did not give one (e.g. a transport failure).
	Reason string
	// Station, Group and Field name what the error is about, when known.
	// Field is a request field path such as "station.partitions".
	Station, Group, Field string
	// Message is the human-readable description.
	Message string
	// Problems lists, for ErrInvalidDefinition, every problem found.
	Problems []DefinitionError
	// Schema names the schema (NAME or NAME@VERSION) of a schema error.
	Schema string
	// Invalid lists, for ErrSchemaViolation, each message that failed.
	Invalid []InvalidMessage
	// Incompatibilities lists, for ErrSchemaIncompatible, every breaking
	// change.
	Incompatibilities []CompatibilityChange
	// Stations lists, for ErrSchemaInUse, the stations using the schema.
	Stations []string

	results []Result // of a schema violation, one per message
	// Leader is, for ErrNotLeader, the API address of the cluster's
	// leader; empty during an election.
	Leader string

	cause error
}

// Error returns the message, or the code when there is none.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	if e.Reason != "" {
		return strings.ToLower(strings.ReplaceAll(e.Reason, "_", " "))
	}
	return e.Code.String()
}

// Unwrap returns the underlying *connect.Error, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether e matches one of the package's sentinel errors.
func (e *Error) Is(target error) bool {
	if match, known := schemaReasonIs(e.Reason, target); known {
		return match
	}
	switch e.Reason {
	case "STATION_NOT_FOUND":
		return target == ErrStationNotFound
	case "STATION_EXISTS":
		return target == ErrStationExists
	case "STATION_IN_USE":
		return target == ErrStationInUse
	case "GROUP_NOT_FOUND":
		return target == ErrGroupNotFound
	case "GROUP_EXISTS":
		return target == ErrGroupExists
	case "INVALID_ARGUMENT":
		return target == ErrInvalidArgument
	case "MESSAGE_TOO_LARGE":
		return target == ErrMessageTooLarge
	case "NOT_PENDING":
		return target == ErrNotPending
	case "SHUTTING_DOWN":
		return target == ErrUnavailable
	case "CONNECTOR_NOT_FOUND":
		return target == ErrConnectorNotFound
	case "INVALID_DEFINITION":
		return target == ErrInvalidDefinition
	case "PLUGIN_NOT_FOUND":
		return target == ErrPluginNotFound
	case "NOT_LEADER":
		return target == ErrNotLeader || target == ErrUnavailable
	case "OUTCOME_UNKNOWN":
		return target == ErrOutcomeUnknown || target == ErrUnavailable
	}
	switch e.Code {
	case connect.CodeInvalidArgument:
		return target == ErrInvalidArgument
	case connect.CodeUnavailable:
		return target == ErrUnavailable
	case connect.CodeUnauthenticated:
		return target == ErrUnauthenticated
	case connect.CodePermissionDenied:
		return target == ErrPermissionDenied
	}
	return false
}

// fromConnect converts an error of a connect call into an *Error. Errors
// that are not connect errors (they should not happen) are returned as is.
func fromConnect(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	e := &Error{Code: ce.Code(), Message: ce.Message(), cause: err}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if info, ok := v.(*junctionv1.ErrorInfo); ok {
			e.Reason = reasonName(info.GetReason())
			e.Station, e.Group, e.Field = info.GetStation(), info.GetGroup(), info.GetField()
			e.Problems = definitionErrorsFromProto(info.GetDefinitionErrors())
			addSchemaInfo(e, info)
			e.Leader = info.GetLeader()
			break
		}
	}
	if e.Message == "" && ce.Unwrap() != nil {
		e.Message = ce.Unwrap().Error()
	}
	return e
}

func reasonName(r junctionv1.ErrorReason) string {
	if r == junctionv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(r.String(), "ERROR_REASON_")
}

// streamError builds the error of a failed ProduceStream request from the
// response's message, code name and ErrorInfo.
func streamError(station, msg, codeName string, info *junctionv1.ErrorInfo) *Error {
	var code connect.Code
	if err := code.UnmarshalText([]byte(codeName)); err != nil {
		code = connect.CodeUnknown
	}
	e := &Error{Code: code, Message: msg, Station: station}
	if info != nil {
		e.Reason = reasonName(info.GetReason())
		e.Field = info.GetField()
		addSchemaInfo(e, info)
		e.Leader = info.GetLeader()
	}
	if e.Message == "" {
		e.Message = "produce failed: " + codeName
	}
	return e
}
