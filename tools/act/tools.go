//go:build tools

// Keeps act's main package (and so all its dependencies) in this module's graph.
package tools

import _ "github.com/nektos/act"
