package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode"
)

// The schema files are read at run time from the source of the very module
// versions that were compiled into this binary: the versions come from the
// binary's build info, and the source from the Go module cache (downloaded
// through the Go module proxy when it is missing). Nothing of the engines is
// copied into this repository, and the schema can never drift from the Go
// validation code that is linked in.

const (
	tektonModule = "github.com/tektoncd/pipeline"
	argoModule   = "github.com/argoproj/argo-workflows/v3"
)

// moduleVersion returns the version of a dependency compiled into this binary.
func moduleVersion(path string) (string, error) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path != path {
				continue
			}
			if dep.Replace != nil {
				if dep.Replace.Version == "" { // replaced by a local directory
					return "", fmt.Errorf("module %s is replaced by the directory %s; set VALIDATE_MANIFESTS_MODDIR_%s", path, dep.Replace.Path, envSuffix(path))
				}
				return dep.Replace.Path + "@" + dep.Replace.Version, nil
			}
			return path + "@" + dep.Version, nil
		}
	}
	// Test binaries may lack dependency build info: ask the go command, run
	// from the working directory (the package directory under go test).
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}}@{{.Version}}", path).Output()
	if err != nil {
		return "", fmt.Errorf("cannot tell which version of %s is compiled in: %v", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// moduleDir returns the source directory of a dependency in the module cache.
func moduleDir(path string) (string, error) {
	if dir := os.Getenv("VALIDATE_MANIFESTS_MODDIR_" + envSuffix(path)); dir != "" {
		return dir, nil
	}
	modAtVersion, err := moduleVersion(path)
	if err != nil {
		return "", err
	}
	modPath, version, _ := strings.Cut(modAtVersion, "@")
	if cache := goModCache(); cache != "" {
		dir := filepath.Join(cache, escapeModulePath(modPath)+"@"+version)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
	}
	// Not in the cache (yet): have the go command fetch it.
	cmd := exec.Command("go", "mod", "download", "-json", modAtVersion)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		msg := strings.TrimSpace(info.Error + " " + stderr.String())
		return "", fmt.Errorf("cannot locate the source of %s in the Go module cache: %v %s", modAtVersion, err, msg)
	}
	return info.Dir, nil
}

func goModCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if c := strings.TrimSpace(string(out)); c != "" {
			return c
		}
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		gopath = filepath.Join(home, "go")
	}
	return filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
}

// escapeModulePath applies the module cache's case encoding ("A" -> "!a").
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// envSuffix turns a module path into an environment variable suffix:
// TEKTON, ARGO, or the path in upper case with separators as "_".
func envSuffix(path string) string {
	switch path {
	case tektonModule:
		return "TEKTON"
	case argoModule:
		return "ARGO"
	}
	return strings.ToUpper(strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(path))
}
