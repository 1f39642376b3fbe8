//go:build tools

// Keeps actionlint's main package (and so all its dependencies) in this module's graph.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
