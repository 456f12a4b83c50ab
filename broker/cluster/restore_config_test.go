package cluster

import (
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
)

func TestSettingsUpdate(t *testing.T) {
	have := broker.StationConfig{Name: "s", Partitions: 2, Retention: broker.Retention{MaxAge: time.Hour}, MaxDeliveries: 5, MaxMessageBytes: 1 << 20}
	if _, ok := settingsUpdate(have, have); ok {
		t.Fatal("equal settings reported as different")
	}

	want := have
	want.Retention.MaxMessages = 10
	want.DeadLetterStation = "dl"
	want.DedupWindow = time.Minute
	want.MaxDeliveries = 3
	want.MaxMessageBytes = 1 << 10
	want.Partitions = 4
	u, ok := settingsUpdate(have, want)
	if !ok {
		t.Fatal("changed settings not reported")
	}
	if u.Retention == nil || *u.Retention != want.Retention ||
		u.DeadLetterStation == nil || *u.DeadLetterStation != "dl" ||
		u.DedupWindow == nil || *u.DedupWindow != time.Minute ||
		u.MaxDeliveries == nil || *u.MaxDeliveries != 3 ||
		u.MaxMessageBytes == nil || *u.MaxMessageBytes != 1<<10 ||
		u.Partitions == nil || *u.Partitions != 4 {
		t.Fatalf("update %+v does not carry every changed setting", u)
	}

	cleared := want
	cleared.DeadLetterStation = ""
	if u, ok := settingsUpdate(want, cleared); !ok || u.DeadLetterStation == nil || *u.DeadLetterStation != "" || u.Retention != nil {
		t.Fatalf("clearing the dead-letter station: update %+v, changed %v", u, ok)
	}

	fewer := have
	fewer.Partitions = 1
	if u, ok := settingsUpdate(have, fewer); ok || u.Partitions != nil {
		t.Fatalf("a snapshot with fewer partitions shrinks the station: update %+v", u)
	}
}
