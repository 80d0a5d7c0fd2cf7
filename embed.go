// Package dragoman carries the gateway's embedded default routes.yaml; the
// code lives in cmd/dragoman, translate and upstream.
package dragoman

import _ "embed"

//go:embed routes.yaml
var routesYAML []byte

// DefaultRoutes returns the routes.yaml built into the binary. Callers must
// not modify it.
func DefaultRoutes() []byte { return routesYAML }
