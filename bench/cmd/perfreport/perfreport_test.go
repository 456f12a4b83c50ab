package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func parseFile(t *testing.T, path string) Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse %s: %v", path, err)
	}
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; got:\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	rep := parseFile(t, "testdata/bench.txt")
	golden(t, "section.golden.md", Section(rep, "bench.txt", "docs/perf.svg"))
	svg := SVG(rep)
	golden(t, "perf.golden.svg", svg)
	checkXML(t, svg)
}

func TestParseReadsEveryResult(t *testing.T) {
	rep := parseFile(t, "testdata/bench.txt")
	if rep.Machine != "linux/amd64, 2 CPUs, AMD EPYC 7B13, go1.26.0" {
		t.Errorf("machine %q", rep.Machine)
	}
	data, _ := os.ReadFile("testdata/bench.txt")
	if want := bytes.Count(data, []byte("\nRESULT ")); len(rep.Results) != want {
		t.Fatalf("parsed %d results, the file has %d RESULT lines", len(rep.Results), want)
	}
	byName := map[string]Result{}
	for _, r := range rep.Results {
		byName[r.Workload] = r
	}
	p := byName["produce-1p-128B"]
	if v, ok := p.Value("nats"); !ok || v.Num != 224043 || p.Unit != "msgs/s" || p.Ratio != "2.67" {
		t.Errorf("produce-1p-128B parsed as %+v", p)
	}
	// A workload the report does not know keeps its peer and its extra field.
	s := byName["sink-file-128B"]
	if v, ok := s.Value("benthos"); !ok || v.Num != 51000 || len(s.Extra) != 1 || s.Extra[0] != (Field{"plugin", "file"}) {
		t.Errorf("sink-file-128B parsed as %+v", s)
	}
	if r := byName["scale-start"]; r.Stations != 1000 { // the last of three
		t.Errorf("scale-start: stations %d, want 1000 from stations=", r.Stations)
	}
	if r := byName["scale-rss-1000"]; r.Stations != 1000 {
		t.Errorf("scale-rss-1000: stations %d, want 1000 from the name", r.Stations)
	}
}

func TestSectionKeepsUnknownWorkloads(t *testing.T) {
	rep := parseFile(t, "testdata/bench.txt")
	sec := string(Section(rep, "bench.txt", ""))
	for _, want := range []string{
		"| sink-file-128B | rec/s | 92,000 | – | 51,000 | 1.80× | plugin=file |",
		"| produce-4p-128B | msgs/s | 1,006,236 | 258,995 | – | 3.89× |  |",
		"| latency-ack-p99-128B | µs | 78,564 | 871 | – | 90.20× |  |",
		"| scale-start | ms | 640 | – | – | – | 1000 stations |",
		"| rss-peak | MiB | 147.9 | – | – | – |  |",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("section lacks %q:\n%s", want, sec)
		}
	}
	if strings.Contains(sec, "![") {
		t.Errorf("section links a chart although none was drawn")
	}
}

func TestRunRewritesOnlyTheSection(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	before := "# Junction\n\nintro\n\n## Performance\n\n" + beginMarker + "\nold figures\n" + endMarker + "\n\n## Next\n\nmore\n"
	if err := os.WriteFile(readme, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	svg := filepath.Join(dir, "docs", "perf.svg")
	if err := run("testdata/bench.txt", readme, svg); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(readme)
	s := string(got)
	head, tail := "# Junction\n\nintro\n\n## Performance\n\n"+beginMarker+"\n", endMarker+"\n\n## Next\n\nmore\n"
	if !strings.HasPrefix(s, head) || !strings.HasSuffix(s, tail) || strings.Contains(s, "old figures") {
		t.Fatalf("README outside the section changed or the old section stayed:\n%s", s)
	}
	if !strings.Contains(s, "](docs/perf.svg)") || !strings.Contains(s, "| produce-1p-128B |") {
		t.Fatalf("section lacks the chart link or the table:\n%s", s)
	}
	chart, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	checkXML(t, chart)
	// Generating again from the same report changes nothing.
	if err := run("testdata/bench.txt", readme, svg); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(readme)
	if !bytes.Equal(got, again) {
		t.Fatalf("second run changed the README")
	}
}

func TestSpliceNeedsOnePairOfMarkers(t *testing.T) {
	for _, readme := range []string{
		"no markers",
		beginMarker + " only the beginning",
		endMarker + " end before " + beginMarker,
		beginMarker + beginMarker + endMarker,
		beginMarker + endMarker + endMarker,
	} {
		if _, err := Splice([]byte(readme), []byte("x")); !errors.Is(err, ErrMarkers) {
			t.Errorf("Splice(%q): got %v, want ErrMarkers", readme, err)
		}
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"x\nRESULT junction=1 unit=msgs/s\n", "line 2: RESULT line without workload="},
		{"RESULT workload=a junction\n", "line 1: field \"junction\": want key=value"},
		{"RESULT workload=a workload=b\n", "line 1: field \"workload=b\": key workload given twice"},
		{"RESULT workload=a Junction=1\n", "line 1: field \"Junction=1\": key must be"},
		{"RESULT workload=a stations=-3 junction=1\n", "line 1: field \"stations=-3\": want a positive number"},
		{"RESULT workload=a " + strings.Repeat("x", maxLineBytes) + "\n", "line 1: longer than"},
		{"RESULT workload=a\x00b junction=1\n", "line 1: RESULT line has a control character"},
		{"table only\n", ErrNoResults.Error()},
	} {
		_, err := Parse(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q): got %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestParseBoundsResults(t *testing.T) {
	in := strings.Repeat("RESULT workload=a junction=1\n", maxResults+1)
	if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("got %v, want an error about too many RESULT lines", err)
	}
}

func TestSVGEscapesNames(t *testing.T) {
	rep, err := Parse(strings.NewReader("RESULT workload=a<b>&\"-128B junction=10 nats=5 unit=msgs/s\nRESULT workload=scale-x stations=10 junction=3 unit=<fds>\n"))
	if err != nil {
		t.Fatal(err)
	}
	svg := SVG(rep)
	checkXML(t, svg)
	if bytes.Contains(svg, []byte("a<b>")) {
		t.Fatalf("workload name not escaped:\n%s", svg)
	}
}

// checkXML fails t unless svg is well-formed XML.
func checkXML(t *testing.T, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v", err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("RESULT workload=produce-1p-128B junction=597209 nats=224043 unit=msgs/s ratio=2.67\n")
	f.Add("machine: x\nRESULT workload=scale-rss-1000 junction=130.5 unit=MiB\nRESULT workload=scale-start stations=10 junction=1e309 unit=ms\n")
	f.Fuzz(func(t *testing.T, in string) {
		rep, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		sec := Section(rep, "in.txt", "perf.svg")
		if bytes.Contains(sec, []byte(endMarker)) || bytes.Contains(sec, []byte(beginMarker)) {
			t.Fatalf("section contains a marker:\n%s", sec)
		}
		if svg := SVG(rep); svg != nil {
			checkXML(t, svg)
		}
	})
}

// A scale figure's growth factor is a note: drawn as a system it would add a
// flat line under every scale chart.
func TestGrowthFactorIsNotASystem(t *testing.T) {
	rep, err := Parse(strings.NewReader("RESULT workload=scale-stations-start-1000 junction=358.0 unit=ms vs1x=2.32\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if len(r.Systems) != 1 || r.Systems[0].System != "junction" {
		t.Fatalf("systems %+v, want junction only", r.Systems)
	}
	if len(r.Extra) != 1 || r.Extra[0] != (Field{"vs1x", "2.32"}) {
		t.Fatalf("notes %+v, want vs1x=2.32", r.Extra)
	}
}
