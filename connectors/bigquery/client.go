package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/junctionhq/junction/sdk/connector"
)

// conn is the project, table and credential settings both kinds share; the
// sink and source configs embed it, so its fields appear once in the spec.
type conn struct {
	Project               string `json:"project" connector:"required" doc:"Google Cloud project id that holds the dataset; queries are billed to it."`
	Dataset               string `json:"dataset" connector:"required" doc:"Dataset id."`
	Table                 string `json:"table" connector:"required" doc:"Table id."`
	Location              string `json:"location" doc:"Location of the dataset, such as US or europe-west1: used when the sink creates the dataset, and to run queries. Empty: the dataset's own."`
	CredentialsFile       string `json:"credentials_file" doc:"Path to a service account JSON key file. With credentials_json also empty, application default credentials are used (GOOGLE_APPLICATION_CREDENTIALS, gcloud, or the metadata server on Google Cloud)."`
	CredentialsJSON       string `json:"credentials_json" connector:"secret" doc:"A service account JSON key, inline (for example ${GCP_SA_KEY}); instead of credentials_file."`
	Endpoint              string `json:"endpoint" doc:"BigQuery REST API base URL for emulators and tests, such as http://127.0.0.1:9050/bigquery/v2/; empty for Google."`
	StorageEndpoint       string `json:"storage_endpoint" doc:"Storage Write API address host:port for emulators and tests; empty for Google."`
	WithoutAuthentication bool   `json:"without_authentication" default:"false" doc:"Send no credentials and speak plaintext gRPC to storage_endpoint: only for emulators and tests, and only with endpoint set. Endpoints outside googleapis.com require it."`
}

var (
	idRE      = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	tableRE   = regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd} ]+$`)
	projectRE = regexp.MustCompile(`^[a-z][a-z0-9.:-]{0,62}[a-z0-9]$`)
)

// googleHost reports whether host is Google's (including Private Service
// Connect endpoints), where credentials may be sent.
func googleHost(host string) bool {
	return strings.HasSuffix(strings.ToLower(host), ".googleapis.com")
}

func (c conn) validate() connector.FieldErrors {
	var errs connector.FieldErrors
	add := func(field, msg string) { errs = append(errs, connector.FieldError{Field: field, Message: msg}) }
	if c.Project != "" && !projectRE.MatchString(c.Project) {
		add("project", "must be a project id such as my-project-123")
	}
	if c.Dataset != "" && (!idRE.MatchString(c.Dataset) || len(c.Dataset) > 1024) {
		add("dataset", "must be letters, digits and underscores")
	}
	if c.Table != "" && (!tableRE.MatchString(c.Table) || len(c.Table) > 1024) {
		add("table", "must be letters, marks, digits, connectors, dashes and spaces")
	}
	if c.CredentialsFile != "" && c.CredentialsJSON != "" {
		add("credentials_json", "set credentials_file or credentials_json, not both")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil || u.Scheme == "" || u.Host == "":
			add("endpoint", "must be a URL such as http://127.0.0.1:9050/bigquery/v2/")
		case !c.WithoutAuthentication && !googleHost(u.Hostname()):
			add("endpoint", "a host outside googleapis.com needs without_authentication: true, so that no credentials go to it")
		}
	}
	if c.StorageEndpoint != "" {
		host, _, err := net.SplitHostPort(c.StorageEndpoint)
		switch {
		case err != nil:
			add("storage_endpoint", "must be host:port, such as 127.0.0.1:9060")
		case !c.WithoutAuthentication && !googleHost(host):
			add("storage_endpoint", "a host outside googleapis.com needs without_authentication: true, so that no credentials go to it")
		}
	}
	if c.WithoutAuthentication && c.Endpoint == "" {
		add("without_authentication", "only allowed with endpoint set (emulators and tests)")
	}
	return errs
}

// clients are the REST client (tables, queries) and the Storage Write API
// client for one table.
type clients struct {
	bq     *bigquery.Client
	writer *managedwriter.Client
	table  *bigquery.Table
	// httpClient is set when the connector built the REST transport
	// itself, so that close can drop its idle connections.
	httpClient *http.Client
}

// authOptions turns the credential settings into client options. It reads
// the credentials file, if any, and checks that the key is a JSON object of
// a known type without ever putting its content into an error.
func (c conn) authOptions() ([]option.ClientOption, error) {
	if c.WithoutAuthentication {
		return []option.ClientOption{option.WithoutAuthentication()}, nil
	}
	var key []byte
	where := "credentials_json"
	switch {
	case c.CredentialsFile != "":
		where = "credentials_file " + c.CredentialsFile
		b, err := os.ReadFile(c.CredentialsFile)
		if err != nil {
			return nil, connector.Fatal(fmt.Errorf("read %s: %w", where, errors.Unwrap(err)))
		}
		key = b
	case c.CredentialsJSON != "":
		key = []byte(c.CredentialsJSON)
	default:
		return nil, nil // application default credentials
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(key, &head); err != nil {
		return nil, connector.Fatal(fmt.Errorf("%s is not a JSON credentials file", where))
	}
	var typ option.CredentialsType
	switch head.Type {
	case "service_account":
		typ = option.ServiceAccount
	case "authorized_user":
		typ = option.AuthorizedUser
	case "external_account":
		typ = option.ExternalAccount
	case "impersonated_service_account":
		typ = option.ImpersonatedServiceAccount
	default:
		return nil, connector.Fatal(fmt.Errorf("%s has type %q; want a service_account key (or authorized_user, external_account, impersonated_service_account)", where, head.Type))
	}
	return []option.ClientOption{option.WithAuthCredentialsJSON(typ, key)}, nil
}

// newClients builds both clients. The project is always explicit, so the
// libraries never look it up, and with explicit or no credentials they
// never probe the metadata server.
func newClients(ctx context.Context, c conn, needWriter bool) (*clients, error) {
	auth, err := c.authOptions()
	if err != nil {
		return nil, err
	}
	cl := &clients{}
	restOpts := append([]option.ClientOption(nil), auth...)
	if c.Endpoint != "" {
		ep := c.Endpoint
		if !strings.HasSuffix(ep, "/") {
			ep += "/"
		}
		restOpts = append(restOpts, option.WithEndpoint(ep))
		if c.WithoutAuthentication {
			cl.httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
			restOpts = []option.ClientOption{option.WithEndpoint(ep), option.WithHTTPClient(cl.httpClient)}
		}
	}
	cl.bq, err = bigquery.NewClient(ctx, c.Project, restOpts...)
	if err != nil {
		return nil, connector.Fatal(fmt.Errorf("bigquery client: %w", err))
	}
	if c.Location != "" {
		cl.bq.Location = c.Location
	}
	cl.table = cl.bq.Dataset(c.Dataset).Table(c.Table)
	if !needWriter {
		return cl, nil
	}
	wOpts := append([]option.ClientOption(nil), auth...)
	if c.StorageEndpoint != "" {
		wOpts = append(wOpts, option.WithEndpoint(c.StorageEndpoint))
		if c.WithoutAuthentication {
			wOpts = append(wOpts, option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
		}
	}
	cl.writer, err = managedwriter.NewClient(ctx, c.Project, wOpts...)
	if err != nil {
		cl.close()
		return nil, connector.Fatal(fmt.Errorf("bigquery storage write client: %w", err))
	}
	return cl, nil
}

func (cl *clients) close() {
	if cl.writer != nil {
		_ = cl.writer.Close()
	}
	if cl.bq != nil {
		_ = cl.bq.Close()
	}
	if cl.httpClient != nil {
		cl.httpClient.CloseIdleConnections()
	}
}

// classify marks err by what the host should do: fatal for errors that
// retrying cannot fix (permissions, missing resources, bad requests),
// retryable otherwise.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// The token endpoint refusing the credentials (a deleted or revoked
	// key, a disabled account) will not change by retrying.
	var aerr *auth.Error
	if errors.As(err, &aerr) && aerr.Response != nil && refused(aerr.Response.StatusCode) {
		return connector.Fatal(err)
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) && rerr.Response != nil && refused(rerr.Response.StatusCode) {
		return connector.Fatal(err)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		switch gerr.Code {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest, http.StatusConflict:
			if gerr.Code == http.StatusForbidden && isRateLimit(gerr) {
				return connector.Retryable(err)
			}
			return connector.Fatal(err)
		}
		return connector.Retryable(err)
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		switch s.Code() {
		case codes.PermissionDenied, codes.Unauthenticated, codes.NotFound, codes.InvalidArgument:
			return connector.Fatal(err)
		}
		return connector.Retryable(err)
	}
	return connector.Retryable(err)
}

func refused(code int) bool {
	return code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout
}

func isRateLimit(e *googleapi.Error) bool {
	for _, it := range e.Errors {
		if strings.Contains(it.Reason, "rateLimit") || it.Reason == "quotaExceeded" {
			return true
		}
	}
	return false
}

// isNotFound reports a REST 404.
func isNotFound(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusNotFound
}

// storageError returns the StorageError detail of a Storage Write API
// error, or nil.
func storageError(err error) *storagepb.StorageError {
	ae, ok := apierror.FromError(err)
	if !ok {
		return nil
	}
	se := &storagepb.StorageError{}
	if e := ae.Details().ExtractProtoMessage(se); e != nil {
		return nil
	}
	return se
}
