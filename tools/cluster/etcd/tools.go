//go:build tools

// Package tools pins the etcd server the cluster test bed runs (built by scripts/install-cluster.sh).
package tools

import _ "go.etcd.io/etcd/server/v3"
