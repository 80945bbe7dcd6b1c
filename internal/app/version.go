package app

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
)

// buildVersion is what `brokerguard version` reports, from the build information the Go toolchain
// stamps into the binary.
type buildVersion struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"commit_time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func readVersion() buildVersion {
	v := buildVersion{Module: "github.com/brokerguard/brokerguard", Version: "(unknown)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func runVersion(_ context.Context, args []string, std IO) error {
	fs := newFlags("version", "[--json]", std)
	asJSON := fs.Bool("json", false, "print the version as JSON")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	v := readVersion()
	if *asJSON {
		enc := json.NewEncoder(std.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	commit := "commit unknown (this binary was built without version control stamping: go run, go test or -buildvcs=false)"
	if v.Commit != "" {
		commit = "commit " + v.Commit
		if v.Time != "" {
			commit += " (" + v.Time + ")"
		}
		if v.Modified {
			commit += " with local changes"
		}
	}
	_, err := fmt.Fprintf(std.Stdout, "brokerguard %s\n%s\nmodule %s\nbuilt with %s\n", v.Version, commit, v.Module, v.Go)
	return err
}
