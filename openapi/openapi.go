// Package openapi writes an OpenAPI 3.1 document for one dialect, generated
// from its compiled routes: paths, methods, parameters, request bodies,
// answers with their error shapes, and the credential as a security
// scheme. Nothing here knows a dialect: it reads translate's description.
package openapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/translate"
)

// obj is one JSON object of the document; encoding/json sorts its keys,
// so the output is the same for the same routes.
type obj = map[string]any

// restParam names the trailing "*" of a route's path: the rest of it,
// slashes included.
const restParam = "path"

// Document returns the OpenAPI 3.1 document of dialect d, as JSON.
func Document(d translate.DialectDescription) ([]byte, error) {
	doc := obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       title(d),
			"version":     "1",
			"description": fmt.Sprintf("The %s API as dragoman serves it, generated from routes.yaml.", d.Name),
		},
		"components": obj{
			"securitySchemes": obj{"credential": securityScheme(d.Credential)},
			"schemas":         obj{},
		},
		"security": []any{obj{"credential": []any{}}},
	}
	if d.ErrorExample != nil {
		doc["components"].(obj)["schemas"].(obj)["Error"] = schemaOf(gjson.ParseBytes(d.ErrorExample))
	}
	paths := obj{}
	for _, r := range d.Routes {
		p, params := openAPIPath(r)
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		method := strings.ToLower(r.Method)
		if _, dup := item[method]; dup {
			return nil, fmt.Errorf("dialect %s: two routes answer %s %s", d.Name, r.Method, p)
		}
		item[method] = operation(d, r, params)
	}
	doc["paths"] = paths
	return json.MarshalIndent(doc, "", "  ")
}

func title(d translate.DialectDescription) string {
	if d.Title != "" {
		return d.Title
	}
	return d.Name
}

// securityScheme is the dialect's credential: HTTP bearer when the token
// must follow "Bearer", else an API key in its header.
func securityScheme(c translate.Credential) obj {
	if strings.EqualFold(c.Header, "Authorization") && strings.EqualFold(c.Scheme, "bearer") && !c.SchemeOptional {
		return obj{"type": "http", "scheme": "bearer", "description": "A dragoman key."}
	}
	desc := "A dragoman key."
	if c.Scheme != "" {
		desc = fmt.Sprintf("A dragoman key, alone or after %q.", c.Scheme+" ")
	}
	return obj{"type": "apiKey", "in": "header", "name": c.Header, "description": desc}
}

// openAPIPath turns fiber's ":param" and trailing "*" into "{param}", and
// returns the parameters in order.
func openAPIPath(r translate.RouteDescription) (string, []string) {
	segs := strings.Split(r.Path, "/")
	var params []string
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			name := strings.TrimRight(s[1:], "?+")
			segs[i] = "{" + name + "}"
			params = append(params, name)
		case s == "*" && i == len(segs)-1:
			segs[i] = "{" + restParam + "}"
			params = append(params, restParam)
		}
	}
	return strings.Join(segs, "/"), params
}

func operation(d translate.DialectDescription, r translate.RouteDescription, pathParams []string) obj {
	op := obj{
		"operationId": d.Name + "." + r.Name,
		"summary":     fmt.Sprintf("%s (canonical operation %s, needs %s scope)", r.Name, r.Op, scopeOr(r.Scope)),
	}
	var params []any
	for _, p := range pathParams {
		desc := ""
		if p == restParam {
			// OpenAPI's path templates cannot match a '/': a client
			// generated from this document sends one segment.
			desc = "The rest of the path. The gateway also takes several segments ('folder/name'), which OpenAPI path templates cannot express."
		}
		params = append(params, parameter(p, "path", true, desc))
	}
	for _, q := range r.Query {
		params = append(params, parameter(q.Name, "query", q.Required, "Binds "+q.Target+"."))
	}
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, d.Credential.Header) {
			continue // the security scheme says it
		}
		params = append(params, parameter(h.Name, "header", h.Required, "Binds "+h.Target+"."))
	}
	params = append(params, obj{"name": "X-Request-Id", "in": "header", "required": false,
		"description": "Kept when 1-128 characters of [A-Za-z0-9._:-]; otherwise a new one is made.",
		"schema":      obj{"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}})
	op["parameters"] = params
	if body := requestBody(r); body != nil {
		op["requestBody"] = body
	}
	op["responses"] = responses(d, r)
	return op
}

func scopeOr(s string) string {
	if s == "" {
		return "read"
	}
	return s
}

func parameter(name, in string, required bool, desc string) obj {
	p := obj{"name": name, "in": in, "required": required, "schema": obj{"type": "string"}}
	if desc != "" {
		p["description"] = desc
	}
	return p
}

func requestBody(r translate.RouteDescription) obj {
	var media string
	var schema obj
	switch r.BodyKind {
	case "json":
		media, schema = "application/json", fieldsSchema(r.BodyFields, nil)
	case "multipart":
		file := r.FilePart
		if file == "" {
			file = "file"
		}
		media = "multipart/form-data"
		schema = fieldsSchema(r.BodyFields, obj{file: obj{"type": "string", "contentMediaType": "application/octet-stream"}})
		schema["required"] = appendUnique(schema["required"], file)
	case "raw":
		// The file's bytes, of its own type.
		media, schema = "*/*", obj{"type": "string"}
	default:
		return nil
	}
	body := obj{"required": true, "content": obj{media: obj{"schema": schema}}}
	if r.BodyMax > 0 {
		body["description"] = "At most " + strconv.FormatInt(r.BodyMax, 10) + " bytes; a larger body is refused before it is read."
	}
	return body
}

// fieldsSchema is an object with the bound fields; a dotted path
// (gjson's "a.b") becomes nested objects.
func fieldsSchema(fields []translate.Param, extra obj) obj {
	root := obj{"type": "object", "properties": obj{}}
	for k, v := range extra {
		root["properties"].(obj)[k] = v
	}
	for _, f := range fields {
		parts := strings.Split(f.Name, ".")
		node := root
		for i, part := range parts {
			props := node["properties"].(obj)
			if i == len(parts)-1 {
				if _, ok := props[part]; !ok {
					props[part] = obj{"description": "Binds " + f.Target + "."}
				}
				if f.Required {
					node["required"] = appendUnique(node["required"], part)
				}
				break
			}
			next, _ := props[part].(obj)
			if next == nil || next["properties"] == nil {
				next = obj{"type": "object", "properties": obj{}}
				props[part] = next
			}
			node = next
		}
	}
	return root
}

func appendUnique(list any, s string) []string {
	l, _ := list.([]string)
	for _, x := range l {
		if x == s {
			return l
		}
	}
	l = append(l, s)
	sort.Strings(l)
	return l
}

func responses(d translate.DialectDescription, r translate.RouteDescription) obj {
	out := obj{}
	ok := obj{"description": http.StatusText(r.Status), "headers": obj{"X-Request-Id": requestIDHeader()}}
	switch {
	case r.RawContent:
		// The file's own type.
		ok["content"] = obj{"*/*": obj{"schema": obj{"type": "string"}}}
	case r.ResponseExample != nil:
		media := "application/json"
		if mt, _, err := mime.ParseMediaType(r.ContentType); err == nil && mt != "" {
			media = mt
		}
		v := gjson.ParseBytes(r.ResponseExample)
		ok["content"] = obj{media: obj{"schema": schemaOf(v), "example": json.RawMessage(r.ResponseExample)}}
	}
	out[strconv.Itoa(r.Status)] = ok
	if r.RawContent {
		out["206"] = obj{"description": "Partial Content (a Range request)"}
		out["304"] = obj{"description": "Not Modified (If-None-Match)"}
	}
	if r.Redirect {
		out["307"] = obj{"description": "Temporary Redirect to a presigned URL of the bytes (when the gateway runs with --blobs-presign)",
			"headers": obj{"Location": obj{"schema": obj{"type": "string", "format": "uri"}}}}
	}
	// Every error status the dialect answers, with the kinds it means.
	kinds := map[int][]string{}
	for k, s := range d.ErrorStatus {
		kinds[s] = append(kinds[s], k)
	}
	for s, ks := range kinds {
		sort.Strings(ks)
		code := strconv.Itoa(s)
		if _, taken := out[code]; taken {
			continue
		}
		resp := obj{"description": "Error: " + strings.Join(ks, ", "), "headers": obj{"X-Request-Id": requestIDHeader()}}
		if d.ErrorHeader != "" {
			resp["headers"].(obj)[d.ErrorHeader] = obj{"description": "The error message.", "schema": obj{"type": "string"}}
		}
		if d.ErrorExample != nil {
			resp["content"] = obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/Error"}}}
		}
		out[code] = resp
	}
	return out
}

func requestIDHeader() obj {
	return obj{"description": "The request's id, as the access log has it.", "schema": obj{"type": "string"}}
}

// schemaOf is the JSON Schema of an example value: its types and keys.
// A template may render any value null when the attachment has none
// (null_if_empty, an unset field), so every leaf may be null; a null in
// the example is left open.
func schemaOf(v gjson.Result) obj {
	switch {
	case v.IsObject():
		props := obj{}
		v.ForEach(func(k, val gjson.Result) bool {
			props[k.String()] = schemaOf(val)
			return true
		})
		return obj{"type": "object", "properties": props}
	case v.IsArray():
		items := obj{}
		if a := v.Array(); len(a) > 0 {
			items = schemaOf(a[0])
		}
		return obj{"type": "array", "items": items}
	case v.Type == gjson.String:
		return obj{"type": []string{"string", "null"}}
	case v.Type == gjson.Number:
		if strings.ContainsAny(v.Raw, ".eE") {
			return obj{"type": []string{"number", "null"}}
		}
		return obj{"type": []string{"integer", "null"}}
	case v.IsBool():
		return obj{"type": []string{"boolean", "null"}}
	}
	return obj{}
}
