//go:build tools

// Package tools pins the rootlesskit of the rootless buildkitd stand-in image (the version
// BuildKit's Dockerfile pins).
package tools

import _ "github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit"
