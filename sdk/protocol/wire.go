package protocol

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

var kindToPB = map[Kind]pb.Kind{KindSource: pb.Kind_KIND_SOURCE, KindSink: pb.Kind_KIND_SINK}

// KindToPB returns the wire form of k (KIND_UNSPECIFIED for an unknown one).
func KindToPB(k Kind) pb.Kind { return kindToPB[k] }

// KindFromPB returns the Kind of k, or "" for one this side does not know.
func KindFromPB(k pb.Kind) Kind {
	switch k {
	case pb.Kind_KIND_SOURCE:
		return KindSource
	case pb.Kind_KIND_SINK:
		return KindSink
	}
	return ""
}

var typeToPB = map[FieldType]pb.FieldType{
	TypeString:     pb.FieldType_FIELD_TYPE_STRING,
	TypeInt:        pb.FieldType_FIELD_TYPE_INT,
	TypeFloat:      pb.FieldType_FIELD_TYPE_FLOAT,
	TypeBool:       pb.FieldType_FIELD_TYPE_BOOL,
	TypeDuration:   pb.FieldType_FIELD_TYPE_DURATION,
	TypeSize:       pb.FieldType_FIELD_TYPE_SIZE,
	TypeStringList: pb.FieldType_FIELD_TYPE_STRING_LIST,
}

func typeFromPB(t pb.FieldType) FieldType {
	for k, v := range typeToPB {
		if v == t {
			return k
		}
	}
	return ""
}

func kindsToPB(ks []Kind) []pb.Kind {
	out := make([]pb.Kind, 0, len(ks))
	for _, k := range ks {
		out = append(out, kindToPB[k])
	}
	return out
}

func kindsFromPB(ks []pb.Kind) []Kind {
	var out []Kind
	for _, k := range ks {
		out = append(out, KindFromPB(k))
	}
	return out
}

// SpecToPB returns the wire form of s.
func SpecToPB(s Spec) *pb.Spec {
	out := &pb.Spec{
		Name: s.Name, Version: s.Version, Description: s.Description,
		Author: s.Author, Homepage: s.Homepage, License: s.License,
		Kinds: kindsToPB(s.Kinds), ProtocolVersion: s.ProtocolVersion, Env: s.Env,
	}
	for _, f := range s.Fields {
		out.Fields = append(out.Fields, &pb.Field{
			Name: f.Name, Type: typeToPB[f.Type], Required: f.Required, Default: f.Default,
			Secret: f.Secret, Doc: f.Doc, Allowed: f.Allowed, Kinds: kindsToPB(f.Kinds),
		})
	}
	return out
}

// SpecFromPB returns the Spec s carries.
func SpecFromPB(s *pb.Spec) Spec {
	out := Spec{
		Name: s.GetName(), Version: s.GetVersion(), Description: s.GetDescription(),
		Author: s.GetAuthor(), Homepage: s.GetHomepage(), License: s.GetLicense(),
		Kinds: kindsFromPB(s.GetKinds()), ProtocolVersion: s.GetProtocolVersion(), Env: s.GetEnv(),
	}
	for _, f := range s.GetFields() {
		out.Fields = append(out.Fields, Field{
			Name: f.GetName(), Type: typeFromPB(f.GetType()), Required: f.GetRequired(),
			Default: f.GetDefault(), Secret: f.GetSecret(), Doc: f.GetDoc(),
			Allowed: f.GetAllowed(), Kinds: kindsFromPB(f.GetKinds()),
		})
	}
	return out
}

func recordsToPB(rs []Record) []*pb.Record {
	out := make([]*pb.Record, len(rs))
	for i, r := range rs {
		p := &pb.Record{Key: r.Key, Value: r.Value, Partition: r.Partition, Offset: r.Offset, Id: r.ID}
		if !r.Timestamp.IsZero() {
			p.TimestampUnixNano = r.Timestamp.UnixNano()
		}
		for _, h := range r.Headers {
			p.Headers = append(p.Headers, &pb.Header{Key: h.Key, Value: h.Value})
		}
		out[i] = p
	}
	return out
}

// RecordsFromPB returns the records of the unpacked wire form.
func RecordsFromPB(ps []*pb.Record) []Record {
	out := make([]Record, len(ps))
	for i, p := range ps {
		r := Record{Key: p.GetKey(), Value: p.GetValue(), Partition: p.GetPartition(), Offset: p.GetOffset(), ID: p.GetId()}
		if ns := p.GetTimestampUnixNano(); ns != 0 {
			r.Timestamp = time.Unix(0, ns).UTC()
		}
		for _, h := range p.GetHeaders() {
			r.Headers = append(r.Headers, Header{Key: h.GetKey(), Value: h.GetValue()})
		}
		out[i] = r
	}
	return out
}

// BatchToPB returns the wire form of a source batch.
func BatchToPB(b Batch) *pb.SourceBatch {
	out := &pb.SourceBatch{Records: recordsToPB(b.Records), Position: b.Position}
	for i, r := range b.Rejected {
		out.Rejected = append(out.Rejected, &pb.RecordError{Index: uint32(i), Message: r.Reason})
		out.RejectedRecords = append(out.RejectedRecords, recordsToPB([]Record{r.Record})[0])
	}
	return out
}

// BatchFromPB returns the Batch p carries.
func BatchFromPB(p *pb.SourceBatch) Batch {
	b := Batch{Records: RecordsFromPB(p.GetRecords()), Position: p.GetPosition()}
	raw := RecordsFromPB(p.GetRejectedRecords())
	for _, re := range p.GetRejected() {
		rej := Rejected{Reason: re.GetMessage()}
		if int(re.GetIndex()) < len(raw) {
			rej.Record = raw[re.GetIndex()]
		}
		b.Rejected = append(b.Rejected, rej)
	}
	return b
}

// ToStatus turns an error from a connector into a gRPC status error with an
// ErrorDetail saying what the host should do; FromStatus rebuilds it.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	// A status as such passes through; one wrapped inside an error (client
	// libraries' errors carry their gRPC status) gets the kind of the
	// wrapping error.
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	var code codes.Code
	detail := &pb.ErrorDetail{}
	var backoff *BackoffError
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, ErrFatal):
		code, detail.Kind = codes.FailedPrecondition, pb.ErrorKind_ERROR_KIND_FATAL
	case errors.As(err, &backoff):
		code, detail.Kind = codes.ResourceExhausted, pb.ErrorKind_ERROR_KIND_BACKOFF
		detail.BackoffMillis = backoff.Wait.Milliseconds()
		err = backoff.Err
	case errors.Is(err, ErrConfig):
		code, detail.Kind = codes.InvalidArgument, pb.ErrorKind_ERROR_KIND_CONFIG
	case errors.Is(err, ErrRetryable):
		code, detail.Kind = codes.Unavailable, pb.ErrorKind_ERROR_KIND_RETRYABLE
	case errors.Is(err, ErrUnimplemented):
		return status.Error(codes.Unimplemented, err.Error())
	default:
		code = codes.Unknown
	}
	msg := "<nil>"
	if err != nil {
		msg = err.Error()
	}
	st, derr := status.New(code, msg).WithDetails(detail)
	if derr != nil {
		return status.Error(code, msg)
	}
	return st.Err()
}

// remoteError is an error rebuilt from a plugin's status: its message is the
// plugin's and it matches the sentinel of its kind.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// FromStatus rebuilds the error a plugin returned (see ToStatus), so
// errors.Is and errors.As work on it in the host. Errors that are not statuses (none from
// gRPC) pass through.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	for _, d := range st.Details() {
		detail, ok := d.(*pb.ErrorDetail)
		if !ok {
			continue
		}
		switch detail.GetKind() {
		case pb.ErrorKind_ERROR_KIND_FATAL:
			return &remoteError{msg, ErrFatal}
		case pb.ErrorKind_ERROR_KIND_RETRYABLE:
			return &remoteError{msg, ErrRetryable}
		case pb.ErrorKind_ERROR_KIND_CONFIG:
			return &remoteError{msg, ErrConfig}
		case pb.ErrorKind_ERROR_KIND_BACKOFF:
			return &BackoffError{Err: errors.New(msg), Wait: time.Duration(detail.GetBackoffMillis()) * time.Millisecond}
		}
	}
	switch st.Code() {
	case codes.Canceled:
		return &remoteError{msg, context.Canceled}
	case codes.DeadlineExceeded:
		return &remoteError{msg, context.DeadlineExceeded}
	case codes.Unimplemented:
		return &remoteError{msg, ErrUnimplemented}
	case codes.Unknown:
		return &remoteError{msg, nil}
	}
	return err
}
