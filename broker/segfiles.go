package broker

import (
	"math"

	"github.com/junctionhq/junction/broker/seglog"
)

// memFiles holds the segments of memory stations: they cost no file
// descriptor, so none is ever closed to stay within a limit.
var memFiles = seglog.NewFileCache(math.MaxInt)
