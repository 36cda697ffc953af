package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3"
// (make build does it from git describe); without it the module version
// from the build info is used.
// commit likewise (-X main.commit=...); the build info's VCS revision
// otherwise.
var (
	version = ""
	commit  = ""
)

// buildInfo is what `cnv-node version` prints.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// readBuildInfo collects the version, the VCS commit and the Go version.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: orDefault(commit, "unknown"), GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return withDefaultVersion(bi)
	}
	if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		bi.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = orDefault(commit, s.Value)
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return withDefaultVersion(bi)
}

func withDefaultVersion(bi buildInfo) buildInfo {
	if bi.Version == "" {
		bi.Version = "dev"
	}
	return bi
}

func (bi buildInfo) String() string {
	commit := bi.Commit
	if bi.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("cnv-node %s\ncommit %s\n%s\n", bi.Version, commit, bi.GoVersion)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bi := readBuildInfo()
			return emit(cmd, bi, func(w io.Writer) { fmt.Fprint(w, bi) })
		},
	}
}
