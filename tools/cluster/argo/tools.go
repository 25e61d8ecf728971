//go:build tools

// Package tools pins the Argo Workflows release the cluster test bed installs (built by
// scripts/install-cluster.sh, which also restores a file the module zip drops; see there).
package tools

import (
	_ "github.com/argoproj/argo-workflows/v3/cmd/argoexec"
	_ "github.com/argoproj/argo-workflows/v3/cmd/workflow-controller"
)
