package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Chart geometry, in SVG user units (pixels).
const (
	chartWidth   = 880
	mainHeight   = 300 // plot area of the throughput chart
	smallWidth   = 260 // plot area of one scale chart
	smallHeight  = 150
	marginLeft   = 70
	smallPerRow  = 3
	smallPitchX  = 290
	smallPitchY  = 240
	legendLineDY = 18
)

// palette colours the series of a chart in order.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

// point is one measurement on a chart.
type point struct {
	x int // message size in bytes, or number of stations
	y float64
}

// series is one line of a chart: a workload kind or metric on one system.
type series struct {
	name   string // workload kind or metric
	system string
	pts    []point
}

// SVG draws the chart of rep: throughput (MB/s of values) by message size
// for every msgs/s workload named <kind>-<size>, Junction solid and peers
// dashed; then, if rep has scale figures (Stations > 0), one small chart per
// metric of its value by number of stations. It returns nil when rep has
// nothing to draw.
func SVG(rep Report) []byte {
	thr := throughputSeries(rep)
	scale := scaleSeries(rep)
	if len(thr) == 0 && len(scale) == 0 {
		return nil
	}
	var body bytes.Buffer
	y := 0
	if len(thr) > 0 {
		y = drawThroughput(&body, thr)
	}
	if len(scale) > 0 {
		y = drawScale(&body, scale, y)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartWidth, y, chartWidth, y)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartWidth, y)
	b.Write(body.Bytes())
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// throughputSeries collects the msgs/s figures by workload kind and system,
// as MB/s of values.
func throughputSeries(rep Report) []series {
	var out []series
	for _, r := range rep.Results {
		if r.Unit != "msgs/s" || r.Stations > 0 {
			continue
		}
		kind, size := messageSize(r.Workload)
		if size == 0 {
			continue
		}
		for _, v := range r.Systems {
			out = addPoint(out, kind, v.System, point{size, v.Num * float64(size) / 1e6})
		}
	}
	return out
}

// scaleSeries collects the scale figures by metric (the workload name
// without its number of stations, and the unit) and system.
func scaleSeries(rep Report) []series {
	var out []series
	for _, r := range rep.Results {
		if r.Stations == 0 {
			continue
		}
		metric := r.Workload
		if m := scaleRE.FindStringSubmatch(metric); m != nil && m[1] == strconv.Itoa(r.Stations) {
			metric = strings.TrimRight(strings.TrimSuffix(metric, m[1]), "-")
		}
		if r.Unit != "" {
			metric += " (" + unitName(r.Unit) + ")"
		}
		for _, v := range r.Systems {
			out = addPoint(out, metric, v.System, point{r.Stations, v.Num})
		}
	}
	return out
}

func addPoint(ss []series, name, system string, p point) []series {
	i := slices.IndexFunc(ss, func(s series) bool { return s.name == name && s.system == system })
	if i < 0 {
		ss = append(ss, series{name: name, system: system})
		i = len(ss) - 1
	}
	ss[i].pts = append(ss[i].pts, p)
	return ss
}

// drawThroughput draws the throughput chart at the top and returns the
// height it used.
func drawThroughput(b *bytes.Buffer, ss []series) int {
	const top = 40
	plotW := chartWidth - marginLeft - 30
	fmt.Fprintf(b, `<text x="%d" y="24" font-size="15" font-weight="bold">Throughput by message size (MB/s of message values)</text>`+"\n", marginLeft)
	xs := xValues(ss)
	ymax := niceCeil(maxY(ss))
	axes(b, marginLeft, top, plotW, mainHeight, xs, ymax, "message size", sizeLabel)
	names := seriesNames(ss)
	for _, s := range ss {
		line(b, s, marginLeft, top, plotW, mainHeight, xs, ymax, palette[slices.Index(names, s.name)%len(palette)])
	}
	// Legend: one entry per series, in rows of three.
	y := top + mainHeight + 50
	for i, s := range ss {
		x := marginLeft + (i%3)*270
		if i > 0 && i%3 == 0 {
			y += legendLineDY
		}
		color := palette[slices.Index(names, s.name)%len(palette)]
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", x, y-4, x+24, y-4, color, dash(s.system))
		fmt.Fprintf(b, `<text x="%d" y="%d">%s, %s</text>`+"\n", x+30, y, esc(s.name), esc(systemName(s.system)))
	}
	return y + 30
}

// drawScale draws one small chart per scale metric below y and returns the
// new height.
func drawScale(b *bytes.Buffer, ss []series, y int) int {
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="15" font-weight="bold">Cost by number of stations</text>`+"\n", marginLeft, y+24)
	names := seriesNames(ss)
	top := y + 60
	for i, name := range names {
		x0 := marginLeft + (i%smallPerRow)*smallPitchX
		y0 := top + (i/smallPerRow)*smallPitchY
		var group []series
		for _, s := range ss {
			if s.name == name {
				group = append(group, s)
			}
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, y0-12, esc(name))
		xs := xValues(group)
		ymax := niceCeil(maxY(group))
		axes(b, x0, y0, smallWidth-50, smallHeight, xs, ymax, "stations", strconv.Itoa)
		for _, s := range group {
			line(b, s, x0, y0, smallWidth-50, smallHeight, xs, ymax, palette[i%len(palette)])
		}
	}
	rows := (len(names) + smallPerRow - 1) / smallPerRow
	return top + rows*smallPitchY - 40
}

// axes draws the frame, y ticks and x labels of a plot area.
func axes(b *bytes.Buffer, x0, y0, w, h int, xs []int, ymax float64, xTitle string, xLabel func(int) string) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, y0, w, h)
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		y := y0 + h - int(math.Round(float64(h)*float64(i)/4))
		if i > 0 && i < 4 {
			fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#eee"/>`+"\n", x0+1, y, x0+w-1, y)
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", x0-6, y+4, tick(v))
	}
	for i, x := range xs {
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", xPos(i, len(xs), x0, w), y0+h+16, esc(xLabel(x)))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x0+w/2, y0+h+32, esc(xTitle))
}

// line draws one series with a dot per point.
func line(b *bytes.Buffer, s series, x0, y0, w, h int, xs []int, ymax float64, color string) {
	var pts []string
	for _, p := range s.pts {
		x := xPos(slices.Index(xs, p.x), len(xs), x0, w)
		y := y0 + h - int(math.Round(float64(h)*p.y/ymax))
		pts = append(pts, fmt.Sprintf("%d,%d", x, y))
		fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="3" fill="%s"/>`+"\n", x, y, color)
	}
	if len(pts) > 1 {
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), color, dash(s.system))
	}
}

// xPos spreads n categories evenly over the plot width.
func xPos(i, n, x0, w int) int {
	if n == 1 {
		return x0 + w/2
	}
	pad := w / 10
	return x0 + pad + i*(w-2*pad)/(n-1)
}

func dash(system string) string {
	if system == "junction" {
		return ""
	}
	return ` stroke-dasharray="6 4"`
}

// xValues returns the sorted distinct x values of ss.
func xValues(ss []series) []int {
	var xs []int
	for _, s := range ss {
		for _, p := range s.pts {
			if !slices.Contains(xs, p.x) {
				xs = append(xs, p.x)
			}
		}
	}
	slices.Sort(xs)
	return xs
}

func maxY(ss []series) float64 {
	m := 0.0
	for _, s := range ss {
		for _, p := range s.pts {
			m = max(m, p.y)
		}
	}
	return m
}

// seriesNames returns the distinct series names in order of appearance.
func seriesNames(ss []series) []string {
	var names []string
	for _, s := range ss {
		if !slices.Contains(names, s.name) {
			names = append(names, s.name)
		}
	}
	return names
}

// niceCeil returns the least 1, 2 or 5 times a power of ten at or above v
// (1 for v <= 0).
func niceCeil(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// tick formats an axis value compactly: 1.5M, 250k, 0.5.
func tick(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	case v >= 1e3:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// sizeLabel formats a message size as junction-bench names it.
func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

func esc(s string) string { return html.EscapeString(s) }
