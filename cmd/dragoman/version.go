package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version and commit, when set at link time, replace what the build info
// says: a build outside a git checkout (a source tarball, a Docker build
// without .git) has no vcs stamp, so packagers set them:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/dragoman
//
// They are variables only because -X can set nothing else; nothing assigns
// them at run time.
var (
	version string
	commit  string
)

// buildVersion is what `dragoman version` prints, from the link-time
// values first, then the module version and vcs settings of the build.
type buildVersion struct {
	version, commit, time string
	modified              bool
}

// readBuildVersion reads info (ok as debug.ReadBuildInfo returns it) under
// the link-time values ldVersion and ldCommit.
func readBuildVersion(info *debug.BuildInfo, ok bool, ldVersion, ldCommit string) buildVersion {
	v := buildVersion{version: "(devel)", commit: "unknown"}
	if ok {
		if info.Main.Version != "" {
			v.version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.commit = s.Value
			case "vcs.time":
				v.time = s.Value
			case "vcs.modified":
				v.modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		v.version = ldVersion
	}
	if ldCommit != "" {
		v.commit, v.time, v.modified = ldCommit, "", false
	}
	return v
}

func (v buildVersion) String() string {
	s := fmt.Sprintf("dragoman %s commit %s", v.version, v.commit)
	if v.time != "" {
		s += " (" + v.time + ")"
	}
	if v.modified {
		s += " with uncommitted changes"
	}
	return s
}

func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", stdout, stderr)
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	fmt.Fprintln(stdout, currentVersion())
	return 0
}

// currentVersion is this binary's version line.
func currentVersion() string {
	info, ok := debug.ReadBuildInfo()
	return readBuildVersion(info, ok, version, commit).String()
}
