package readmetest

import (
	"regexp"
	"strings"
)

// Block is a fenced sh block of a markdown file.
type Block struct {
	// Line is the line of its opening fence, from 1.
	Line int
	// Body is its text, without the fences.
	Body string
	// Skip is why it is not run, from a readme-test: skip comment right
	// before the fence; empty when it runs.
	Skip string
}

var skipRE = regexp.MustCompile(`^<!--\s*readme-test:\s*skip\s*\((.+)\)\s*-->$`)

// Blocks returns the ```sh blocks of markdown, in order. A block left open
// at the end is not returned.
func Blocks(markdown string) []Block {
	var (
		out      []Block
		cur      *Block
		body     strings.Builder
		prev     string // last non-blank line before a fence
		inOther  bool   // inside a fence of another language
		fenceLen int
	)
	for i, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil:
			if strings.HasPrefix(trimmed, "```") && strings.Trim(trimmed, "`") == "" && len(trimmed) >= fenceLen {
				cur.Body = body.String()
				out = append(out, *cur)
				cur = nil
				body.Reset()
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
		case inOther:
			if strings.HasPrefix(trimmed, "```") && strings.Trim(trimmed, "`") == "" && len(trimmed) >= fenceLen {
				inOther = false
			}
		case strings.HasPrefix(trimmed, "```"):
			fenceLen = len(trimmed) - len(strings.TrimLeft(trimmed, "`"))
			if strings.TrimSpace(strings.TrimLeft(trimmed, "`")) == "sh" {
				cur = &Block{Line: i + 1}
				if m := skipRE.FindStringSubmatch(prev); m != nil {
					cur.Skip = m[1]
				}
			} else {
				inOther = true
			}
		case trimmed != "":
			prev = trimmed
		}
	}
	return out
}
