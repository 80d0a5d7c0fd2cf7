package main

import (
	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream/bundled"
)

// readyz answers GET /readyz: 200 when the store is usable and nothing in
// it is known to be damaged, else 503, with the store's state as JSON
// either way. /healthz stays the liveness check (the process answers, the
// store is readable); /readyz is for the operator and the load balancer
// that should know the data dir has lost files (see docs/deploy.md).
func readyz(store pinger) fiber.Handler {
	type answer struct {
		Status string `json:"status"` // ok, damaged or unavailable
		Store  string `json:"store"`
		Error  string `json:"error,omitempty"`
		*bundled.Readiness
	}
	b, isBundled := store.(*bundled.Store) // decided once, at start
	return func(c *fiber.Ctx) error {
		a := answer{Status: "ok", Store: "remote"}
		var err error
		if isBundled {
			var r bundled.Readiness
			r, err = b.Ready(c.Context())
			a.Store, a.Readiness = "bundled", &r
			if r.Damaged > 0 {
				a.Status = "damaged"
			}
		} else {
			err = store.Ping(c.Context())
		}
		if err != nil {
			a.Status, a.Error = "unavailable", "store unavailable"
		}
		if a.Status != "ok" {
			c.Status(fiber.StatusServiceUnavailable)
		}
		return c.JSON(a)
	}
}
