// Command exits answers --spec like a sink plugin but exits at once when
// the host launches it.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--spec" {
		fmt.Println(`{"name":"exits","version":"0.1.0","kinds":["sink"],"fields":[],"protocol_version":1}`)
		return
	}
	fmt.Fprintln(os.Stderr, "exits: out of cheese")
	os.Exit(3)
}
