package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConnectClusterNamesEveryUnreachableNode(t *testing.T) {
	if _, err := ConnectCluster(context.Background(), nil); err == nil {
		t.Error("ConnectCluster with no address succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ConnectCluster(ctx, []string{"127.0.0.1:1", " 127.0.0.1:2"}, WithDialTimeout(time.Second))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "127.0.0.1:2") {
		t.Errorf("got %v, want ErrUnavailable naming both addresses", err)
	}
}
