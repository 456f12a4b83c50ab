package main

import "fmt"

// summary says how many messages were acked and how many were dropped as
// duplicates: "3 messages acked", "1 duplicate dropped", "2 messages
// acked, 1 duplicate dropped".
func (s *produceStats) summary() string {
	acked := fmt.Sprintf("%d %s acked", s.acked, plural(s.acked, "message", "messages"))
	if s.dups == 0 {
		return acked
	}
	dups := fmt.Sprintf("%d %s dropped", s.dups, plural(s.dups, "duplicate", "duplicates"))
	if s.acked == 0 {
		return dups
	}
	return acked + ", " + dups
}
