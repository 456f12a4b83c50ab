package readmetest

import (
	"strings"
	"testing"
)

func TestBlocks(t *testing.T) {
	md := "# T\n\n```sh\necho a\n```\n\ntext\n<!-- readme-test: skip (needs AWS) -->\n```sh\naws s3 ls\n```\n```yaml\n```sh\n```\n````sh\necho ```\n````\n```sh\nunclosed\n"
	bs := Blocks(md)
	if len(bs) != 3 {
		t.Fatalf("%d blocks: %+v", len(bs), bs)
	}
	if bs[0].Line != 3 || bs[0].Body != "echo a\n" || bs[0].Skip != "" {
		t.Errorf("block 0: %+v", bs[0])
	}
	if bs[1].Body != "aws s3 ls\n" || bs[1].Skip != "needs AWS" {
		t.Errorf("block 1: %+v", bs[1])
	}
	if bs[2].Body != "echo ```\n" {
		t.Errorf("block 2: %+v", bs[2])
	}
}

func FuzzBlocks(f *testing.F) {
	f.Add("```sh\necho a\n```\n")
	f.Add("<!-- readme-test: skip (x) -->\n```sh\n```\n````\n")
	f.Fuzz(func(t *testing.T, md string) {
		for _, b := range Blocks(md) {
			if !strings.Contains(md, b.Body) || b.Line < 1 {
				t.Fatalf("block %+v is not in the input", b)
			}
		}
	})
}
