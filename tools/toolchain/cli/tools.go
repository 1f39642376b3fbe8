//go:build tools

// Keeps the CLI's main package (and so all its dependencies) in this module's graph.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
