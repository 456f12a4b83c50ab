package server

import "github.com/junctionhq/junction/web"

// dashboardMounts serves the web dashboard at "/" and its assets under
// "/ui/", ahead of the caller's mounts.
func dashboardMounts(opts Options, mounts []Mount) []Mount {
	if opts.DisableDashboard {
		return mounts
	}
	var out []Mount
	for _, m := range web.Mounts(web.Options{}) {
		out = append(out, Mount{Pattern: m.Pattern, Handler: m.Handler})
	}
	return append(out, mounts...)
}
