package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/junctionhq/junction/sdk/connector"
)

// store is the bucket and connection settings both kinds share; the sink
// and source configs embed it, so its fields appear once in the spec.
type store struct {
	Bucket          string `json:"bucket" connector:"required" doc:"Bucket to write to or read from; it must exist."`
	Prefix          string `json:"prefix" doc:"Key prefix, such as \"exports/\": the sink writes under it ({prefix} in key_template), the source reads the objects under it."`
	Endpoint        string `json:"endpoint" doc:"S3 API endpoint URL for S3-compatible stores, such as http://minio:9000; empty for AWS."`
	Region          string `json:"region" doc:"Region; empty for the AWS chain's (AWS_REGION, profile), else us-east-1."`
	ForcePathStyle  bool   `json:"force_path_style" default:"false" doc:"Address buckets as endpoint/bucket instead of bucket.endpoint; most S3-compatible stores need it."`
	AccessKeyID     string `json:"access_key_id" doc:"Access key; empty to use the standard AWS credential chain (environment, profile, web identity, instance role)."`
	SecretAccessKey string `json:"secret_access_key" connector:"secret" doc:"Secret key that goes with access_key_id."`
	SessionToken    string `json:"session_token" connector:"secret" doc:"Session token for temporary credentials given in access_key_id and secret_access_key."`
	MaxAttempts     int    `json:"max_attempts" default:"3" doc:"Attempts per S3 request, the first included, before the error goes to the broker, which retries with its own backoff."`
}

func (c store) validate() connector.FieldErrors {
	var errs connector.FieldErrors
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, connector.FieldError{Field: "endpoint", Message: "must be a URL such as http://127.0.0.1:9000"})
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, connector.FieldError{Field: "secret_access_key", Message: "access_key_id and secret_access_key must be set together"})
	}
	if c.SessionToken != "" && c.AccessKeyID == "" {
		errs = append(errs, connector.FieldError{Field: "session_token", Message: "needs access_key_id and secret_access_key"})
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, connector.FieldError{Field: "max_attempts", Message: "must be at least 1"})
	}
	return errs
}

// client is an S3 client for one bucket with its own HTTP transports, so
// that Teardown can close their idle connections.
type client struct {
	*s3.Client
	bucket string

	mu         sync.Mutex
	transports []*http.Transport
}

func newClient(ctx context.Context, c store) (*client, error) {
	cl := &client{bucket: c.Bucket}
	// A BuildableClient, since the loader adds AWS_CA_BUNDLE to it; the
	// option sees every transport built, to close them in Teardown.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = 32
		cl.mu.Lock()
		cl.transports = append(cl.transports, tr)
		cl.mu.Unlock()
	})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(httpClient),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = c.MaxAttempts
				o.MaxBackoff = 5 * time.Second
			})
		}),
	}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, connector.Fatal(fmt.Errorf("load AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cl.Client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = c.ForcePathStyle
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			// Many S3-compatible stores reject the default CRC trailers.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	return cl, nil
}

// check makes sure the bucket exists and the credentials may use it.
func (c *client) check(ctx context.Context) error {
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &c.bucket})
	if err != nil {
		return classify(fmt.Errorf("bucket %s: %w", c.bucket, err))
	}
	return nil
}

func (c *client) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tr := range c.transports {
		tr.CloseIdleConnections()
	}
}

// classify marks an S3 error with what the host should do: Fatal for
// errors retrying cannot fix (a missing bucket, bad credentials, access
// denied), a BackoffError for throttling, Retryable for the rest. err
// should already say which bucket and key it is about.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchBucket":
			return connector.Fatal(fmt.Errorf("%w (the bucket does not exist)", err))
		case "NotFound", "404":
			if statusOf(err) == http.StatusNotFound && isHeadBucket(err) {
				return connector.Fatal(fmt.Errorf("%w (the bucket does not exist)", err))
			}
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "AuthorizationHeaderMalformed":
			return connector.Fatal(fmt.Errorf("%w (check access_key_id, secret_access_key and session_token)", err))
		case "AccessDenied", "Forbidden", "403", "AllAccessDisabled", "AccountProblem":
			return connector.Fatal(fmt.Errorf("%w (%s)", err, forbidden))
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests":
			return &connector.BackoffError{Err: err, Wait: 2 * time.Second}
		}
		switch status := statusOf(err); {
		case status == http.StatusForbidden:
			return connector.Fatal(fmt.Errorf("%w (%s)", err, forbidden))
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			return &connector.BackoffError{Err: err, Wait: 2 * time.Second}
		}
		return connector.Retryable(err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return connector.Retryable(fmt.Errorf("%w (is the endpoint reachable?)", err))
	}
	return connector.Retryable(err)
}

const forbidden = "the credentials are invalid or may not use this bucket: check access_key_id, secret_access_key, session_token and the bucket policy"

func statusOf(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isHeadBucket(err error) bool {
	var oe *smithy.OperationError
	return errors.As(err, &oe) && oe.OperationName == "HeadBucket"
}

// isNotFound reports a missing key.
func isNotFound(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return statusOf(err) == http.StatusNotFound
}

// isInvalidRange reports a range starting at or after the object's end.
func isInvalidRange(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "InvalidRange" || statusOf(err) == http.StatusRequestedRangeNotSatisfiable
}
