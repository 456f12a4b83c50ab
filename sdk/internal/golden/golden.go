// Package golden hands the SDK's tests the reference record batch
// encoding kept in sdk/recordbatch/testdata (written by the broker's
// encoder, whose test fails when its bytes change), whichever package
// they run in.
package golden

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// RecordBatches returns the reference encoding: two batches of partition
// 3, four records, offsets 100-102 and 200.
func RecordBatches(t testing.TB) []byte {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("golden: cannot locate the testdata")
	}
	h, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "recordbatch", "testdata", "batch-v1.hex"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(string(h), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
