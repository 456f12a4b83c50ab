// Package readmetest runs the repository's README.md as written: every
// fenced sh block, in order, in one shell, against a junction broker
// started for it. A block preceded by a "<!-- readme-test: skip (why) -->"
// comment is not run; the reason stays visible in the README source.
package readmetest
