package units

import (
	"strconv"
	"strings"
	"time"
)

// FormatDuration renders d the way [ParseDuration] accepts it, with whole
// weeks or days in front and no zero units behind: 2w, 30d, 1d12h, 1h30m,
// 2m, 1.5s. A whole number of days is shown in weeks only when it is a
// whole number of weeks, so 30d stays 30d.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return d.String()
	}
	const day = 24 * time.Hour
	var b strings.Builder
	if days := int64(d / day); days > 0 {
		if days%7 == 0 {
			b.WriteString(strconv.FormatInt(days/7, 10) + "w")
		} else {
			b.WriteString(strconv.FormatInt(days, 10) + "d")
		}
		d %= day
		if d == 0 {
			return b.String()
		}
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return b.String() + s
}
