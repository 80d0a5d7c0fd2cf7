package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/openapi"
	"github.com/dragoman-gw/dragoman/translate"
)

// openapiCommand is `dragoman openapi --dialect NAME [--routes FILE]`.
func openapiCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("openapi", "--dialect NAME [--routes FILE]", stdout, stderr)
	dialect := fs.String("dialect", "", "the dialect to describe")
	file := fs.String("routes", "", "routes.yaml to read (default: the embedded one)")
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	cfg, name, err := loadRoutes(*file)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	doc, err := dialectDocument(cfg, *dialect)
	if err != nil {
		fmt.Fprintf(stderr, "dragoman openapi: %v\n", err)
		return 2
	}
	fmt.Fprintf(stdout, "%s\n", doc)
	return 0
}

// dialectDocument is the OpenAPI document of one dialect of cfg.
func dialectDocument(cfg *translate.Config, dialect string) ([]byte, error) {
	for _, d := range cfg.Describe() {
		if d.Name == dialect {
			return openapi.Document(d)
		}
	}
	return nil, fmt.Errorf("--dialect %q: want one of %s", dialect, strings.Join(cfg.Dialects(), ", "))
}

// serveOpenAPI answers GET /openapi/NAME.json on the admin listener from
// the routes in use.
func (s *server) serveOpenAPI(c *fiber.Ctx) error {
	name, ok := strings.CutSuffix(c.Params("file"), ".json")
	if !ok {
		return c.SendStatus(fiber.StatusNotFound)
	}
	doc, err := dialectDocument(s.current.Load().cfg, name)
	if err != nil {
		return c.Status(fiber.StatusNotFound).SendString(err.Error() + "\n")
	}
	c.Set(fiber.HeaderContentType, "application/json")
	return c.Send(doc)
}
