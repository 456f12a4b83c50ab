// Command perfreport writes the performance section of README.md and its
// chart from one saved junction-bench report, so that the figures in the
// README are exactly the ones a run measured.
//
// It reads the report (the file `make perf-report`, `make bench` and `make bench-compare` save
// as BENCHOUT), replaces the text between <!-- perf:begin --> and
// <!-- perf:end --> in the README with a table of every RESULT line (in
// the order of the report, including workloads it does not know), and
// draws an SVG chart: throughput by message size, Junction against its
// peers, and, when the report has scale figures, cost by number of
// stations.
//
// Usage:
//
//	cd bench && go run ./cmd/perfreport -in ../bin/bench.txt -readme ../README.md -svg ../docs/perf.svg
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	in := flag.String("in", "", "junction-bench report to read (required)")
	readme := flag.String("readme", "README.md", "README whose performance section is replaced")
	svg := flag.String("svg", "docs/perf.svg", "chart to write; the README links it by its path relative to the README")
	flag.Parse()
	if *in == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: perfreport -in REPORT [-readme README.md] [-svg docs/perf.svg]")
		os.Exit(2)
	}
	if err := run(*in, *readme, *svg); err != nil {
		fmt.Fprintf(os.Stderr, "perfreport: %v\n", err)
		os.Exit(1)
	}
}

func run(in, readme, svgPath string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	rep, err := Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	old, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	chart := ""
	if svg := SVG(rep); svg != nil {
		if err := os.MkdirAll(filepath.Dir(svgPath), 0o755); err != nil {
			return err
		}
		if err := writeFile(svgPath, svg); err != nil {
			return err
		}
		if chart, err = filepath.Rel(filepath.Dir(readme), svgPath); err != nil {
			return err
		}
		chart = filepath.ToSlash(chart)
	}
	out, err := Splice(old, Section(rep, filepath.Base(in), chart))
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	return writeFile(readme, out)
}

// writeFile replaces path with data atomically.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
