package console

import (
	"embed"
	"path"

	"github.com/gofiber/fiber/v2"
)

// assets are the page: no build step, no CDN.
//
//go:embed assets
var assets embed.FS

// assetTypes are the files the page is made of, with their types; no
// other name is served.
var assetTypes = map[string]string{
	"app.js":  "text/javascript; charset=utf-8",
	"app.css": "text/css; charset=utf-8",
}

func (c *Console) page(f *fiber.Ctx) error {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		return err
	}
	f.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return f.Send(b)
}

func (c *Console) asset(f *fiber.Ctx) error {
	name := f.Params("file")
	typ, ok := assetTypes[name]
	if !ok {
		return f.Status(fiber.StatusNotFound).SendString("no such asset")
	}
	b, err := assets.ReadFile(path.Join("assets", name))
	if err != nil {
		return err
	}
	f.Set(fiber.HeaderContentType, typ)
	return f.Send(b)
}
