package openapi

import (
	"os"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/translate"
)

func loadRoutes(t *testing.T) *translate.Config {
	t.Helper()
	data, err := os.ReadFile("../routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := translate.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestEveryDialectIsValidOpenAPI31 validates each dialect's document with
// libopenapi-validator, against the OpenAPI 3.1 schema.
func TestEveryDialectIsValidOpenAPI31(t *testing.T) {
	cfg := loadRoutes(t)
	descs := cfg.Describe()
	if len(descs) != 5 {
		t.Fatalf("%d dialects described, want 5", len(descs))
	}
	for _, d := range descs {
		t.Run(d.Name, func(t *testing.T) {
			doc, err := Document(d)
			if err != nil {
				t.Fatal(err)
			}
			if v := gjson.GetBytes(doc, "openapi").String(); v != "3.1.0" {
				t.Fatalf("openapi %q", v)
			}
			checkValid(t, doc)
			// Every route is in it, under its method.
			for _, r := range d.Routes {
				p, _ := openAPIPath(r)
				if !gjson.GetBytes(doc, "paths."+gjson.Escape(p)+"."+lower(r.Method)+".responses").Exists() {
					t.Errorf("route %s (%s %s) is not in the document", r.Name, r.Method, p)
				}
			}
		})
	}
}

func checkValid(t *testing.T, doc []byte) {
	t.Helper()
	document, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	v, errs := validator.NewValidator(document)
	if len(errs) > 0 {
		t.Fatalf("build the validator: %v", errs)
	}
	ok, verrs := v.ValidateDocument()
	if !ok {
		for _, e := range verrs {
			t.Errorf("invalid: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.KeywordLocation, se.Reason)
			}
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// TestTheValidatorRefusesABrokenDocument shows the check can fail.
func TestTheValidatorRefusesABrokenDocument(t *testing.T) {
	document, err := libopenapi.NewDocument([]byte(`{"openapi":"3.1.0","info":{"version":"1"},"paths":{"/a":{"get":{"responses":{"200":{}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(document)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, _ := v.ValidateDocument(); ok {
		t.Errorf("a document without info.title and response descriptions passed")
	}
}
