//go:build !linux

package translate

import (
	"context"

	"github.com/gofiber/fiber/v2"
)

// watchPeer watches nothing where the connection cannot be peeked at.
func watchPeer(parent requestContext, c *fiber.Ctx) (context.Context, func()) {
	return parent, func() {}
}
